import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from './captures.js';

/**
 * The tapscope CLI bundled as scripts/build.mjs bundles it (with its worker app-stage-worker.mjs),
 * into out/<tag>-<pid>/tapscope.mjs,
 * for tests that run it as a child process the way users do. Returns the folder (remove it
 * after the tests) and the bundle's path.
 */
export async function bundleCli(tag: string): Promise<{ dir: string; cli: string }> {
  const dir = join(REPO_ROOT, 'out', `${tag}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const cli = join(dir, 'tapscope.mjs');
  // The CLI and, beside it as in out/cli, the split analysis's application thread.
  const entries: [string, string][] = [['main/cli/tapscope.ts', cli], ['main/engine/app-stage-worker.ts', join(dir, 'app-stage-worker.mjs')]];
  await Promise.all(entries.map(([entry, outfile]) => build({
    entryPoints: [join(REPO_ROOT, entry)], outfile, bundle: true, platform: 'node', target: 'node20', format: 'esm',
    external: ['cap', 'ws', 'electron', 'bufferutil', 'utf-8-validate'], logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  })));
  return { dir, cli };
}
