/*
 * CaptureService: live capture for the app, the CLI and browser mode. No electron import.
 *
 * API (all a UI needs):
 *   const svc = new CaptureService();
 *   svc.listInterfaces(): CaptureDevice[]              names, addresses, up/loopback, link type,
 *                                                      virtual-switch role (bridge, port of br0, tap, veth, vxlan)
 *   await svc.validateFilter('tcp port 80', linkType?) -> null | "syntax error ..."  (no privileges needed)
 *   const cap = await svc.start({ device: 'eth0', filter, snaplen, promisc, bufferSize,
 *                                 stop: { durationSec, packets, bytes }, ring: { files, fileMB },
 *                                 output?: path, keepIndex: true })
 *                                                      rejects with CaptureError { code, summary, remedy }
 *                                                      (EPERM with the OS remedy, ENODEV, EFILTER, ...)
 *   const tap = await svc.listen({ vxlan: [4789], geneve: [6081], tzsp: [37008], save: 'inner'|'received' })
 *   cap.onDelta(d => ...)   a few times a second: d.counters { packets, bytes, received, droppedByKernel,
 *                           droppedByInterface, droppedByApp, savedPackets, savedBytes, files, elapsedSec, pps, bps },
 *                           d.newPackets, d.connections
 *   cap.session             the AnalysisSession being fed (the same analysers as for files)
 *   cap.onEnd(e => ...)     once: e.reason 'stopped'|'duration'|'packets'|'bytes'|'error', e.error, e.counters
 *   await cap.stop()        -> CaptureEnd; the spool file is complete and readable
 *   svc.findUnfinished()    captures a crash left behind (offer to open them); svc.dismissUnfinished(u)
 *   liveWorkerMessages(cap, post)   (live-batches.ts) the capture as the file-analysis worker's
 *                           opened/batch/done messages, for SessionData.apply
 *   startLiveWorker({ mode: 'capture'|'listen', options }, onMessage)   (live-worker.ts) the same
 *                           capture run in a worker thread (analysis off the UI's main thread):
 *                           started, opened/batch/done, delta, end | start-failed; handle.stop()
 *
 * The capture itself runs in a separate process that writes framing.ts's messages:
 *   the capture program out/native/tapscope-capture (native/tapscope-capture.c: libpcap only,
 *   the one file that should hold the capture capabilities, docs/security.md), found as
 *   TAPSCOPE_CAPTURE_EXEC (a file named tapscope-capture*), else INSTALLED_CAPTURE_PROGRAM
 *   (the copy the README's remedy installs), else the one built beside the bundles;
 *   or, without it (no C compiler at build time, TAPSCOPE_CAPTURE_BACKEND=tapcap|cap), the
 *   JavaScript helper (helper.ts) run by this runtime — or by TAPSCOPE_CAPTURE_EXEC naming
 *   another runtime — as  EXEC out/cli/capture-helper.mjs  (ELECTRON_RUN_AS_NODE=1 under
 *   Electron; the packaged app's fuses turn that off, so there the program is required).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameParser, type HelperReady } from './framing.js';
import { FramedProcess } from './framed-process.js';
import { CaptureError, captureErrorFrom, INSTALLED_PROGRAM, type CaptureTarget } from './errors.js';
import { listInterfaces, type CaptureDevice } from './interfaces.js';
import {
  defaultSpoolDir, dismissUnfinishedCapture, findUnfinishedCaptures, type CaptureEnd, type SinkOptions, type UnfinishedCapture,
} from './live-sink.js';
import { UdpTapReceiver, type ListenOptions } from './udp-receiver.js';
import { LiveSourceBase, type LiveSource } from './live-source.js';

export { CaptureError } from './errors.js';
export type { CaptureDevice, VirtualRole } from './interfaces.js';
export type { CaptureCounters, CaptureDelta, CaptureEnd, UnfinishedCapture, StopConditions, RingOptions } from './live-sink.js';
export type { ListenOptions } from './udp-receiver.js';
export { liveWorkerMessages } from './live-batches.js';

export interface CaptureOptions extends SinkOptions {
  device: string;
  /** BPF (pcap-filter) expression. */
  filter?: string;
  /** Bytes kept of each packet (default 262144). */
  snaplen?: number;
  /** Default true. */
  promisc?: boolean;
  /** Kernel capture buffer in bytes (default 4 MiB). */
  bufferSize?: number;
  /** Wraps the helper command, e.g. to run it through pkexec or, in tests, with capabilities dropped. */
  wrap?: (cmd: string, args: string[]) => [string, string[]];
}

export type { LiveSource } from './live-source.js';

function moduleDir(): string {
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    return typeof __dirname === 'string' ? __dirname : process.cwd();
  }
}

