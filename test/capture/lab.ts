/*
 * Test lab for live capture: network namespaces (prefix tsE, unique to these tests) joined by
 * veth pairs with offloads off, so what libpcap sees is what went on the wire. Every test
 * creates its own lab with a distinct id and removes it in afterAll.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { REPO_ROOT } from '../helpers/captures.js';
import { skipUnlessRequired } from '../helpers/privileged.js';

export const IS_ROOT = process.getuid?.() === 0;
export const CLI = join(REPO_ROOT, 'out', 'cli', 'tapscope.mjs');
export const HELPER = join(REPO_ROOT, 'out', 'cli', 'capture-helper.mjs');
/** The native capture program (main/capture/native/tapscope-capture.c). */
export const CAPTURE_PROGRAM = join(REPO_ROOT, 'out', 'native', 'tapscope-capture');

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Why live-capture tests cannot run here, or null. */
export function skipReason(tools: string[] = ['ip', 'tshark', 'tcpdump', 'ethtool', 'python3']): string | null {
  return skipUnlessRequired('live capture', liveCaptureProblem(tools));
}

function liveCaptureProblem(tools: string[]): string | null {
  if (process.platform !== 'linux') return 'live-capture tests need Linux network namespaces';
  if (!IS_ROOT) return 'live-capture tests need root (network namespaces, raw sockets); run them as root or in CI';
  for (const t of tools) if (!has(t)) return `${t} is not installed`;
  return null;
}

