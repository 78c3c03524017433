/*
 * A child process that writes the capture framing (framing.ts) on stdout — the capture
 * program or JavaScript helper (service.ts LiveCapture) and the cloud-TAP receive program
 * (receive-program.ts): spawns it, parses its stream into the sink, remembers its ERROR and
 * END, keeps the end of its stderr, and stops it ("stop" on stdin, then SIGTERM, then SIGKILL).
 *
 *   const p = new FramedProcess('the receive program', exec, args, env, parser, { packet, stats, ready });
 *   const { code, signal } = await p.closed;
 *   p.failure(code, signal)    // its own ERROR, or why it ended unexpectedly; null after a clean stop
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { MSG_END, MSG_ERROR, MSG_READY, type FrameParser, type FrameSink, type HelperError } from './framing.js';

const STOP_GRACE_MS = 5000;
const STDERR_KEEP = 8192;

export interface FramedSink extends Omit<FrameSink, 'control'> {
  /** The READY message; runs before the packets that follow it in the same chunk. */
  ready(obj: unknown): void;
}

export class FramedProcess {
  readonly child: ChildProcess;
  /** The program's ERROR message, a corrupt stream, or a spawn failure. */
  error: HelperError | null = null;
  gotEnd = false;
  stopping = false;
  stderr = '';
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private killTimer: NodeJS.Timeout | null = null;

  /** `what` names the process in messages ("the capture helper"). */
  constructor(readonly what: string, exec: string, args: string[], env: NodeJS.ProcessEnv, parser: FrameParser, sink: FramedSink) {
    const child = spawn(exec, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdin!.on('error', () => {});
    child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < STDERR_KEEP) this.stderr += d.toString('utf8');
    });
    const frames: FrameSink = {
      packet: sink.packet,
      stats: sink.stats,
      control: (type, obj) => {
        if (type === MSG_READY) sink.ready(obj);
        else if (type === MSG_ERROR) this.error = obj as HelperError;
        else if (type === MSG_END) this.gotEnd = true;
      },
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      parser.push(chunk, frames);
      if (parser.error && !this.error) {
        this.error = { code: 'EHELPER', message: parser.error };
        child.kill('SIGTERM');
      }
    });
    child.on('error', (e) => {
      this.error = { code: 'EHELPER', message: `cannot run ${what} (${exec}): ${e.message}` };
    });
    this.closed = new Promise((resolve) => child.on('close', (code, signal) => {
      if (this.killTimer) clearTimeout(this.killTimer);
      resolve({ code, signal });
    }));
  }

  /** Why it ended, once closed: its own error, else an exit nobody asked for (with the end of its stderr), else null. */
  failure(code: number | null, signal: NodeJS.Signals | null, consequence = ''): HelperError | null {
    if (this.error) return this.error;
    if (this.gotEnd || this.stopping) return null;
    const why = signal ? `was killed by ${signal}` : `exited with status ${code}`;
    return { code: 'EHELPER', message: `${this.what} ${why}${consequence}${this.stderr ? `: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}` };
  }

  /** Asks it to stop; SIGTERM after a grace period, SIGKILL 2 s later. */
  stop(): void {
    const c = this.child;
    if (this.stopping || c.exitCode !== null || c.signalCode !== null) return;
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

  /** Stops the kill timers (the caller has finished with it). */
  cancelKill(): void {
    if (this.killTimer) clearTimeout(this.killTimer);
  }
}
