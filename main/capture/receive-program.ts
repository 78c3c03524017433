/*
 * Runs the cloud-TAP receive program (native/tapscope-receive.c: recvmmsg batches, kernel
 * timestamps, a bounded queue, drop counters) and turns its framed output (framing.ts) into
 * packets and counters for UdpTapReceiver. The program reads the sockets in a process of its
 * own, so the analysis on this side never holds the receive path back; what it cannot queue
 * it counts as app drops.
 *
 *   const p = receiveProgram();                     // path, or null: use Node's dgram sockets
 *   const rp = new ReceiveProgram(p, { ports: [4789], address, receiveBufferSize, queueBytes, snaplen },
 *                                 { onReady, packet, stats });
 *   const ready = await rp.start();                 // bound ports, the socket buffer obtained
 *   await rp.stop();                                // resolves with the program's error or null
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureError } from './errors.js';
import { FrameParser, MSG_END, MSG_ERROR, MSG_READY, type FrameSink, type HelperError } from './framing.js';

export interface ReceiveReady {
  backend: 'tapscope-receive';
  address: string;
  ports: number[];
  /** SO_RCVBUF as the kernel reports it after the request (it doubles what it grants for its bookkeeping). */
  receiveBuffer: number;
  /** SO_RCVBUFFORCE succeeded (root / CAP_NET_ADMIN): not capped at net.core.rmem_max. */
  receiveBufferForced: boolean;
  batch: number;
  queueBytes: number;
  snaplen: number;
}

export interface ReceiveProgramOptions {
  ports: number[];
  address: string;
  receiveBufferSize: number;
  queueBytes?: number;
  snaplen?: number;
  statsIntervalMs?: number;
}

/** Where the program's output goes; onReady runs before the first packet is delivered. */
export interface ReceiveSink extends Omit<FrameSink, 'control'> {
  onReady(ready: ReceiveReady): void;
}

const STOP_GRACE_MS = 5000;
const STDERR_KEEP = 4096;

function moduleDir(): string {
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    return typeof __dirname === 'string' ? __dirname : process.cwd();
  }
}

/**
 * The receive program: TAPSCOPE_RECEIVE_EXEC, else out/native/tapscope-receive beside the
 * bundles or the sources; null (Node's dgram sockets) when it is not there (not built) or
 * TAPSCOPE_RECEIVER_BACKEND=dgram.
 */
export function receiveProgram(): string | null {
  if (process.env.TAPSCOPE_RECEIVER_BACKEND === 'dgram' || process.platform !== 'linux') return null;
  const named = process.env.TAPSCOPE_RECEIVE_EXEC;
  if (named) return existsSync(named) ? named : null;
  const d = moduleDir();
  for (const c of [join(d, '..', 'native', 'tapscope-receive'), join(d, '..', '..', 'out', 'native', 'tapscope-receive')]) {
    const p = c.replace(/app\.asar([\\/])/, 'app.asar.unpacked$1');
    if (existsSync(p)) return p;
  }
  return null;
}

export function receiveProgramArgs(o: ReceiveProgramOptions): string[] {
  const a = ['-a', o.address, '-b', String(Math.trunc(o.receiveBufferSize))];
  for (const p of o.ports) a.push('-u', String(p));
  if (o.queueBytes) a.push('-q', String(Math.trunc(o.queueBytes)));
  if (o.snaplen) a.push('-s', String(Math.trunc(o.snaplen)));
  if (o.statsIntervalMs) a.push('-t', String(Math.trunc(o.statsIntervalMs)));
  return a;
}

export class ReceiveProgram {
  ready: ReceiveReady | null = null;
  private child: ChildProcess | null = null;
  private error: HelperError | null = null;
  private gotEnd = false;
  private stopping = false;
  private stderr = '';
  private killTimer: NodeJS.Timeout | null = null;
  /** Resolves when the program has exited: null after a clean stop, else why it ended. */
  readonly exited: Promise<CaptureError | null>;
  private resolveExit!: (e: CaptureError | null) => void;

  constructor(readonly exec: string, readonly options: ReceiveProgramOptions, private readonly sink: ReceiveSink) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  /** Spawns the program; resolves once every port is bound, rejects with a CaptureError. */
  start(): Promise<ReceiveReady> {
    return new Promise((resolve, reject) => {
      const parser = new FrameParser();
      const child = spawn(this.exec, receiveProgramArgs(this.options), { stdio: ['pipe', 'pipe', 'pipe'], env: process.env.PATH ? { PATH: process.env.PATH } : {} });
      this.child = child;
      child.stdin!.on('error', () => {});
      child.stderr!.on('data', (d: Buffer) => {
        if (this.stderr.length < STDERR_KEEP) this.stderr += d.toString('utf8');
      });
      child.stdout!.on('data', (chunk: Buffer) => {
        parser.push(chunk, {
          packet: this.sink.packet,
          stats: this.sink.stats,
          control: (type, obj) => {
            if (type === MSG_READY) {
              this.ready = obj as ReceiveReady;
              this.sink.onReady(this.ready);
              resolve(this.ready);
            } else if (type === MSG_ERROR) {
              this.error = obj as HelperError;
            } else if (type === MSG_END) {
              this.gotEnd = true;
            }
          },
        });
        if (parser.error && !this.error) {
          this.error = { code: 'EHELPER', message: parser.error };
          child.kill('SIGTERM');
        }
      });
      child.on('error', (e) => {
        this.error = { code: 'EHELPER', message: `cannot run the receive program (${this.exec}): ${e.message}` };
      });
      child.on('close', (code, signal) => {
        if (this.killTimer) clearTimeout(this.killTimer);
        let err: CaptureError | null = null;
        if (this.error) err = new CaptureError(this.error.code, this.error.message);
        else if (!this.gotEnd && !this.stopping) {
          const why = signal ? `was killed by ${signal}` : `exited with status ${code}`;
          err = new CaptureError('EHELPER', `the receive program ${why}: the feed is no longer received${this.stderr ? ` (${this.stderr.trim().split('\n').slice(-2).join(' | ')})` : ''}`);
        }
        if (!this.ready) reject(err ?? new CaptureError('EHELPER', `the receive program ended before listening${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
        this.resolveExit(err);
      });
    });
  }

  /** Asks the program to stop (it reads what the sockets hold first); resolves when it has exited. */
  stop(): Promise<CaptureError | null> {
    const c = this.child;
    if (!this.stopping && c && c.exitCode === null && c.signalCode === null) {
      this.stopping = true;
      try {
        c.stdin!.end('stop\n');
      } catch {
        // already closed
      }
      this.killTimer = setTimeout(() => {
        c.kill('SIGTERM');
        this.killTimer = setTimeout(() => c.kill('SIGKILL'), 2000);
      }, STOP_GRACE_MS);
    }
    return this.exited;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }
}
