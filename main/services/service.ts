import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  ApiError,
  type CaptureRequest, type ConnectionDetail, type ConnectionQuery, type ConnectionRow, type DecodedPacket, type DnsRow,
  type EventName, type FindingRow, type HarRequest, type HttpRow, type InterfaceList, type OpenFileRequest, type Page,
  type PacketQuery, type PacketRow, type RecentFile, type SaveRequest, type SaveResult, type SessionInfo, type SessionSummary,
  type TableQuery, type TapscopeApi, type TapscopeEvents, type Timeline, type TimelineQuery, type TlsRow, type QuicRow, type TunnelRow,
  type ListenRequest, type TapFeed, type FollowStream, type FollowStreamQuery, type UnfinishedCaptureInfo, type DisplayFilterCheck,
  type IoGraph, type IoGraphQuery, type CaptureStats,
} from '../../preload/api.js';
import type { LiveJob, LiveWorkerEvent, LiveWorkerHandle } from '../capture/live-worker.js';
import type { CaptureCounters } from '../capture/live-sink.js';
import { openCapture } from '../pcap/reader.js';
import { ANALYZE_WORKER_LIMITS, runAnalysis, type AnalyzeJob, type WorkerMessage } from '../engine/analyze-worker.js';
import { appStageWorkerBeside } from '../engine/split-analysis.js';
import { SessionData } from './session-data.js';
import { PacketReader } from './packets.js';
import { buildHar } from './har.js';
import { NotAvailableError, savePackets } from './save.js';
import { secretsFor, sessionKeyLog } from '../decrypt/inject-secrets.js';
import type { KeyLog } from '../decrypt/key-log.js';
import { quicDetail } from './quic-detail.js';
import { endpointText } from './rows.js';
import { flightSeries } from './flight-series.js';
import { PacketFilter } from './packet-filter.js';

export interface ServiceOptions {
  /** Worker script for file analysis; null analyses in-process (tests, tiny files). */
  workerFile: string | null;
  /** Where recent files are remembered. */
  stateDir: string;
  /** Where saved files wait to be downloaded (browser mode). */
  exportDir: string;
  /** The bundled sample capture. */
  samplePath: string | null;
  version: string;
  transport: string;
  /** Allow writing to any path the caller names (CLI, tests). Otherwise only paths chooseSavePath returned. */
  allowAnyWritePath?: boolean;
  /** Milliseconds between progress batches. */
  batchMs?: number;
  /**
   * Test hook: files whose name is `file` pause after their first batch for up to `ms`
   * waiting for cancelOpen (AnalyzeJob.holdForCancelMs), so cancel tests do not race the
   * reader. Also read from TAPSCOPE_TEST_HOLD=name:ms (the served app under Playwright).
   */
  holdForCancel?: { file: string; ms: number } | null;
  /** Where live captures spool and unfinished ones are looked for (default: the capture service's). */
  spoolDir?: string | null;
}

/** TAPSCOPE_TEST_HOLD="file-name:ms" (see ServiceOptions.holdForCancel), or null. */
function holdFromEnv(v: string | undefined): { file: string; ms: number } | null {
  const m = v ? /^(.+):(\d{1,6})$/.exec(v) : null;
  return m ? { file: m[1], ms: Number(m[2]) } : null;
}

/** Complete packets in capture files (a killed capture's last block may be cut); null when too big to count at once. */
const COUNT_LIMIT_BYTES = 256 * 1024 * 1024;
function countPackets(files: string[], bytes: number): number | null {
  if (bytes > COUNT_LIMIT_BYTES) return null;
  let n = 0;
  for (const f of files) {
    try {
      const r = openCapture(f);
      try {
        while (r.next()) n++;
      } finally {
        r.close();
      }
    } catch {
      // An empty or unreadable file holds no packets we can offer.
    }
  }
  return n;
}

const MAX_RECENT = 10;