/** The helper script: beside the CLI bundle, under out/cli from Electron's out/main, or built from the sources. */
export function helperScript(): string {
  if (process.env.TAPSCOPE_CAPTURE_HELPER_PATH) return process.env.TAPSCOPE_CAPTURE_HELPER_PATH;
  const d = moduleDir();
  const candidates = [join(d, 'capture-helper.mjs'), join(d, '..', 'cli', 'capture-helper.mjs'), join(d, '..', '..', 'out', 'cli', 'capture-helper.mjs')];
  const found = candidates.find((p) => existsSync(p)) ?? candidates[candidates.length - 1];
  // Packaged app: the helper is unpacked from the asar (electron-builder.yml), so that a plain
  // Node runtime holding the capture capabilities (TAPSCOPE_CAPTURE_EXEC) can run it too.
  const unpacked = found.replace(/app\.asar([\\/])/, 'app.asar.unpacked$1');
  return unpacked !== found && existsSync(unpacked) ? unpacked : found;
}

/** Where the README's remedy installs the capture program (mode 0750, group pcap, capabilities). */
export const INSTALLED_CAPTURE_PROGRAM = INSTALLED_PROGRAM;

/** The capture program built beside the bundles (out/native; unpacked from the asar in the package). */
export function bundledCaptureProgram(): string | null {
  if (process.platform === 'win32') return null;
  const d = moduleDir();
  for (const c of [join(d, '..', 'native', 'tapscope-capture'), join(d, '..', '..', 'out', 'native', 'tapscope-capture')]) {
    const p = c.replace(/app\.asar([\\/])/, 'app.asar.unpacked$1');
    if (existsSync(p)) return p;
  }
  return null;
}

export const isCaptureProgram = (exec: string): boolean => /^tapscope-capture/.test(basename(exec));

export interface HelperCommand {
  /** 'program': the native capture program; 'script': the JavaScript helper run by a runtime. */
  kind: 'program' | 'script';
  exec: string;
  /** Arguments before the mode's own (the helper script for 'script'). */
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** How to run the capture: the program when there is one, else the JavaScript helper. */
export function helperCommand(): HelperCommand {
  const named = process.env.TAPSCOPE_CAPTURE_EXEC || null;
  const backend = process.env.TAPSCOPE_CAPTURE_BACKEND;
  if (named && isCaptureProgram(named)) return programCommand(named);
  if (!named && backend !== 'tapcap' && backend !== 'cap') {
    const program = existsSync(INSTALLED_CAPTURE_PROGRAM) ? INSTALLED_CAPTURE_PROGRAM : bundledCaptureProgram();
    if (program) return programCommand(program);
  }
  const env = { ...process.env };
  if (process.versions.electron) env.ELECTRON_RUN_AS_NODE = '1';
  // TAPSCOPE_CAPTURE_EXEC naming a runtime: a copy holding the capture capabilities (the older set-up).
  return { kind: 'script', exec: named || process.execPath, args: [helperScript()], env };
}

/**
 * Why the JavaScript helper cannot run here, or null: in the packaged app the runAsNode fuse
 * is off (electron-builder.yml), so the Electron binary cannot run a script; the package
 * must carry the capture program (or TAPSCOPE_CAPTURE_EXEC name one, or a Node runtime).
 */
export function scriptHelperUnusable(cmd: HelperCommand): string | null {
  if (cmd.kind !== 'script' || !process.versions.electron || cmd.exec !== process.execPath) return null;
  if (!/app\.asar/.test(moduleDir())) return null;
  return 'this package has no capture program (resources/app.asar.unpacked/out/native/tapscope-capture), and the app binary does not run scripts (runAsNode fuse off); install a build that has it, or set TAPSCOPE_CAPTURE_EXEC';
}

function programCommand(exec: string): HelperCommand {
  // The program needs nothing from the environment; PATH only for wrappers (capsh, setpriv).
  return { kind: 'program', exec, args: [], env: process.env.PATH ? { PATH: process.env.PATH } : {} };
}

/** The capture program's arguments for a capture (the same options the helper takes as JSON). */
export function programCaptureArgs(o: { device: string; filter?: string; snaplen?: number; promisc?: boolean; bufferSize?: number }): string[] {
  const a = ['-i', o.device];
  if (o.filter) a.push('-f', o.filter);
  if (o.snaplen) a.push('-s', String(Math.trunc(o.snaplen)));
  if (o.bufferSize) a.push('-B', String(Math.trunc(o.bufferSize)));
  if (o.promisc === false) a.push('-p');
  return a;
}

/** What the permission remedy should install: this capture program, or (without one) a runtime. */
function remedyFor(cmd: HelperCommand): CaptureTarget {
  if (cmd.kind === 'program') return { kind: 'program', source: cmd.exec };
  return { kind: 'runtime', source: process.versions.electron && !process.env.TAPSCOPE_CAPTURE_EXEC ? null : cmd.exec };
}

export class LiveCapture extends LiveSourceBase {
  ready: HelperReady | null = null;
  private proc: FramedProcess | null = null;

  constructor(readonly options: CaptureOptions) {
    super({ ...options, label: options.label ?? options.device });
  }

  /** The helper's process (the bench reads its CPU time). */
  get child(): ChildProcess | null {
    return this.proc?.child ?? null;
  }

