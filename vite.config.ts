import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The renderer: Svelte 5 + Chart.js, built into out/renderer. Relative asset paths so the
// same build loads from file:// (Electron) and from `tapscope serve` (browser mode).
export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [svelte()],
  build: {
    outDir: '../out/renderer',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // No inline scripts or module-preload polyfill: the CSP allows scripts from 'self' only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    // Svelte compilation is most of the build by design; no timing report in every build log.
    rolldownOptions: { checks: { pluginTimings: false } },
  },
});
