/*
 * What the ngtcp2 QUIC tests (test/analysis/quic-ngtcp2, quic-ngtcp2-resume, quic-migration)
 * share: a network namespace of the test's own (its loopback only), a folder with a
 * self-signed certificate for localhost and an htdocs/ for Debian's gtlsserver, the processes
 * started inside the namespace, gtlsclient runs, and the tear-down that kills what is left,
 * deletes the namespace and removes the folder. Each test names its own namespace and keeps
 * its own skip wrapper around ngtcp2SkipReason().
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs a command to completion (20 s at most) and returns its stdout; throws if it fails. */
export const runTool = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });

/**
 * Why ngtcp2 traffic in a network namespace cannot be made here (null: it can): Linux, root and
 * the tools (ip, tcpdump, openssl, gtlsserver, gtlsclient, tshark; iptables too when asked).
 */
export function ngtcp2SkipReason(opts: { iptables?: boolean } = {}): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return `needs root (ip netns, ${opts.iptables ? 'iptables, ' : ''}tcpdump)`;
  for (const tool of ['ip', ...(opts.iptables ? ['iptables'] : []), 'tcpdump', 'openssl', 'gtlsserver', 'gtlsclient', 'tshark']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return null;
}

/** Polls cond every 50 ms until it holds or ms have passed. */
export async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  for (const t0 = Date.now(); !cond() && Date.now() - t0 < ms;) await new Promise((r) => setTimeout(r, 50));
}

export const hasExited = (p: ChildProcess): boolean => p.exitCode !== null || p.signalCode !== null;

/** One test's namespace and folder; setUp() in beforeAll, tearDown() in afterAll. */
export class Ngtcp2Lab {
  /** The test's folder ('' before setUp): key.pem, cert.pem, htdocs/, and what the test writes. */
  dir = '';
  /** The processes start() launched, which tearDown() kills if they are still running. */
  readonly procs: ChildProcess[] = [];
  private nsMade = false;

  constructor(readonly ns: string) {}

  get key(): string { return join(this.dir, 'key.pem'); }
  get cert(): string { return join(this.dir, 'cert.pem'); }
  get htdocs(): string { return join(this.dir, 'htdocs'); }

  /** `ip` arguments that run args inside the namespace. */
  inNs(args: string[]): string[] {
    return ['netns', 'exec', this.ns, ...args];
  }

  /** Runs args inside the namespace to completion (as runTool). */
  runInNs(args: string[]): string {
    return runTool('ip', this.inNs(args));
  }

  /**
   * Makes the folder (tmpdir, named from dirPrefix) with a P-256 certificate for CN=localhost
   * and an empty htdocs/, then the namespace with its loopback up.
   */
  setUp(dirPrefix: string): void {
    this.dir = mkdtempSync(join(tmpdir(), dirPrefix));
    runTool('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', this.key, '-out', this.cert, '-days', '2', '-subj', '/CN=localhost']);
    mkdirSync(this.htdocs);
    runTool('ip', ['netns', 'add', this.ns]);
    this.nsMade = true;
    this.runInNs(['ip', 'link', 'set', 'lo', 'up']);
  }

  /** Starts args inside the namespace (kept in procs); out() is what it printed so far (stdout and stderr). */
  start(args: string[], env: NodeJS.ProcessEnv = process.env): { p: ChildProcess; out: () => string } {
    const p = spawn('ip', this.inNs(args), { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    p.stdout!.on('data', (d) => { out += d; });
    p.stderr!.on('data', (d) => { out += d; });
    this.procs.push(p);
    return { p, out: () => out };
  }

  /**
   * Runs gtlsclient inside the namespace to completion (10 s at most, 1 s handshake timeout,
   * exits once its streams close), its TLS secrets added to keyLog; resolves with what it printed.
   */
  runClient(opts: { ip: string; port: number; uris: string[]; extra?: string[]; keyLog: string }): Promise<string> {
    return new Promise((resolve) => {
      const args = ['timeout', '10', 'gtlsclient', '--exit-on-all-streams-close', '--handshake-timeout=1s', ...(opts.extra ?? []), opts.ip, String(opts.port), ...opts.uris];
      const p = spawn('ip', this.inNs(args), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SSLKEYLOGFILE: opts.keyLog } });
      let out = '';
      p.stdout!.on('data', (d) => { out += d; });
      p.stderr!.on('data', (d) => { out += d; });
      p.on('exit', () => resolve(out));
    });
  }

  /** Kills what start() launched and is still running, deletes the namespace, removes the folder. */
  tearDown(): void {
    for (const p of this.procs) if (!hasExited(p)) p.kill('SIGKILL');
    if (this.nsMade) {
      try {
        runTool('ip', ['netns', 'del', this.ns]);
      } catch {
        // already gone
      }
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
