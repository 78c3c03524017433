// Compiles the native capture code with the system C compiler (optional: without a compiler
// or libpcap headers it prints why, and live capture falls back to the `cap` package):
//   out/native/tapscope-capture  the single-purpose capture program, the only file that
//                                should hold capture capabilities (docs/security.md)
//   out/native/tapcap.node       the Node-API addon the JavaScript helper uses when the
//                                program is not there (Node-API only: loads in Node and Electron)
//   out/native/tapscope-receive  the cloud-TAP receive program (recvmmsg; no libpcap, no
//                                privileges); without it `listen` uses Node's dgram sockets
// Both are built from main/capture/native/capcore.c (the shared libpcap code).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const native = join(root, 'main/capture/native');
const core = [join(native, 'capcore.c'), join(native, 'capcore.h'), join(native, 'frame-msg.h'), join(native, 'args.h'), join(native, 'run-control.h')];
export const CAPTURE_BINARY = join(root, 'out/native/tapscope-capture');
const addon = join(root, 'out/native/tapcap.node');

function fresh(out, sources) {
  if (!existsSync(out)) return false;
  const t = statSync(out).mtimeMs;
  return sources.every((s) => statSync(s).mtimeMs < t);
}

function compile(what, out, args, fallback = 'live capture will use the `cap` package') {
  mkdirSync(dirname(out), { recursive: true });
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || '').trim().split('\n')[0] || `${cc} exited with status ${r.status}`;
    console.warn(`${what}: could not compile (${why}); ${fallback}`);
    return false;
  }
  return true;
}

/** The capture program; true when out/native/tapscope-capture is there and up to date. */
export function buildCaptureBinary() {
  const src = join(native, 'tapscope-capture.c');
  if (process.platform === 'win32' || !existsSync(src)) return false;
  if (fresh(CAPTURE_BINARY, [src, ...core])) return true;
  return compile('tapscope-capture', CAPTURE_BINARY, ['-O2', '-Wall', '-Wextra', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fPIE', '-pie', src, core[0], '-o', CAPTURE_BINARY, '-lpcap']);
}

export const RECEIVE_BINARY = join(root, 'out/native/tapscope-receive');

/** The cloud-TAP receive program (Linux: recvmmsg); true when it is there and up to date. A
 * compile failure only warns: `listen` then receives with Node's dgram sockets. */
export function buildReceiveBinary(out = RECEIVE_BINARY) {
  const src = join(native, 'tapscope-receive.c');
  if (process.platform !== 'linux' || !existsSync(src)) return false;
  if (fresh(out, [src, join(native, 'frame-msg.h'), join(native, 'args.h'), join(native, 'run-control.h')])) return true;
  return compile('tapscope-receive', out, ['-O2', '-Wall', '-Wextra', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fPIE', '-pie', src, '-o', out],
    'tapscope listen will receive with Node\'s dgram sockets (slower: no batching, drops above some 50,000 datagrams/s)');
}

/** The addon, and the capture and receive programs beside it. */
export function buildTapcap() {
  buildReceiveBinary();
  const binary = buildCaptureBinary();
  const src = join(native, 'tapcap.c');
  if (process.platform === 'win32' || !existsSync(src)) return false;
  if (fresh(addon, [src, ...core])) return true;
  const includes = [
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter((d) => existsSync(join(d, 'node_api.h')));
  if (includes.length === 0) {
    console.warn('tapcap: node_api.h not found; the JavaScript helper will use the `cap` package');
    return binary;
  }
  const args = ['-O2', '-shared', '-fPIC', '-Wall', `-I${includes[0]}`, src, core[0], '-o', addon, '-lpcap'];
  if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
  return compile('tapcap', addon, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildTapcap();