interface Live {
  data: SessionData;
  /** Set for a live capture: stops it. */
  stop?: () => Promise<void>;
  reader: PacketReader;
  worker: Worker | null;
  cancel: SharedArrayBuffer;
  done: Promise<void>;
  decodeAs: string[];
  /** The key log chosen for the session (openFile keylogPath), for embedding keys on save. */
  keyLogPaths?: string[];
  /** Display-filter runs over this session (connection facts and the last results cached). */
  filter: PacketFilter;
  /** The session's keys for re-reads (QUIC detail), once read; null without any. */
  keys?: KeyLog | null;
}

/**
 * The TapscopeApi under plain Node: sessions, queries, detail, saving. Both transports
 * (Electron IPC, browser-mode WebSocket) call into one instance of this.
 */
export class TapscopeService implements TapscopeApi {
  private sessions = new Map<string, Live>();
  private events = new EventEmitter();
  private downloads = new Map<string, string>();
  private approvedWritePaths = new Set<string>();
  /** The private folder of saved files waiting to be downloaded (exportRoot). */
  private exports: string | null = null;
  /** Uploaded files (browser mode) -> their private folder, removed when the last session on the file closes. */
  private uploads = new Map<string, string>();

  constructor(readonly opts: ServiceOptions) {
    this.events.setMaxListeners(100);
  }

  // ---- events ---------------------------------------------------------------------------

  on<E extends EventName>(event: E, cb: (data: TapscopeEvents[E]) => void): () => void {
    this.events.on(event, cb);
    return () => this.events.off(event, cb);
  }

  private emit<E extends EventName>(event: E, data: TapscopeEvents[E]): void {
    this.events.emit(event, data);
  }

  // ---- sessions -------------------------------------------------------------------------

  async version(): Promise<{ app: string; transport: string }> {
    return { app: this.opts.version, transport: this.opts.transport };
  }

