// Builds everything that runs: the engine/CLI bundles (esbuild), Electron main and
// preload (CommonJS, as Electron loads them), and the renderer (Vite) when present.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const external = ['cap', 'ws', 'electron', 'bufferutil', 'utf-8-validate'];
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, external, logLevel: 'warning' };
const banner = { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" };

const esmEntries = [
  ['main/cli/tapscope.ts', 'out/cli/tapscope.mjs'],
  ['main/engine/analyze-worker.ts', 'out/cli/analyze-worker.mjs'],
  ['main/engine/app-stage-worker.ts', 'out/cli/app-stage-worker.mjs'],
  ['main/capture/helper.ts', 'out/cli/capture-helper.mjs'],
].filter(([src]) => existsSync(src));

await Promise.all(esmEntries.map(([entryPoint, outfile]) =>
  build({ ...common, entryPoints: [entryPoint], outfile, format: 'esm', banner })));

// The capture program tapscope-capture and the helper's libpcap addon (optional; see scripts/build-tapcap.mjs).
(await import('./build-tapcap.mjs')).buildTapcap();

const cjsEntries = [
  ['main/app.ts', 'out/main/app.cjs'],
  ['preload/index.ts', 'out/preload/index.cjs'],
].filter(([src]) => existsSync(src));
await Promise.all(cjsEntries.map(([entryPoint, outfile]) =>
  build({ ...common, entryPoints: [entryPoint], outfile, format: 'cjs' })));

if (existsSync('renderer/index.html') && existsSync('vite.config.ts')) {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