  /** Spawns the helper; resolves once the interface is open and capturing. */
  start(): Promise<void> {
    const o = this.options;
    const cmd = helperCommand();
    const helperOpts = { device: o.device, filter: o.filter ?? '', snaplen: o.snaplen, promisc: o.promisc, bufferSize: o.bufferSize };
    let [exec, args] = cmd.kind === 'program'
      ? [cmd.exec, programCaptureArgs(helperOpts)]
      : [cmd.exec, [...cmd.args, 'capture', JSON.stringify(helperOpts)]];
    if (o.wrap) [exec, args] = o.wrap(exec, args);
    const unusable = scriptHelperUnusable(cmd);
    if (unusable) {
      const err = new CaptureError('EHELPER', unusable);
      this.finalize('error', err);
      return Promise.reject(err);
    }
    if (cmd.kind === 'script' && !existsSync(cmd.args[0])) {
      const err = new CaptureError('EHELPER', `the capture helper ${cmd.args[0]} is missing: build it with \`npm run build\``);
      this.finalize('error', err);
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      let started = false;
      const parser = new FrameParser();
      const sink = this.sink;
      let ifaceId = 0;
      let cap = true;
      const p = new FramedProcess('the capture helper', exec, args, cmd.env, parser, {
        packet: (r) => {
          r.interfaceId = ifaceId;
          sink.packet(r);
        },
        stats: (s) => {
          sink.setKernelStats(cap ? null : s.received, cap ? null : s.droppedByKernel, cap ? null : s.droppedByInterface, s.droppedByApp);
        },
        ready: (obj) => {
          this.ready = obj as HelperReady;
          cap = this.ready.backend === 'cap';
          parser.linkType = this.ready.linkType;
          ifaceId = sink.addInterface({
            linkType: this.ready.linkType,
            snaplen: this.ready.snaplen,
            name: o.device,
            description: o.filter ? `capture filter: ${o.filter}` : null,
            tsUnitsPerSec: this.ready.nanoTs ? 1e9 : 1e6,
          });
          started = true;
          resolve();
        },
      });
      this.proc = p;
      void p.closed.then(({ code, signal }) => {
        const f = p.failure(code, signal);
        const err = !f ? null
          : f.code === 'EHELPER' ? new CaptureError('EHELPER', f.message)
            : captureErrorFrom(f.code, f.message, o.device, remedyFor(cmd));
        this.finalize(err ? 'error' : 'stopped', err);
        if (!started) reject(err ?? new CaptureError('EHELPER', `the capture helper ended before capturing${p.stderr ? `: ${p.stderr.trim()}` : ''}`));
      });
    });
  }

  private finalize(reason: CaptureEnd['reason'], err: CaptureError | null): CaptureEnd {
    if (this.result) return this.result;
    this.proc?.cancelKill();
    const e = this.sink.finish(reason, err ? { code: err.code, message: err.summary, remedy: err.remedy ?? undefined } : null);
    // A capture that never started leaves no empty spool behind.
    if (!this.ready && e.counters.savedPackets === 0) {
      for (const f of e.counters.files) try { unlinkSync(f); } catch { /* gone */ }
      e.counters.files = [];
    }
    return this.settle(e);
  }

  /** Stops the capture; resolves when the helper has ended and the spool file is closed. */
  stop(): Promise<CaptureEnd> {
    this.proc?.stop();
    return this.ended;
  }
}

export class CaptureService {
  private readonly live = new Set<LiveSource>();

  listInterfaces(): CaptureDevice[] {
    return listInterfaces();
  }

  /** null when the filter compiles for the link type (default Ethernet), else libpcap's message. */
  validateFilter(filter: string, linkType = 1): Promise<string | null> {
    if (!filter.trim()) return Promise.resolve(null);
    const cmd = helperCommand();
    if (scriptHelperUnusable(cmd)) return Promise.resolve(null); // the capture itself says why
    return new Promise((resolve) => {
      const args = cmd.kind === 'program'
        ? ['-c', filter, '-l', String(linkType)]
        : [...cmd.args, 'check-filter', JSON.stringify({ filter, linkType })];
      const child = spawn(cmd.exec, args, { env: cmd.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d));
      child.on('error', () => resolve(null));
      child.on('close', () => {
        try {
          resolve((JSON.parse(out) as { error: string | null }).error);
        } catch {
          resolve(null); // cannot check here; the capture itself reports a bad filter
        }
      });
    });
  }

  async start(opts: CaptureOptions): Promise<LiveCapture> {
    const c = new LiveCapture(opts);
    await c.start();
    this.track(c);
    return c;
  }

  async listen(opts: ListenOptions): Promise<UdpTapReceiver> {
    const r = new UdpTapReceiver(opts);
    await r.start();
    this.track(r);
    return r;
  }

  private track(s: LiveSource): void {
    this.live.add(s);
    void s.ended.then(() => this.live.delete(s));
  }

  /** Every running capture and receiver. */
  running(): LiveSource[] {
    return [...this.live];
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((s) => s.stop()));
  }

  findUnfinished(dir = defaultSpoolDir()): UnfinishedCapture[] {
    return findUnfinishedCaptures(dir);
  }

  dismissUnfinished(u: UnfinishedCapture, deleteFiles = false): void {
    dismissUnfinishedCapture(u, deleteFiles);
  }
}