  async openFile(req: OpenFileRequest): Promise<SessionInfo> {
    const path = resolve(req.path);
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      throw new ApiError(`cannot open ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'not-found');
    }
    if (!st.isFile()) throw new ApiError(`cannot open ${path}: not a file`, 'not-found');
    const id = randomBytes(6).toString('hex');
    const data = new SessionData(id, path);
    const decodeAs = req.decodeAs ?? [];
    const cancel = new SharedArrayBuffer(4);
    const keyLogPaths = req.keylogPath ? [resolve(req.keylogPath)] : [];
    const reader = new PacketReader(data, decodeAs);
    reader.keys = () => this.sessionKeys(id);
    const live: Live = { data, reader, worker: null, cancel, done: Promise.resolve(), decodeAs, keyLogPaths, filter: new PacketFilter(data, reader) };
    this.sessions.set(id, live);
    const hold = this.opts.holdForCancel ?? holdFromEnv(process.env.TAPSCOPE_TEST_HOLD);
    const job: AnalyzeJob = {
      kind: 'tapscope-analyze', path, decodeAs, cancel, batchMs: this.opts.batchMs, keyLogPaths, alertsPath: req.alertsPath ? resolve(req.alertsPath) : undefined,
      holdForCancelMs: hold && hold.file === basename(path) ? hold.ms : undefined,
      appStageWorker: this.opts.workerFile ? appStageWorkerBeside(this.opts.workerFile) : undefined,
    };
    let lastEmit = 0;
    let firstBatch = true;
    const onMessage = (m: WorkerMessage): void => {
      data.apply(m);
      const now = Date.now();
      // At most every 100 ms, but always the first batch (the first partial result) and the end.
      if (m.type === 'done' || m.type === 'failed' || (m.type === 'batch' && firstBatch) || now - lastEmit > 100) {
        if (m.type === 'batch') firstBatch = false;
        lastEmit = now;
        this.emit('progress', data.progress());
      }
    };
    if (this.opts.workerFile) {
      const worker = new Worker(this.opts.workerFile, { workerData: job, resourceLimits: ANALYZE_WORKER_LIMITS });
      live.worker = worker;
      live.done = new Promise<void>((res) => {
        worker.on('message', (m: WorkerMessage) => onMessage(m));
        worker.on('error', (e) => {
          if (data.state === 'opening') onMessage({ type: 'failed', message: `analysis failed: ${e.message}` });
        });
        worker.on('exit', () => {
          if (data.state === 'opening') onMessage({ type: 'failed', message: 'analysis stopped unexpectedly' });
          live.worker = null;
          res();
        });
      });
    } else {
      // In-process: same messages, run after returning so the caller sees 'opening' first.
      live.done = new Promise<void>((res) => setImmediate(() => {
        runAnalysis(job, (m) => onMessage(m));
        res();
      }));
    }
    this.rememberRecent(path);
    return { sessionId: id, path, name: basename(path), state: data.state };
  }

  /** Resolves when the session has finished reading (tests, CLI). */
  async whenDone(sessionId: string): Promise<void> {
    await this.live(sessionId).done;
  }

  async openSample(): Promise<SessionInfo> {
    const p = this.opts.samplePath;
    if (!p || !existsSync(p)) throw new ApiError('the sample capture is not installed', 'not-found');
    return this.openFile({ path: p, decodeAs: [] });
  }

  async cancelOpen(sessionId: string): Promise<void> {
    const live = this.live(sessionId);
    const flag = new Int32Array(live.cancel);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    if (live.stop) await live.stop();
  }

  async closeSession(sessionId: string): Promise<void> {
    const live = this.sessions.get(sessionId);
    if (!live) return;
    const flag = new Int32Array(live.cancel);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    if (live.stop) await live.stop();
    await live.done;
    live.reader.close();
    this.sessions.delete(sessionId);
    this.removeUploadOf(live.data.path);
  }

  /**
   * Browser mode: `path` was uploaded into `folder` (a private mkdtemp folder holding only it).
   * The folder is removed when the last session that opened the file closes.
   */
  adoptUpload(path: string, folder: string): void {
    this.uploads.set(resolve(path), folder);
  }

  private removeUploadOf(path: string): void {
    const folder = this.uploads.get(path);
    if (!folder || [...this.sessions.values()].some((l) => l.data.path === path)) return;
    this.uploads.delete(path);
    rmSync(folder, { recursive: true, force: true });
  }

  async summary(sessionId: string): Promise<SessionSummary> {
    const { data } = this.live(sessionId);
    const r = data.report;
    const hasTcp = data.connections.count > 0;
    return {
      sessionId,
      state: data.state,
      progress: data.progress(),
      file: data.file(),
      warnings: r?.warnings ?? [],
      counts: {
        connections: data.connections.count, http: data.httpCount(), dns: data.dns().length, tls: data.tls().length,
        findings: data.findings().length, tunnels: data.tunnels().length,
      },
      features: { tcpAnalysis: hasTcp, http: data.httpCount() > 0, dns: data.dns().length > 0, tls: data.tls().length > 0, findings: data.findings().length > 0, pcapWriter: true },
    };
  }

  async recentFiles(): Promise<RecentFile[]> {
    try {
      const list = JSON.parse(readFileSync(join(this.opts.stateDir, 'recent.json'), 'utf8')) as RecentFile[];
      return Array.isArray(list) ? list.filter((r) => typeof r.path === 'string').slice(0, MAX_RECENT) : [];
    } catch {
      return [];
    }
  }

  private rememberRecent(path: string): void {
    if (this.opts.samplePath && resolve(this.opts.samplePath) === path) return;
    void this.recentFiles().then((list) => {
      const next = [{ path, name: basename(path), openedAt: Date.now() }, ...list.filter((r) => r.path !== path)].slice(0, MAX_RECENT);
      try {
        mkdirSync(this.opts.stateDir, { recursive: true });
        writeFileSync(join(this.opts.stateDir, 'recent.json'), JSON.stringify(next, null, 1));
      } catch {
        // Recent files are a convenience: a read-only home must not break opening files.
      }
    });
  }

  private live(sessionId: string): Live {
    const l = this.sessions.get(sessionId);
    if (!l) throw new ApiError(`no session ${sessionId}`, 'no-session');
    return l;
  }

  // ---- tables ---------------------------------------------------------------------------

  async connections(q: ConnectionQuery): Promise<Page<ConnectionRow>> {
    return this.live(q.sessionId).data.queryConnections(q);
  }

  async packets(q: PacketQuery): Promise<Page<PacketRow>> {
    const { data, reader, filter } = this.live(q.sessionId);
    const ids = filter.apply(data.packetIndices(q), q.displayFilter);
    const page = q.sortDir === 'desc' ? ids.slice().reverse().slice(q.offset, q.offset + q.limit) : ids.slice(q.offset, q.offset + q.limit);
    // A connection's packet list counts against the connection, not the whole capture.
    const unfiltered = q.connectionId != null ? data.packetIndices({ connectionId: q.connectionId }).length : data.index.length;
    return { offset: q.offset, total: ids.length, unfiltered, rows: reader.rows(page) };
  }

  async http(q: TableQuery): Promise<Page<HttpRow>> {
    return this.live(q.sessionId).data.queryHttp(q);
  }

  async dns(q: TableQuery): Promise<Page<DnsRow>> {
    return this.live(q.sessionId).data.queryDns(q);
  }

  async tls(q: TableQuery): Promise<Page<TlsRow>> {
    return this.live(q.sessionId).data.queryTls(q);
  }

  async quic(q: TableQuery): Promise<Page<QuicRow>> {
    return this.live(q.sessionId).data.queryQuic(q);
  }

  async findings(q: TableQuery): Promise<Page<FindingRow>> {
    return this.live(q.sessionId).data.queryFindings(q);
  }

  async tunnels(sessionId: string): Promise<TunnelRow[]> {
    return this.live(sessionId).data.tunnels();
  }

  async timeline(q: TimelineQuery): Promise<Timeline> {
    return this.live(q.sessionId).data.timeline(q.buckets, q.filter);
  }

  async ioGraph(q: IoGraphQuery): Promise<IoGraph> {
    const { data, filter } = this.live(q.sessionId);
    if (!q.displayFilter?.trim()) return data.ioGraph(q.interval, q.filter);
    const ids = filter.apply(data.packetIndices({ filter: q.filter }), q.displayFilter);
    return data.ioGraph(q.interval, undefined, ids);
  }

  async connectionDetail(sessionId: string, connectionId: number): Promise<ConnectionDetail> {
    const { data, reader } = this.live(sessionId);
    const raw = data.rawConnection(connectionId);
    if (!raw) throw new ApiError(`no connection ${connectionId}`, 'not-found');
    const row = data.connectionRowById(connectionId)!;
    const s = reader.series(connectionId);
    const f = row.transport === 'tcp' ? flightSeries(data, reader, connectionId) : { flight: [], truncated: false };
    return {
      connection: row,
      raw,
      rtt: s.rtt,
      sequence: s.sequence,
      flight: f.flight,
      truncated: s.truncated || f.truncated,
      http: data.httpOf(connectionId),
      tls: data.tls().filter((t) => t.connectionId === connectionId),
      alerts: data.alertsOf(connectionId),
      quic: row.transport === 'quic' ? quicDetail(data.index, (i) => reader.record(i), connectionId, this.sessionKeys(sessionId), this.live(sessionId).decodeAs, {
        rows: data.quic().filter((q) => q.connectionId === connectionId), connection: (id) => data.connectionRowById(id),
      }) : null,
    };
  }

  /** The keys a session decrypts with (key log files and the capture's DSBs), read once for the detail views. */
  private sessionKeys(sessionId: string): KeyLog | null {
    const live = this.live(sessionId);
    if (live.keys === undefined) {
      const pcapng = live.data.format === 'pcapng';
      live.keys = pcapng || (live.keyLogPaths?.length ?? 0) > 0 ? sessionKeyLog(live.data.path, live.keyLogPaths ?? []).keys : null;
    }
    return live.keys;
  }

  async followStream(q: FollowStreamQuery): Promise<FollowStream> {
    const { data, reader } = this.live(q.sessionId);
    if (data.state === 'opening') throw new ApiError('the file is still being read', 'busy');
    if (!data.rawConnection(q.connectionId)) throw new ApiError(`no connection ${q.connectionId}`, 'not-found');
    return reader.follow(q.connectionId, q.maxBytes, this.sessionKeys(q.sessionId), q.h2Stream ?? null, q.h3Stream ?? null);
  }

  async decodePacket(sessionId: string, packetNumber: number): Promise<DecodedPacket> {
    const { data, reader } = this.live(sessionId);
    if (packetNumber < 1 || packetNumber > data.index.length) throw new ApiError(`no packet ${packetNumber}`, 'not-found');
    return reader.decodedPacket(packetNumber - 1);
  }

  async checkDisplayFilter(text: string): Promise<DisplayFilterCheck> {
    return PacketFilter.check(text);
  }

  // ---- saving ---------------------------------------------------------------------------

  /** Where a save goes: a path the user chose, or a new file in the export folder. */
  private target(path: string | null | undefined, name: string): { path: string; downloadId: string | null } {
    if (path) {
      const p = resolve(path);
      if (!this.opts.allowAnyWritePath && !this.approvedWritePaths.has(p)) {
        throw new ApiError('saving to a path needs the save dialog (chooseSavePath) first', 'forbidden');
      }
      this.approvedWritePaths.delete(p);
      return { path: p, downloadId: null };
    }
    const id = randomBytes(12).toString('hex');
    const dir = join(this.exportRoot(), id);
    mkdirSync(dir, { mode: 0o700 });
    const p = join(dir, name.replace(/[^A-Za-z0-9._-]/g, '_'));
    this.downloads.set(id, p);
    return { path: p, downloadId: id };
  }

  /**
   * Saved files waiting to be downloaded live in one private folder made by mkdtemp beside
   * opts.exportDir (mode 0700, a fresh name): a predictable /tmp path another local user
   * could create first would otherwise receive the captures. Removed by dispose().
   */
  private exportRoot(): string {
    if (!this.exports) {
      mkdirSync(dirname(this.opts.exportDir), { recursive: true });
      this.exports = mkdtempSync(`${this.opts.exportDir}-`);
    }
    return this.exports;
  }

  /** The file a download id stands for (browser mode's /download route). */
  downloadPath(id: string): string | null {
    return this.downloads.get(id) ?? null;
  }

  /** Lets the Electron shell approve a path its native save dialog returned. */
  approveWritePath(path: string): void {
    this.approvedWritePaths.add(resolve(path));
  }

  async saveCapture(req: SaveRequest): Promise<SaveResult> {
    const { data, reader, keyLogPaths } = this.live(req.sessionId);
    if (data.state === 'opening') throw new ApiError('the file is still being read', 'busy');
    const stem = data.name.replace(/\.(pcapng|pcap|cap)$/i, '');
    const fileName = `${stem}${req.connectionId != null ? `-conn${req.connectionId}` : '-filtered'}.${req.format}`;
    const indices = this.live(req.sessionId).filter.apply(data.packetIndices({ connectionId: req.connectionId ?? null, filter: req.filter }), req.displayFilter);
    const t = this.target(req.path, fileName);
    try {
      // Embedding keys (editcap --inject-secrets): the secrets of the TLS sessions saved.
      let secrets: { text: string; sessions: number } | null = null;
      if (req.embedKeys) {
        if (req.format !== 'pcapng') throw new NotAvailableError('keys can be embedded in pcapng files only');
        const { keys } = sessionKeyLog(data.path, keyLogPaths ?? []);
        secrets = secretsFor(keys, (function* () { for (const i of indices) yield reader.decode(i); })());
      }
      const r = savePackets(reader, indices, data.interfaces, req.format, t.path, secrets && secrets.sessions > 0 ? secrets.text : null);
      return { path: t.path, downloadId: t.downloadId, fileName: basename(t.path), ...r, ...(secrets ? { embeddedSessions: secrets.sessions } : {}) };
    } catch (e) {
      if (t.downloadId) this.downloads.delete(t.downloadId);
      throw new ApiError((e as Error).message, (e as Error).name === 'NotAvailableError' ? 'not-available' : 'error');
    }
  }

  async exportHar(req: HarRequest): Promise<SaveResult> {
    const { data } = this.live(req.sessionId);
    const page = data.queryHttp({ sessionId: req.sessionId, offset: 0, limit: 2 ** 31, sortKey: 'requestTs', sortDir: 'asc', filter: req.filter });
    const servers = new Map<number, string>();
    for (const r of data.connectionRows()) servers.set(r.id, r.server.ip);
    const har = buildHar(page.rows, (id) => servers.get(id) ?? null, this.opts.version);
    const t = this.target(req.path, `${data.name.replace(/\.(pcapng|pcap|cap)$/i, '')}.har`);
    const text = JSON.stringify(har, null, 1);
    writeFileSync(t.path, text);
    return { path: t.path, downloadId: t.downloadId, fileName: basename(t.path), packets: har.log.entries.length, bytes: Buffer.byteLength(text) };
  }

  async chooseSavePath(_defaultName: string): Promise<string | null> {
    return null;
  }

  async chooseOpenPath(): Promise<string | null> {
    return null;
  }

  // ---- live capture (main/capture: helper process, spool file, same analysers) ----------

  private captureService: Promise<import('../capture/service.js').CaptureService> | null = null;

  private capture(): Promise<import('../capture/service.js').CaptureService> {
    this.captureService ??= import('../capture/service.js').then((m) => new m.CaptureService());
    return this.captureService;
  }

  async listInterfaces(): Promise<InterfaceList> {
    try {
      const list = (await this.capture()).listInterfaces();
      return {
        available: list.length > 0,
        message: list.length ? null : 'No interfaces can be captured here (libpcap lists none).',
        interfaces: list.map((d) => ({
          name: d.name, description: d.summary || d.description, addresses: d.addresses.map((a) => a.addr), up: d.up, loopback: d.loopback,
          virtualKind: d.virtual.length ? d.virtual.join(', ') : null,
        })),
      };
    } catch (e) {
      return { available: false, message: `Live capture is not available: ${(e as Error).message}`, interfaces: [] };
    }
  }

  async validateFilter(filter: string): Promise<{ ok: boolean; message: string | null }> {
    const err = await (await this.capture()).validateFilter(filter);
    return { ok: err === null, message: err };
  }

  async startCapture(req: CaptureRequest): Promise<SessionInfo> {
    // The label names the interface in the spool marker, as `tapscope capture` does.
    const options = {
      device: req.interface, filter: req.filter ?? undefined, keepIndex: true, label: req.interface, output: this.spoolPath(req.interface),
      keyLogPath: req.keylogPath ? resolve(req.keylogPath) : undefined, alertsPath: req.alertsPath ? resolve(req.alertsPath) : undefined,
    };
    return this.startLive({ mode: 'capture', options }, `${req.interface} (live)`);
  }

  async startListen(req: ListenRequest): Promise<SessionInfo> {
    const ports = (encap: TapFeed['encap']): number[] => req.feeds.filter((f) => f.encap === encap).map((f) => f.port);
    const label = req.feeds.map((f) => `${f.encap}-udp${f.port}`).join('+');
    const options = {
      vxlan: ports('vxlan'), geneve: ports('geneve'), tzsp: ports('tzsp'), address: req.address ?? undefined, save: req.save ?? 'received',
      keepIndex: true, label, output: this.spoolPath(label), alertsPath: req.alertsPath ? resolve(req.alertsPath) : undefined,
    };
    return this.startLive({ mode: 'listen', options }, 'cloud-TAP feed');
  }

  /** A spool file in the configured spool directory; undefined leaves the capture service's default. */
  private spoolPath(label: string): string | undefined {
    const dir = this.opts.spoolDir;
    if (!dir) return undefined;
    mkdirSync(dir, { recursive: true });
    const safe = label.replace(/[^A-Za-z0-9_.+-]+/g, '-');
    return join(dir, `tapscope_${safe}_${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}_${randomBytes(3).toString('hex')}.pcapng`);
  }

  /**
   * Runs a live source in a worker thread (capture/live-worker.ts): the helper's packets, the
   * spool and the analysis never touch this thread, which only applies the throttled batches.
   */
  private async startLive(job: LiveJob, name: string): Promise<SessionInfo> {
    const { startLiveWorker } = await import('../capture/live-worker.js');
    const id = randomBytes(6).toString('hex');
    let data: SessionData | null = null;
    let lastEmit = 0;
    // The analysis window of the capture's budgeted analysis (capture/live-worker.ts APP_ANALYSIS_BUDGET).
    let analysis: CaptureStats['analysis'] = null;
    const stats = (c: CaptureCounters | null, running: boolean, message: string | null): void => {
      this.emit('capture', {
        sessionId: id, running, packets: c?.packets ?? 0, bytes: c?.bytes ?? 0, droppedKernel: c?.droppedByKernel ?? 0, droppedApp: c?.droppedByApp ?? 0,
        elapsed: c?.elapsedSec ?? 0, message, analysis,
      });
    };
    const onMessage = (m: LiveWorkerEvent): void => {
      if (m.type === 'started') {
        data = new SessionData(id, m.path);
        return;
      }
      if (!data || m.type === 'start-failed') return;
      if (m.type === 'rotated') {
        // The analysis started afresh (its budget): the next batches are a new session's.
        analysis = m.analysis;
        data = new SessionData(id, data.path);
        const e = this.sessions.get(id);
        if (e) {
          e.reader.close();
          e.data = data;
          e.reader = new PacketReader(data, []);
          e.filter = new PacketFilter(data, e.reader);
        }
        return;
      }
      if (m.type === 'delta') {
        analysis = m.delta.analysis ?? analysis;
        return stats(m.delta.counters, true, null);
      }
      if (m.type === 'end') return stats(m.end.counters ?? null, false, m.end.error ? m.end.error.message : null);
      data.apply(m);
      const now = Date.now();
      if (m.type === 'done' || m.type === 'failed' || now - lastEmit > 100) {
        lastEmit = now;
        this.emit('progress', data.progress());
      }
    };
    let h: LiveWorkerHandle;
    try {
      h = await startLiveWorker(job, onMessage);
    } catch (e) {
      throw new ApiError((e as Error).message, (e as { code?: string }).code ?? 'capture-failed');
    }
    const sessionData = data ?? new SessionData(id, h.path);
    data = sessionData;
    const liveReader = new PacketReader(sessionData, []);
    const entry: Live = {
      data: sessionData, reader: liveReader, filter: new PacketFilter(sessionData, liveReader), worker: null, cancel: new SharedArrayBuffer(4), decodeAs: [],
      done: h.ended.then(() => undefined),
      stop: async () => {
        await h.stop();
      },
    };
    this.sessions.set(id, entry);
    stats(null, true, null);
    const feeds = h.ports.map((p) => ({ encap: p.encap as TapFeed['encap'], port: p.port }));
    const title = feeds.length ? `${feeds.map((f) => `${f.encap.toUpperCase()} udp/${f.port}`).join(', ')} (live)` : name;
    return { sessionId: id, path: h.path, name: title, state: sessionData.state, live: true, ...(feeds.length ? { feeds } : {}) };
  }

  async stopCapture(sessionId: string): Promise<void> {
    const l = this.live(sessionId);
    if (!l.stop) throw new ApiError('this session is not a live capture', 'invalid-argument');
    await l.stop();
  }

  // ---- unfinished captures (a crash left the spool and its marker behind) -------------

  private async unfinished(): Promise<import('../capture/live-sink.js').UnfinishedCapture[]> {
    return (await this.capture()).findUnfinished(this.opts.spoolDir ?? undefined);
  }

  private async unfinishedById(id: string): Promise<import('../capture/live-sink.js').UnfinishedCapture> {
    const u = (await this.unfinished()).find((x) => basename(x.marker) === id);
    if (!u) throw new ApiError(`no unfinished capture ${id}`, 'not-found');
    // A marker naming anything but its own spool files in the spool directory (live-sink.ts).
    if (u.refused) throw new ApiError(u.refused, 'forbidden');
    return u;
  }

  async unfinishedCaptures(): Promise<UnfinishedCaptureInfo[]> {
    const svc = await this.capture();
    const out: UnfinishedCaptureInfo[] = [];
    for (const u of await this.unfinished()) {
      // A marker naming other files is not offered (nor touched).
      if (u.refused) continue;
      // A marker whose files are gone has nothing left to offer.
      if (u.files.length === 0) {
        svc.dismissUnfinished(u);
        continue;
      }
      out.push({ id: basename(u.marker), source: u.label || basename(u.files[0]), startedAt: u.startedAt, files: u.files, bytes: u.bytes, packets: countPackets(u.files, u.bytes) });
    }
    return out;
  }

  async openUnfinished(id: string): Promise<SessionInfo> {
    const u = await this.unfinishedById(id);
    const info = await this.openFile({ path: u.files[u.files.length - 1], decodeAs: [] });
    (await this.capture()).dismissUnfinished(u);
    return info;
  }

  async discardUnfinished(id: string): Promise<void> {
    const u = await this.unfinishedById(id);
    (await this.capture()).dismissUnfinished(u, true);
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.sessions.keys()].map((id) => this.closeSession(id)));
    if (this.exports) rmSync(this.exports, { recursive: true, force: true });
    this.exports = null;
    this.downloads.clear();
  }
}

/** Endpoint text, re-exported for transports and tests. */
export { endpointText };

/**
 * Default worker script: the bundle's sibling (out/cli/analyze-worker.mjs). Running from
 * the TypeScript sources (tests, development), the worker is bundled on the fly with
 * esbuild into a temporary file, since worker threads cannot load TypeScript themselves.
 */
export async function defaultWorker(baseDir: string): Promise<{ workerFile: string | null }> {
  const bundled = join(baseDir, 'analyze-worker.mjs');
  if (existsSync(bundled)) return { workerFile: bundled };
  const source = resolve(baseDir, '..', 'engine', 'analyze-worker.ts');
  if (!existsSync(source)) return { workerFile: null };
  sourceWorker ??= (async () => {
    // A private mkdtemp folder: a predictable /tmp name could be created first by another user.
    const outfile = join(mkdtempSync(join(tmpdir(), 'tapscope-worker-')), 'analyze-worker.mjs');
    // A computed name keeps bundlers from pulling esbuild into the shipped bundle.
    const name = 'esbuild';
    const esbuild = (await import(name)) as typeof import('esbuild');
    await esbuild.build({
      entryPoints: [source], outfile, bundle: true, platform: 'node', target: 'node20', format: 'esm', logLevel: 'error',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    return outfile;
  })();
  return { workerFile: await sourceWorker };
}

let sourceWorker: Promise<string> | null = null;

export function repoRootFrom(dir: string): string {
  let d = dir;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'package.json'))) return d;
    d = dirname(d);
  }
  return dir;
}
