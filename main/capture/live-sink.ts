/*
 * Where live packets go, whatever their source (capture helper or cloud-TAP receiver):
 *   1. the spool: a pcapng file written as packets arrive and flushed every
 *      flushIntervalMs, so a crash keeps everything up to the last flush; optionally a
 *      ring of N files of M MB (dumpcap's -b files:N -b filesize:KB);
 *   2. the AnalysisSession, fed record by record exactly as for files;
 *   3. the stop conditions (duration, packets, bytes saved) and the counters.
 * A marker file <spool>.tapscope.json sits beside the spool while the capture runs; a
 * marker whose process is gone is an unfinished capture (findUnfinishedCaptures).
 */
import { existsSync, ftruncateSync, lstatSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { AnalysisSession, type SessionOptions } from '../engine/session.js';
import { KeyLogFollower } from '../decrypt/key-log-follower.js';
import { openCaptureWriter, type CaptureWriter, type WriteRecord } from '../pcap/writer.js';
import type { CaptureInterface, PacketRecord } from '../pcap/record.js';
import { LiveFlowExport, type LiveFlowOptions, type LiveFlowStats } from '../flows/live-export.js';
import type { FlowRecord } from '../flows/flow-records.js';
import { LiveAppFacts } from '../flows/live-app-facts.js';
import { EveFollower } from '../ids/eve-follower.js';
import { PcapDirFeed, PcapStreamFeed, filesOlderThan, type DirFeedOptions, type FeedStats, type PacketFeed } from './ids-feeds.js';
import { AnalysisThread, enrichFromConnection } from './analysis-thread.js';
import { Decoder } from '../decode/decoder.js';
import { applyAlerts } from '../ids/analyze-alerts.js';
import type { AnalysisReport } from '../engine/report.js';

export interface StopConditions {
  /** Seconds after the start. */
  durationSec?: number;
  /** Packets saved. */
  packets?: number;
  /** Bytes written to the capture file(s). */
  bytes?: number;
}

export interface RingOptions {
  /** Files kept; the oldest is deleted when a new one starts. */
  files: number;
  /** Size of each file in MB (10^6 bytes). */
  fileMB: number;
  /** Files older than this many hours (modification time) are deleted too. */
  keepHours?: number;
}

export interface SinkOptions extends SessionOptions {
  /**
   * Spool file. Default: a new file in defaultSpoolDir(). With a ring, the base name.
   * '-': no spool file; the saved packets go to stdout as a classic pcap stream (ids-feeds.ts).
   */
  output?: string;
  /** Also write the saved packets as rotating closed pcap files for an IDS (ids-feeds.ts). */
  idsDir?: DirFeedOptions | null;
  /** A Suricata eve.json to follow while capturing; its alerts are joined at the end (ids/eve-follower.ts). */
  alertsPath?: string | null;
  ring?: RingOptions;
  stop?: StopConditions;
  flushIntervalMs?: number;
  /** Throttle for onDelta (ms). */
  deltaIntervalMs?: number;
  /** Text for the spool marker and the pcapng section comment. */
  label?: string;
  /** An NSS key log to follow while capturing (re-read as it grows, as Wireshark does; docs/tls-decryption.md). */
  keyLogPath?: string;
  /** Meter flows with idle/active expiry and export them live (docs/flows.md "Live export"). */
  flows?: LiveFlowOptions | null;
  /**
   * Connections the analysis holds before it starts afresh (a 24/7 sensor's memory bound;
   * docs/flows.md): the connections, HTTP/DNS/TLS and findings so far are dropped, their
   * totals kept in `rotated`. Unset: one analysis for the whole capture (the app, files).
   */
  analysisBudget?: number;
  /**
   * Packets the analysis takes before it starts afresh (the same mechanism as analysisBudget,
   * for a capture of few long connections: the app's packet index grows per packet). Unset: no
   * packet bound.
   */
  analysisPacketBudget?: number;
  /**
   * Run the analysis in a worker thread off the export path (analysis-thread.ts): the spool,
   * the IDS feeds and the flow records are made on this thread from a light decode and never
   * wait for the analysis; when it falls behind, batches are skipped and counted
   * (CaptureCounters.analysisSkipped). `workerFile`: the bundle that runs the worker side
   * (default: the capture helper bundle, service.ts helperScript()). The report then comes
   * from report(); `session` stays empty.
   */
  analysisThread?: { workerFile: string; exportNice?: number; maxInFlight?: number } | null;
}

/**
 * The analysis window of a budgeted live capture (SinkOptions.analysisBudget): what the
 * current analysis covers and what the capture saw since it started. The UI says it as
 * "analysis covers the traffic since HH:MM:SS (restarted N times ...); totals since start".
 */
export interface AnalysisWindow {
  /** Connections / packets after which the analysis starts afresh (null: no such bound). */
  budget: { connections: number | null; packets: number | null };
  /** Times the analysis started afresh so far (0: it covers the whole capture). */
  rotations: number;
  /** Wall clock (epoch ms) at which the current analysis started: the capture's start, or the last restart. */
  sinceMs: number;
  /** The current analysis. */
  window: { packets: number; connections: number };
  /** Since the capture started (every analysis, the current one included). */
  total: { packets: number; connections: number };
}

/** Totals of the analyses a budgeted live capture has started afresh from (SinkOptions.analysisBudget). */
export interface RotatedAnalyses {
  /** Times the analysis started afresh. */
  rotations: number;
  /** Packets and connections of the analyses dropped. */
  packets: number;
  connections: number;
  /** Wall clock (epoch ms) of the last restart (the capture's start before the first). */
  sinceMs?: number;
}

export interface CaptureCounters {
  /** Packets the capture source delivered to Tapscope. */
  packets: number;
  /** Their wire bytes. */
  bytes: number;
  /** libpcap ps_recv: packets the kernel filter accepted (null when unknown: cap backend, UDP). */
  received: number | null;
  /** libpcap ps_drop: dropped by the kernel because the buffer was full (null when unknown). */
  droppedByKernel: number | null;
  /** libpcap ps_ifdrop: dropped by the interface/driver (null when unknown). */
  droppedByInterface: number | null;
  /** Dropped by Tapscope because it fell behind (helper backlog full). */
  droppedByApp: number;
  /**
   * Packets saved and metered but not analysed: the analysis thread was behind and their
   * batch was skipped (SinkOptions.analysisThread; always 0 without it).
   */
  analysisSkipped: number;
  savedPackets: number;
  savedBytes: number;
  /** Packets known to be on disk (as of the last flush): what a crash would keep. */
  flushedPackets: number;
  /** Capture files, oldest first (the ring's current set). */
  files: string[];
  elapsedSec: number;
  /** Packets and bits per second over the last delta interval. */
  pps: number;
  bps: number;
}

export interface CaptureDelta {
  counters: CaptureCounters;
  /** Packets analysed since the previous delta. */
  newPackets: number;
  connections: number;
  /** Set when the analysis has a budget (SinkOptions.analysisBudget / analysisPacketBudget). */
  analysis?: AnalysisWindow | null;
}

export interface CaptureEnd {
  counters: CaptureCounters;
  /** Why it stopped: 'stopped' (asked), 'duration' | 'packets' | 'bytes' (a stop condition), 'error'. */
  reason: 'stopped' | 'duration' | 'packets' | 'bytes' | 'error';
  error: { code: string; message: string; remedy?: string } | null;
  /** Live flow expiry and export (SinkOptions.flows), else null. */
  flows?: LiveFlowStats | null;
  /** Set when the analysis has a budget (SinkOptions.analysisBudget). */
  rotated?: RotatedAnalyses | null;
  /** The IDS feeds: the pcap stream on stdout (`-w -`) and the --ids-dir directory. */
  feeds?: { stream: FeedStats | null; idsDir: FeedStats | null };
  /** With the analysis in its own thread (SinkOptions.analysisThread): what it analysed and skipped. */
  analysis?: AnalysisThreadStats | null;
}

export interface AnalysisThreadStats {
  thread: true;
  /** Packets analysed, and not analysed because the analysis was behind (in this many batches). */
  analysed: number;
  skipped: number;
  skippedBatches: number;
  /** Flow records exported without the analysis elements because too many waited for the analysis. */
  recordsWithoutAnalysis: number;
  /** Why the analysis stopped early (the worker failed), else null; the exports went on. */
  failure: string | null;
}

interface Marker {
  pid: number;
  startedAt: number;
  label: string;
  files: string[];
}

export const MARKER_SUFFIX = '.tapscope.json';
/** Flow tags: analysis number * TAG_EPOCH + connection id (connection ids stay far below it). */
const TAG_EPOCH = 2 ** 32;
/** Unflushed spool bytes that trigger a flush between timer ticks. */
const FLUSH_BYTES = 128 * 1024;

/** Per-user directory for capture spools. */
export function defaultSpoolDir(): string {
  if (process.env.TAPSCOPE_SPOOL_DIR) return process.env.TAPSCOPE_SPOOL_DIR;
  if (process.platform === 'win32') return join(process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'Tapscope', 'captures');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'Tapscope', 'captures');
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tapscope', 'captures');
}

