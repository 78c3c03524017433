// Compiles the capture helper's small libpcap addon (main/capture/native/tapcap.c) into
// out/native/tapcap.node with the system C compiler. Node-API only, so the same binary
// loads in Node and Electron. Optional: without a compiler or libpcap headers it prints
// why and the helper uses the `cap` package instead (no kernel stats, delivery timestamps).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'main/capture/native/tapcap.c');
const out = join(root, 'out/native/tapcap.node');

export function buildTapcap() {
  if (process.platform === 'win32' || !existsSync(src)) return false;
  if (existsSync(out) && statSync(out).mtimeMs > statSync(src).mtimeMs) return true;
  const includes = [
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter((d) => existsSync(join(d, 'node_api.h')));
  if (includes.length === 0) {
    console.warn('tapcap: node_api.h not found; live capture will use the `cap` package');
    return false;
  }
  mkdirSync(dirname(out), { recursive: true });
  const cc = process.env.CC || 'cc';
  const args = ['-O2', '-shared', '-fPIC', '-Wall', `-I${includes[0]}`, src, '-o', out, '-lpcap'];
  if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
  const r = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    console.warn(`tapcap: could not compile (${(r.stderr || r.error?.message || '').trim().split('\n')[0]}); live capture will use the \`cap\` package`);
    return false;
  }
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildTapcap();
