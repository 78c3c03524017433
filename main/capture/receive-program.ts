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
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureError } from './errors.js';
import { FramedProcess } from './framed-process.js';
import { FrameParser, type FrameSink } from './framing.js';

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
  /** The program's nice value: -10 when it could raise its priority (root or CAP_SYS_NICE), else inherited. */
  nice: number;
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
  private proc: FramedProcess | null = null;
  /** Resolves when the program has exited: null after a clean stop, else why it ended. */
  readonly exited: Promise<CaptureError | null>;
  private resolveExit!: (e: CaptureError | null) => void;

  constructor(readonly exec: string, readonly options: ReceiveProgramOptions, private readonly sink: ReceiveSink) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  /** Spawns the program; resolves once every port is bound, rejects with a CaptureError. */
  start(): Promise<ReceiveReady> {
    return new Promise((resolve, reject) => {
      const env = process.env.PATH ? { PATH: process.env.PATH } : {};
      const p = new FramedProcess('the receive program', this.exec, receiveProgramArgs(this.options), env, new FrameParser(), {
        packet: this.sink.packet,
        stats: this.sink.stats,
        ready: (obj) => {
          this.ready = obj as ReceiveReady;
          this.sink.onReady(this.ready);
          resolve(this.ready);
        },
      });
      this.proc = p;
      void p.closed.then(({ code, signal }) => {
        const f = p.failure(code, signal, ': the feed is no longer received');
        const err = f ? new CaptureError(f.code, f.message) : null;
        if (!this.ready) reject(err ?? new CaptureError('EHELPER', `the receive program ended before listening${p.stderr ? `: ${p.stderr.trim()}` : ''}`));
        this.resolveExit(err);
      });
    });
  }

  /** Asks the program to stop (it reads what the sockets hold first); resolves when it has exited. */
  stop(): Promise<CaptureError | null> {
    this.proc?.stop();
    return this.exited;
  }

  get pid(): number | null {
    return this.proc?.child.pid ?? null;
  }
}