function stamp(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export function defaultSpoolPath(label: string, dir = defaultSpoolDir()): string {
  return join(dir, `tapscope_${label.replace(/[^A-Za-z0-9_.-]+/g, '-')}_${stamp()}_${process.pid}.pcapng`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface UnfinishedCapture {
  /** Capture files (oldest first) that exist; only spool files of this marker inside the spool directory. */
  files: string[];
  marker: string;
  label: string;
  startedAt: number;
  bytes: number;
  /** Why the marker cannot be trusted (it names a file that is not one of its spool files), else null. */
  refused: string | null;
}

/** Spool names (defaultSpoolPath and the service's spool paths): tapscope_<label>_<time>_<id>.pcapng. */
const SPOOL_NAME = /^tapscope_[A-Za-z0-9_.+-]+\.pcapng$/;

/**
 * Why `file`, named in the marker `marker` (a file directly in `dir`), is not one of that
 * capture's spool files, or null. Accepted: `<base>` (the marker is `<base>.tapscope.json`)
 * or, for a ring, `<base without .pcapng>_NNNNN_<14 digits>.pcapng`; spool-named, directly
 * in the spool directory, a regular file (not a symbolic link). A marker is plain JSON in a
 * user-writable folder: without this it could name any path to open or delete.
 */
export function spoolFileProblem(file: unknown, marker: string, dir: string): string | null {
  if (typeof file !== 'string' || file === '' || file.includes('\0')) return 'a file entry that is not a path';
  const name = basename(file);
  if (resolve(dirname(file)) !== resolve(dir)) return `${file} is not in the spool directory ${dir}`;
  const base = basename(marker).slice(0, -MARKER_SUFFIX.length);
  if (!SPOOL_NAME.test(base)) return `the marker ${basename(marker)} is not named after a spool file`;
  const ring = new RegExp(`^${base.slice(0, -'.pcapng'.length).replace(/[.+]/g, '\\$&')}_\\d{5}_\\d{14}\\.pcapng$`);
  if (!SPOOL_NAME.test(name) || (name !== base && !ring.test(name))) return `${file} is not a spool file of ${basename(marker)}`;
  try {
    if (!lstatSync(file).isFile()) return `${file} is not a regular file`;
  } catch {
    // gone: not offered, nothing to refuse
  }
  return null;
}

/** Captures whose process died before finishing (crash, kill, power loss): offer to open them. */
export function findUnfinishedCaptures(dir = defaultSpoolDir()): UnfinishedCapture[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: UnfinishedCapture[] = [];
  for (const n of names) {
    if (!n.endsWith(MARKER_SUFFIX)) continue;
    const marker = join(dir, n);
    let m: Marker;
    try {
      m = JSON.parse(readFileSync(marker, 'utf8'));
    } catch {
      continue;
    }
    if (!m || typeof m !== 'object') continue;
    if (m.pid !== process.pid && alive(m.pid)) continue;
    if (m.pid === process.pid) continue;
    const listed: unknown[] = Array.isArray(m.files) ? m.files : [];
    const problems = listed.map((f) => spoolFileProblem(f, marker, dir)).filter((p): p is string => p !== null);
    const refused = problems.length ? `refused: the unfinished-capture marker ${n} names ${problems[0]}` : null;
    const files = refused ? [] : (listed as string[]).filter((f) => existsSync(f));
    out.push({
      files, marker, label: typeof m.label === 'string' ? m.label : '', startedAt: typeof m.startedAt === 'number' ? m.startedAt : 0,
      bytes: files.reduce((s, f) => s + statSync(f).size, 0), refused,
    });
  }
  return out.sort((a, b) => b.startedAt - a.startedAt);
}

/** Forgets an unfinished capture (the files stay unless deleteFiles). A refused marker is left alone. */
export function dismissUnfinishedCapture(u: UnfinishedCapture, deleteFiles = false): void {
  if (u.refused) throw new SpoolError(u.refused, 'EACCES');
  if (deleteFiles) for (const f of u.files) try { unlinkSync(f); } catch { /* gone */ }
  try { unlinkSync(u.marker); } catch { /* gone */ }
}

/** Wraps an fs/writer error for the spool, naming the file and what was kept. */
export class SpoolError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'SpoolError';
  }
}

export class LiveSink {
  session: AnalysisSession;
  readonly counters: CaptureCounters;
  private writer: CaptureWriter | null = null;
  private readonly ifaces: CaptureInterface[] = [];
  private readonly basePath: string;
  private readonly marker: string;
  private fileNo = 0;
  private fileBytesAtFlush = 0;
  private readonly startMs = Date.now();
  private flushTimer: NodeJS.Timeout | null = null;
  private deltaTimer: NodeJS.Timeout | null = null;
  private lastDeltaPackets = 0;
  private lastDeltaBytes = 0;
  private lastDeltaMs = Date.now();
  private done = false;
  /** Set once a stop condition or a spool error ended the capture; packets after it are ignored. */
  stopReason: CaptureEnd['reason'] | null = null;
  spoolError: SpoolError | null = null;
  /** Packets an analyser threw on (they are still saved). */
  analysisErrors = 0;
  onDelta: ((d: CaptureDelta) => void) | null = null;
  /** Called once when a stop condition is met or the spool fails: the source should stop. */
  onStopRequest: (() => void) | null = null;

  /** Follows the capture's key log (SinkOptions.keyLogPath), polled with every flush. */
  private keyLog: KeyLogFollower | null = null;
  /** Flow expiry and live export (SinkOptions.flows). */
  readonly flowExport: LiveFlowExport | null;
  /** The followed eve.json (SinkOptions.alertsPath), polled with every flush. */
  readonly eve: EveFollower | null;
  readonly rotated: RotatedAnalyses | null;
  private decodeAs: SessionOptions['decodeAs'];
  /** `-w -`: the pcap stream on stdout instead of a spool file. */
  private readonly stream: PcapStreamFeed | null;
  private readonly idsDir: PcapDirFeed | null;
  private readonly feeds: PacketFeed[] = [];
  /** App drops the source reported (setKernelStats); the feeds' drops are added to them. */
  private sourceAppDrops = 0;
  private lastAgeCheck = 0;
  /** The analysis in its own thread (SinkOptions.analysisThread), with the light decoder of the export path. */
  readonly thread: AnalysisThread | null = null;
  private decoder: Decoder | null = null;

  constructor(private readonly opts: SinkOptions) {
    this.session = new AnalysisSession({ decodeAs: opts.decodeAs, keepIndex: opts.keepIndex });
    this.decodeAs = opts.decodeAs;
    this.flowExport = opts.flows ? new LiveFlowExport(opts.flows, (r, tag) => this.enrichFlow(r, tag)) : null;
    this.eve = opts.alertsPath ? new EveFollower(opts.alertsPath) : null;
    this.rotated = opts.analysisBudget || opts.analysisPacketBudget ? { rotations: 0, packets: 0, connections: 0, sinceMs: this.startMs } : null;
    if (opts.analysisThread) {
      this.thread = new AnalysisThread({ decodeAs: opts.decodeAs, analysisBudget: opts.analysisBudget, analysisPacketBudget: opts.analysisPacketBudget, keyLogPath: opts.keyLogPath, exportNice: opts.analysisThread.exportNice, maxInFlight: opts.analysisThread.maxInFlight }, opts.analysisThread.workerFile);
      this.decoder = new Decoder(opts.decodeAs ?? []);
      const t = this.thread;
      if (this.flowExport) this.flowExport.enrichAsync = (rs) => t.enrich(rs);
    } else if (opts.keyLogPath) {
      this.keyLog = new KeyLogFollower(opts.keyLogPath, this.session.app.keys);
      this.keyLog.poll();
    }
    this.basePath = opts.output ?? defaultSpoolPath(opts.label ?? 'capture');
    this.marker = this.basePath + MARKER_SUFFIX;
    if (!opts.output) mkdirSync(dirname(this.basePath), { recursive: true });
    this.stream = opts.output === '-' ? new PcapStreamFeed() : null;
    try {
      this.idsDir = opts.idsDir ? new PcapDirFeed(opts.idsDir) : null;
    } catch (e) {
      throw new SpoolError(`cannot use the IDS directory ${opts.idsDir!.dir}: ${(e as Error).message}`, (e as { code?: string }).code ?? 'EIO');
    }
    if (this.stream) this.feeds.push(this.stream);
    if (this.idsDir) this.feeds.push(this.idsDir);
    this.counters = {
      packets: 0, bytes: 0, received: null, droppedByKernel: null, droppedByInterface: null, droppedByApp: 0, analysisSkipped: 0,
      savedPackets: 0, savedBytes: 0, flushedPackets: 0, files: [], elapsedSec: 0, pps: 0, bps: 0,
    };
    if (!this.stream) this.openNext(); // fails early (bad directory, read-only) before any capture starts
    this.flushTimer = setInterval(() => this.flush(), opts.flushIntervalMs ?? 250);
    this.deltaTimer = setInterval(() => this.emitDelta(), opts.deltaIntervalMs ?? 250);
    if (opts.stop?.durationSec) {
      const t = setTimeout(() => this.requestStop('duration'), opts.stop.durationSec * 1000);
      t.unref?.();
    }
  }

  /** Re-keys the decoder (Decode As) before the first packet, e.g. once ephemeral ports are bound. */
  setDecodeAs(decodeAs: SessionOptions['decodeAs']): void {
    if (this.counters.packets > 0) throw new Error('Decode As can only change before the first packet');
    this.session = new AnalysisSession({ decodeAs, keepIndex: this.opts.keepIndex });
    this.decodeAs = decodeAs;
    this.keyLog?.retarget(this.session.app.keys);
    this.keyLog?.poll();
    if (this.thread) {
      this.decoder = new Decoder(decodeAs ?? []);
      this.thread.setDecodeAs(decodeAs ?? []);
    }
  }

  /**
   * A live flow record's analysis elements (handshake RTT, retransmissions, capture-loss
   * counters; HTTP host/status, DNS name/rcode, TLS SNI) from its connection, when the
   * analysis that saw it is still the current one.
   */
  private enrichFlow(r: FlowRecord, tag: number): void {
    const epoch = Math.floor(tag / TAG_EPOCH);
    const id = tag - epoch * TAG_EPOCH;
    if (epoch !== (this.rotated?.rotations ?? 0)) return;
    if (this.appFacts?.app !== this.session.app) this.appFacts = new LiveAppFacts(this.session.app);
    enrichFromConnection(r, this.session, id, this.appFacts);
  }

  /** The current analysis's HTTP/DNS/TLS facts for flow records (made afresh with a new analysis). */
  private appFacts: LiveAppFacts | null = null;

  /**
   * The analysis reached its connection budget: start afresh, keeping only totals. The
   * flow cache is not touched (flows go on being metered and exported across the cut).
   */
  private rotateAnalysis(): void {
    const r = this.rotated!;
    r.rotations++;
    r.packets += this.session.packets;
    r.connections += this.session.connections.count;
    r.sinceMs = Date.now();
    const old = this.session;
    this.session = new AnalysisSession({ decodeAs: this.decodeAs, keepIndex: this.opts.keepIndex });
    this.keyLog?.retarget(this.session.app.keys);
    this.onRotate?.(old);
  }

  /** Called at each restart of a budgeted analysis with the analysis just left (live-batches.ts). */
  onRotate: ((old: AnalysisSession) => void) | null = null;

  /** The analysis window (a budgeted capture), else null. */
  analysisWindow(): AnalysisWindow | null {
    if (!this.rotated) return null;
    if (this.thread) {
      const p = this.thread.progress;
      const r = p.rotated;
      return {
        budget: { connections: this.opts.analysisBudget ?? null, packets: this.opts.analysisPacketBudget ?? null },
        rotations: r.rotations, sinceMs: r.sinceMs ?? this.startMs,
        window: { packets: p.packets - r.packets, connections: p.connections },
        total: { packets: p.packets, connections: r.connections + p.connections },
      };
    }
    const r = this.rotated;
    const s = this.session;
    return {
      budget: { connections: this.opts.analysisBudget ?? null, packets: this.opts.analysisPacketBudget ?? null },
      rotations: r.rotations,
      sinceMs: r.sinceMs ?? this.startMs,
      window: { packets: s.packets, connections: s.connections.count },
      total: { packets: r.packets + s.packets, connections: r.connections + s.connections.count },
    };
  }

  /** The budget reached: connections or packets of the current analysis. */
  private overBudget(): boolean {
    const o = this.opts;
    return (o.analysisBudget !== undefined && this.session.connections.count >= o.analysisBudget)
      || (o.analysisPacketBudget !== undefined && this.session.packets >= o.analysisPacketBudget);
  }

  /** Adds an interface (link type) to the spool; returns its id for PacketRecord.interfaceId. */
  addInterface(i: Omit<CaptureInterface, 'id'>): number {
    const iface = { ...i, id: this.ifaces.length };
    this.ifaces.push(iface);
    this.writer?.addInterface(iface);
    return iface.id;
  }

  private pathFor(n: number): string {
    if (!this.opts.ring) return this.basePath;
    const b = this.basePath.replace(/\.pcapng$/, '');
    return `${b}_${String(n).padStart(5, '0')}_${stamp()}.pcapng`;
  }

  private openNext(): void {
    const path = this.pathFor(++this.fileNo);
    try {
      this.writer = openCaptureWriter(path, {
        format: 'pcapng',
        interfaces: this.ifaces,
        sectionComments: this.opts.label ? [`Tapscope live capture: ${this.opts.label}`] : undefined,
      });
      this.writer.flush();
    } catch (e) {
      this.writer = null;
      throw new SpoolError(`cannot create the capture file: ${(e as Error).message}`, (e as { code?: string }).code ?? 'EIO');
    }
    this.fileBytesAtFlush = this.writer.bytesWritten;
    this.counters.flushedPackets = this.counters.savedPackets; // earlier files are closed
    this.counters.files.push(path);
    const ring = this.opts.ring;
    if (ring && this.counters.files.length > ring.files) {
      const old = this.counters.files.shift()!;
      try { unlinkSync(old); } catch { /* already gone */ }
    }
    this.writeMarker();
    if (ring?.keepHours) this.dropOldRingFiles(true);
  }

  /** --keep-hours: ring files older than that go (checked once a minute and at each new file). */
  private dropOldRingFiles(force = false): void {
    const hours = this.opts.ring?.keepHours;
    if (!hours || (!force && Date.now() - this.lastAgeCheck < 60_000)) return;
    this.lastAgeCheck = Date.now();
    const old = new Set(filesOlderThan(this.counters.files, hours));
    if (old.size === 0) return;
    for (const f of old) try { unlinkSync(f); } catch { /* already gone */ }
    this.counters.files = this.counters.files.filter((f) => !old.has(f));
    this.writeMarker();
  }

  private writeMarker(): void {
    try {
      const m: Marker = { pid: process.pid, startedAt: this.startMs / 1000, label: this.opts.label ?? '', files: this.counters.files };
      writeFileSync(this.marker, JSON.stringify(m));
    } catch {
      // The marker only helps recovery; the capture goes on without it.
    }
  }

  /** One packet. `save` (default: the same record) is what goes to the file. */
  packet(r: PacketRecord, save: WriteRecord | null = r): void {
    if (this.stopReason) return;
    const c = this.counters;
    c.packets++;
    c.bytes += r.origLen;
    // The packet index points into the spool, so a detail view can re-read the packet.
    r.fileOffset = save && this.writer ? this.writer.bytesWritten : 0;
    if (this.thread) {
      // The export path: a light decode for the flow cache; the analysis gets a copy in its thread.
      try {
        const f = this.decoder!.decode(r);
        this.flowExport?.observe(f, -1);
      } catch (e) {
        if (++this.analysisErrors <= 20) this.session.warnings.push({ packet: c.packets, offset: null, message: `decoding failed on this packet (it is saved): ${(e as Error).message}` });
      }
      this.thread.packet(r, this.flowExport ? this.flowExport.cache.lastNumber : -1);
    } else try {
      const f = this.session.feed(r);
      // Tag: the analysis's connection and the analysis's number (rotations), to find its facts at expiry.
      this.flowExport?.observe(f, this.session.connections.flows.ctx.connId < 0 ? -1 : (this.rotated?.rotations ?? 0) * TAG_EPOCH + this.session.connections.flows.ctx.connId);
      if (this.rotated && this.overBudget()) this.rotateAnalysis();
    } catch (e) {
      // An analyser failing on one packet must not end a capture: the packet is still saved.
      if (++this.analysisErrors <= 20) {
        this.session.warnings.push({ packet: c.packets, offset: null, message: `analysis failed on this packet (it is saved): ${(e as Error).message}` });
      }
    }
    if (save && this.feeds.length) {
      const lt = this.ifaces[save.interfaceId]?.linkType ?? 1;
      for (const f of this.feeds) f.write(save, lt);
      if (this.stream) c.savedPackets = this.stream.stats.packets;
    }
    if (save && this.writer) {
      const before = this.writer.bytesWritten;
      try {
        this.writer.write(save);
      } catch (e) {
        this.failSpool(e);
        return;
      }
      c.savedPackets++;
      c.savedBytes += this.writer.bytesWritten - before;
      // Flush by size as well as by time, so a fast capture that hits a full disk loses at
      // most FLUSH_BYTES, not everything since the last timer tick.
      if (this.writer.bytesWritten - this.fileBytesAtFlush >= FLUSH_BYTES) {
        this.flush();
        if (!this.writer) return;
      }
      const ring = this.opts.ring;
      if (ring && this.writer.bytesWritten >= ring.fileMB * 1e6) {
        try {
          this.writer.close();
          this.openNext();
        } catch (e) {
          this.failSpool(e);
          return;
        }
      }
    }
    const stop = this.opts.stop;
    if (stop?.packets && c.savedPackets >= stop.packets) this.requestStop('packets');
    else if (stop?.bytes && c.savedBytes >= stop.bytes) this.requestStop('bytes');
  }

  setKernelStats(received: number | null, droppedByKernel: number | null, droppedByInterface: number | null, droppedByApp: number): void {
    const c = this.counters;
    c.received = received;
    c.droppedByKernel = droppedByKernel;
    c.droppedByInterface = droppedByInterface;
    this.sourceAppDrops = droppedByApp;
    c.droppedByApp = droppedByApp + this.feedDrops();
  }

  /** Packets the IDS feeds could not take (a slow reader on the pipe, a failing directory). */
  private feedDrops(): number {
    let n = 0;
    for (const f of this.feeds) n += f.stats.dropped;
    return n;
  }

  private requestStop(reason: CaptureEnd['reason']): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.onStopRequest?.();
  }

  /** A write failed (disk full, I/O error): cut the file back to its last complete flush and stop. */
  private failSpool(e: unknown): void {
    const w = this.writer;
    this.writer = null;
    const path = this.counters.files[this.counters.files.length - 1];
    const code = (e as { code?: string }).code ?? 'EIO';
    try {
      const fd = openSync(path, 'r+');
      ftruncateSync(fd, this.fileBytesAtFlush);
      closeSync(fd);
    } catch {
      // leave it as it is: readers stop at the damaged block
    }
    // The writer's close() would retry the failed write and, failing, delete the file:
    // release its descriptor directly instead, keeping what is on disk.
    const fd = (w as unknown as { fd?: number } | null)?.fd;
    if (typeof fd === 'number') try { closeSync(fd); } catch { /* already closed */ }
    // What stays is what the last flush put on disk.
    if (w) this.counters.savedBytes -= Math.max(0, w.bytesWritten - this.fileBytesAtFlush);
    this.counters.savedPackets = this.counters.flushedPackets;
    const saved = this.counters.savedPackets;
    const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EDQUOT' ? 'the disk quota is exceeded' : (e as Error).message;
    this.spoolError = new SpoolError(
      `capture stopped: ${why} while writing ${path}; the ${saved} packet(s) flushed before it are kept (${this.fileBytesAtFlush} bytes)`,
      code,
    );
    this.requestStop('error');
  }

  flush(): void {
    this.keyLog?.poll();
    this.eve?.poll();
    if (!this.writer) return;
    try {
      this.writer.flush();
      this.fileBytesAtFlush = this.writer.bytesWritten;
      this.counters.flushedPackets = this.counters.savedPackets;
    } catch (e) {
      this.failSpool(e);
    }
  }

  private snapshot(): CaptureCounters {
    const c = this.counters;
    c.droppedByApp = this.sourceAppDrops + this.feedDrops();
    if (this.thread) c.analysisSkipped = this.thread.skipped;
    const now = Date.now();
    const dt = (now - this.lastDeltaMs) / 1000;
    c.elapsedSec = (now - this.startMs) / 1000;
    if (dt > 0) {
      c.pps = (c.packets - this.lastDeltaPackets) / dt;
      c.bps = ((c.bytes - this.lastDeltaBytes) * 8) / dt;
    }
    return { ...c, files: [...c.files] };
  }

  /** The spool's interfaces (pcapng IDBs), in id order. */
  get interfaces(): readonly CaptureInterface[] {
    return this.ifaces;
  }

  private emitDelta(): void {
    this.flowExport?.tick();
    for (const f of this.feeds) f.tick();
    this.dropOldRingFiles();
    this.flush(); // what a delta announces is on disk for readers of the spool
    const counters = this.snapshot();
    const newPackets = this.counters.packets - this.lastDeltaPackets;
    this.lastDeltaPackets = this.counters.packets;
    this.lastDeltaBytes = this.counters.bytes;
    this.lastDeltaMs = Date.now();
    const connections = this.thread ? this.thread.progress.connections : this.session.connections.count;
    this.onDelta?.({ counters, newPackets, connections, ...(this.rotated ? { analysis: this.analysisWindow() } : {}) });
  }

  /** Flushes and closes the spool, finishes the analysis, removes the marker. */
  finish(reason: CaptureEnd['reason'], error: CaptureEnd['error']): CaptureEnd {
    if (!this.done) {
      this.done = true;
      if (this.flushTimer) clearInterval(this.flushTimer);
      if (this.deltaTimer) clearInterval(this.deltaTimer);
      this.flush(); // on failure this truncates, releases the writer and records the error
      if (this.writer) {
        try {
          this.writer.close();
        } catch (e) {
          this.spoolError ??= new SpoolError(`cannot close ${this.path}: ${(e as Error).message}`, (e as { code?: string }).code ?? 'EIO');
        }
        this.writer = null;
      }
      this.keyLog?.poll();
      for (const f of this.feeds) f.close();
      this.eve?.end();
      if (this.eve?.problem) this.session.warnings.push({ packet: null, offset: null, message: this.eve.problem });
      if (this.eve?.droppedAlerts) this.session.warnings.push({ packet: null, offset: null, message: `${this.eve.path}: only the newest ${this.eve.result.alerts.length} alerts kept (${this.eve.droppedAlerts} older ones dropped)` });
      if (this.thread) this.thread.finish(); // after every packet sent so far; flows flushed below are enriched after it
      else this.session.finish();
      // After the analysis's end of capture (streams flushed), as `tapscope flows` reads it.
      this.flowExport?.finish();
      if (this.keyLog?.problem) this.session.warnings.push({ packet: null, offset: null, message: this.keyLog.problem });
      try { unlinkSync(this.marker); } catch { /* none */ }
      this.emitDelta();
    }
    const err = error ?? (this.spoolError ? { code: this.spoolError.code, message: this.spoolError.message } : null);
    return {
      counters: this.snapshot(), reason: this.spoolError ? 'error' : this.stopReason && this.stopReason !== 'error' ? this.stopReason : reason, error: err,
      flows: this.flowExport?.stats() ?? null, rotated: !this.rotated ? null : this.thread ? { ...this.thread.progress.rotated } : { ...this.rotated },
      analysis: this.thread ? this.threadStats() : null,
      feeds: { stream: this.stream ? { ...this.stream.stats } : null, idsDir: this.idsDir ? { ...this.idsDir.stats, files: [...this.idsDir.stats.files!] } : null },
    };
  }

  private threadStats(): AnalysisThreadStats {
    const t = this.thread!;
    return { thread: true, analysed: t.progress.packets, skipped: t.skipped, skippedBatches: t.skippedBatches, recordsWithoutAnalysis: t.recordsWithoutAnalysis, failure: t.failure };
  }

  /**
   * The analysis report once the capture has ended, the followed eve.json's alerts joined
   * (from the analysis thread when there is one; it is then closed). `end` gets the thread's
   * final figures (rotated, analysis).
   */
  async report(file: { path: string; interfaces: CaptureInterface[] }, end?: CaptureEnd): Promise<AnalysisReport> {
    const eve = this.eve;
    if (!this.thread) {
      const report = this.session.report({ path: file.path, format: 'pcapng', interfaces: file.interfaces, comments: [] });
      report.alerts = [];
      if (eve) applyAlerts(report, eve.end(), eve.path, this.session);
      return report;
    }
    const t = this.thread;
    try {
      const r = await t.report({ path: file.path, format: 'pcapng', interfaces: file.interfaces }, eve ? Object.assign({ ...eve.end() }, { path: eve.path }) : null);
      if (end) {
        end.rotated = this.rotated ? { ...r.progress.rotated } : null;
        end.analysis = this.threadStats();
      }
      if (t.skipped) r.report.warnings.push({ packet: null, offset: null, message: `${t.skipped} packets were not analysed (${t.skippedBatches} batches skipped: the analysis was behind); the spool, the IDS feeds and the flow records have them` });
      r.report.warnings.push(...this.session.warnings);
      return r.report;
    } finally {
      t.close();
    }
  }

  /** Ends the analysis thread without a report. */
  closeAnalysis(): void {
    this.thread?.close();
  }

  get path(): string {
    return this.counters.files[this.counters.files.length - 1] ?? this.basePath;
  }

  get dir(): string {
    return dirname(this.basePath);
  }

  get name(): string {
    return basename(this.basePath);
  }
}