/** Builds out/ (helper, CLI, native addon and capture program) once per test file. */
export async function ensureBuilt(): Promise<void> {
  // Only the bundles these tests run (the full build also builds the renderer), with the
  // same settings as scripts/build.mjs.
  const banner = { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" };
  for (const [src, out] of [['main/cli/tapscope.ts', CLI], ['main/capture/helper.ts', HELPER]]) {
    buildSync({
      entryPoints: [join(REPO_ROOT, src)], outfile: out, bundle: true, platform: 'node', target: 'node20', format: 'esm',
      sourcemap: true, external: ['cap', 'ws', 'electron', 'bufferutil', 'utf-8-validate'], banner, logLevel: 'warning',
    });
  }
  // @ts-expect-error plain .mjs build script without types
  const { buildTapcap } = await import('../../scripts/build-tapcap.mjs');
  buildTapcap();
  if (!existsSync(HELPER) || !existsSync(CLI)) throw new Error('build did not produce the capture helper');
  // CI has cc and libpcap-dev: live-capture tests run through the capture program.
  if (!existsSync(CAPTURE_PROGRAM)) throw new Error('build did not produce the capture program out/native/tapscope-capture (cc and libpcap headers needed)');
}

export function sh(cmd: string, opts: { timeout?: number; ignoreError?: boolean } = {}): string {
  try {
    return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', timeout: opts.timeout ?? 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (opts.ignoreError) return (e as { stdout?: string }).stdout ?? '';
    throw new Error(`${cmd}: ${(e as { stderr?: string }).stderr ?? e}`);
  }
}

/**
 * argv for a Node process making n sequential HTTP GETs (a new connection each, bounded by a
 * per-request timeout); prints the number that returned 200 and exits 0 if all did.
 */
export function httpGets(url: string, n: number, timeoutMs: number): string[] {
  const js = `const http = require('node:http'); let ok = 0;
const one = (i) => { if (i >= ${n}) { console.log(ok); process.exit(ok === ${n} ? 0 : 1); }
  const req = http.get(${JSON.stringify(url)}, { agent: false, timeout: ${timeoutMs} }, (res) => {
    res.resume(); res.on('end', () => { if (res.statusCode === 200) ok++; one(i + 1); });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => one(i + 1)); };
one(0);`;
  return [process.execPath, '-e', js];
}

export class Lab {
  readonly a: string;
  readonly b: string;
  /** veth end in namespace a / b. */
  readonly va: string;
  readonly vb: string;
  readonly ipA: string;
  readonly ipB: string;
  readonly dir: string;
  private procs: ChildProcess[] = [];

  constructor(readonly id: number) {
    this.a = `tsE${id}a`;
    this.b = `tsE${id}b`;
    this.va = `tsE${id}va`;
    this.vb = `tsE${id}vb`;
    this.ipA = `10.231.${id}.1`;
    this.ipB = `10.231.${id}.2`;
    this.dir = mkdtempSync(join(tmpdir(), `tsE${id}-`));
  }

  up(): this {
    this.down();
    sh(`ip netns add ${this.a} && ip netns add ${this.b}`);
    sh(`ip link add ${this.va} netns ${this.a} type veth peer name ${this.vb} netns ${this.b}`);
    for (const [ns, dev, ip] of [[this.a, this.va, this.ipA], [this.b, this.vb, this.ipB]]) {
      sh(`ip -n ${ns} addr add ${ip}/24 dev ${dev} && ip -n ${ns} link set ${dev} up && ip -n ${ns} link set lo up`);
      sh(`ip netns exec ${ns} ethtool -K ${dev} tso off gso off gro off tx off rx off`, { ignoreError: true });
    }
    return this;
  }

  /** Runs a command in a namespace. */
  exec(ns: string, cmd: string, timeout = 30_000): string {
    return sh(`ip netns exec ${ns} ${cmd}`, { timeout });
  }

  /** Starts a long-running process in a namespace; killed in down(). */
  spawn(ns: string, argv: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.procs.push(p);
    return p;
  }

  /** A static HTTP server on ipB:port serving `files` (name -> size in bytes). */
  httpServer(port: number, files: Record<string, number>): ChildProcess {
    const root = join(this.dir, 'www');
    sh(`mkdir -p ${root}`);
    for (const [name, size] of Object.entries(files)) {
      writeFileSync(join(root, name), Buffer.alloc(size, name));
    }
    const p = this.spawn(this.b, ['python3', '-m', 'http.server', String(port), '--bind', this.ipB, '--directory', root]);
    // wait until it answers (bounded)
    for (let i = 0; i < 50; i++) {
      const r = spawnSync('ip', ['netns', 'exec', this.a, ...httpGets(`http://${this.ipB}:${port}/`, 1, 1000)]);
      if (r.status === 0) return p;
      spawnSync('sleep', ['0.1']);
    }
    throw new Error('HTTP server did not start');
  }

  /** n sequential downloads (one connection each) from namespace a; returns how many succeeded. */
  fetch(port: number, name: string, n: number): number {
    const r = spawnSync('ip', ['netns', 'exec', this.a, ...httpGets(`http://${this.ipB}:${port}/${name}`, n, 15_000)], { encoding: 'utf8', timeout: 120_000 });
    return Number(r.stdout.trim()) || 0;
  }

  down(): void {
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    this.procs = [];
    sh(`ip netns del ${this.a}`, { ignoreError: true });
    sh(`ip netns del ${this.b}`, { ignoreError: true });
  }

  cleanup(): void {
    this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits for a child's stream to print something matching `re` (bounded). */
export function waitFor(stream: NodeJS.ReadableStream, re: RegExp, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const t = setTimeout(() => {
      stream.off('data', on);
      reject(new Error(`timed out waiting for ${re} in: ${text.slice(-500)}`));
    }, ms);
    const on = (d: Buffer) => {
      text += d.toString();
      const m = re.exec(text);
      if (m) {
        clearTimeout(t);
        stream.off('data', on);
        resolve(text);
      }
    };
    stream.on('data', on);
  });
}

/** Ends a child with a signal and waits for it (bounded); resolves with its stderr. */
export function stopChild(p: ChildProcess, signal: NodeJS.Signals = 'SIGINT', ms = 10_000): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    let stdout = '';
    p.stderr?.on('data', (d: Buffer) => (stderr += d));
    p.stdout?.on('data', (d: Buffer) => (stdout += d));
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stderr, stdout });
    });
    if (p.exitCode === null && p.signalCode === null) p.kill(signal);
  });
}

/** tcpdump's closing statistics. */
export function tcpdumpStats(stderr: string): { captured: number; received: number; dropped: number } {
  const n = (re: RegExp) => Number(re.exec(stderr)?.[1] ?? NaN);
  return { captured: n(/(\d+) packets? captured/), received: n(/(\d+) packets? received by filter/), dropped: n(/(\d+) packets? dropped by kernel/) };
}

/** Packets in a capture file according to tshark (the file must be readable). */
export function tsharkCount(file: string): number {
  const out = execFileSync('tshark', ['-r', file, '-n', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').filter((l) => l.trim()).length;
}
