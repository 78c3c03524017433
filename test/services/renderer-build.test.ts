import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/captures';

/*
 * The built renderer obeys its CSP: the page carries the policy (Electron loads it from
 * file://, where no server sends headers), loads scripts only from files, and no source
 * inserts HTML (every packet string is rendered as text).
 */
const out = join(REPO_ROOT, 'out', 'renderer');

describe('renderer build', () => {
  it('index.html has the CSP and no inline script', (ctx) => {
    if (!existsSync(join(out, 'index.html'))) ctx.skip('the renderer is not built (npm run build)');
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/script-src[^;]*(unsafe|data:|\*)/);
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="/);
      expect(body.trim()).toBe('');
    }
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it('no component renders raw HTML', () => {
    const dir = join(REPO_ROOT, 'renderer', 'src');
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (/\.(svelte|ts)$/.test(e.name)) files.push(join(d, e.name));
      }
    };
    walk(dir);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const src = readFileSync(f, 'utf8');
      expect(src, f).not.toMatch(/\{@html|innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    }
  });
});
