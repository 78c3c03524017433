import type { Frame } from '../decode/frame.js';
import { FlowCache, type FlowCacheOptions, type FlowCacheStats } from './flow-cache.js';
import { DatagramSender, type Collector } from './flow-export.js';
import type { FlowRecord } from './flow-records.js';
import { IpfixEncoder } from './ipfix.js';
import { Netflow9Encoder } from './netflow9.js';

/*
 * Live flow export for `tapscope capture|listen` (and the app's live capture): the flow
 * cache meters every packet; flows that expire are encoded with the same encoders as
 * `tapscope flows` (ipfix.ts, netflow9.ts: one sequence number per exporter, kept across
 * messages) and sent over UDP on one socket per collector, paced, through a bounded queue.
 *
 * Templates go in the first message, every 16 messages, and at least every
 * TEMPLATE_REFRESH_MS (RFC 7011 §8.4 / §10.3.6: over UDP templates are resent
 * periodically, so a collector that restarts learns them again). Nothing waits on the
 * collector: records are batched at most BATCH at a time and a datagram that does not fit
 * the queue is dropped and counted.
 */

export interface LiveFlowOptions extends FlowCacheOptions {
  ipfix?: Collector | null;
  netflow9?: Collector | null;
}

/** Records encoded in one go (bounds the batch held between ticks). */
const BATCH = 512;
/** Datagrams queued per collector before new ones are dropped (about 23 MB). */
const MAX_QUEUE = 16384;
export const TEMPLATE_REFRESH_MS = 60_000;
/** Records of ended flows kept for the summary (a fixed budget: about 0.5 MB). */
export const RECENT_FLOWS = 1000;
/** Flows flushed at a time at exit (their records fit the queue many times over). */
const FLUSH_FLOWS = 2048;

export interface LiveFlowStats extends FlowCacheStats {
  idleSec: number;
  activeSec: number;
  /** The newest RECENT_FLOWS records of ended flows (oldest first): what a view of a long run can list. */
  recent: FlowRecord[];
  /** Per collector: datagrams sent and dropped (queue full or socket error). */
  exporters: { protocol: 'ipfix' | 'netflow9'; collector: string; messages: number; dropped: number; error: string | null }[];
}

interface Exporter {
  protocol: 'ipfix' | 'netflow9';
  to: Collector;
  sender: DatagramSender;
  encode(records: FlowRecord[]): Buffer[];
  resendTemplates(): void;
}

export class LiveFlowExport {
  readonly cache: FlowCache;
  private batch: FlowRecord[] = [];
  private readonly exporters: Exporter[] = [];
  private lastTemplatesMs = Date.now();
  /** Wall clock at the last packet: the cache's clock moves on with it when the traffic stops. */
  private wallAtPacket = Date.now();
  private finished = false;
  /** Ring of the last RECENT_FLOWS records; `recentNext` is the oldest once full. */
  private readonly recent: FlowRecord[] = [];
  private recentNext = 0;

  /**
   * `enrich` may fill a record's analysis elements (handshake RTT, counters) from the
   * connection its tag names (observe's tag), when the analysis still has it.
   */
  /**
   * Set by a sink whose analysis runs in another thread (capture/analysis-thread.ts): ended
   * records pass through it (in order, batch by batch) to get their analysis elements before
   * they are encoded. It returns null when it cannot take them now (too many records already
   * wait for the analysis): they are encoded at once, without those elements, so a slow
   * analysis never holds the export or its memory.
   */
  enrichAsync: ((records: FlowRecord[]) => Promise<FlowRecord[]> | null) | null = null;
  /** The last batch handed to enrichAsync and encoded (keeps batches in order). */
  private enriching: Promise<void> = Promise.resolve();

  constructor(private readonly opts: LiveFlowOptions, private readonly enrich: ((r: FlowRecord, tag: number) => void) | null = null) {
    this.cache = new FlowCache(opts, (r, tag) => {
      if (tag >= 0) this.enrich?.(r, tag);
      if (this.recent.length < RECENT_FLOWS) this.recent.push(r);
      else {
        this.recent[this.recentNext] = r;
        this.recentNext = (this.recentNext + 1) % RECENT_FLOWS;
      }
      this.batch.push(r);
      if (this.batch.length >= BATCH) this.send();
    });
    if (opts.ipfix) {
      const enc = new IpfixEncoder();
      this.exporters.push({ protocol: 'ipfix', to: opts.ipfix, sender: new DatagramSender(opts.ipfix, MAX_QUEUE), encode: (rs) => enc.encode(rs, Math.floor(Date.now() / 1000)), resendTemplates: () => enc.resendTemplates() });
    }
    if (opts.netflow9) {
      const enc = new Netflow9Encoder();
      this.exporters.push({ protocol: 'netflow9', to: opts.netflow9, sender: new DatagramSender(opts.netflow9, MAX_QUEUE), encode: (rs) => enc.encode(rs), resendTemplates: () => enc.resendTemplates() });
    }
  }

  observe(f: Frame, tag = -1): void {
    this.cache.observe(f, tag);
    this.packetsSinceTick++;
  }

  /** Packets observed since the last tick (the wall clock is read once a tick, not per packet). */
  private packetsSinceTick = 0;

  /** Timer tick: expires flows by the clock (packet time, moved on by the wall clock since the last packet) and sends. */
  tick(): void {
    if (this.finished) return;
    if (this.packetsSinceTick > 0) {
      this.packetsSinceTick = 0;
      this.wallAtPacket = Date.now(); // within a tick (250 ms) of the last packet
    }
    const c = this.cache;
    if (c.clockMs > 0) c.expire(c.clockMs + Math.max(0, Date.now() - this.wallAtPacket));
    if (Date.now() - this.lastTemplatesMs >= TEMPLATE_REFRESH_MS) {
      this.lastTemplatesMs = Date.now();
      for (const e of this.exporters) e.resendTemplates();
    }
    this.send();
  }

  /**
   * Exit: every flow still in the cache is reported (forced end) and sent, FLUSH_FLOWS at a
   * time with the queues drained in between, so a full cache leaves without overflowing
   * them. closed() resolves when it is done.
   */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.closing = this.flushGradually();
  }

  private closing: Promise<void> | null = null;

  private async flushGradually(): Promise<void> {
    for (;;) {
      const left = this.cache.flushSome(FLUSH_FLOWS);
      this.send();
      await this.enriching;
      for (const e of this.exporters) await e.sender.drained();
      if (left === 0) break;
    }
    for (const e of this.exporters) e.sender.close();
  }

  /** Resolves when finish() has sent everything and closed the sockets. */
  closed(): Promise<void> {
    return this.closing ?? Promise.resolve();
  }

  stats(): LiveFlowStats {
    return {
      ...this.cache.stats,
      ended: { ...this.cache.stats.ended },
      idleSec: this.cache.idleMs / 1000,
      activeSec: this.cache.activeMs / 1000,
      recent: [...this.recent.slice(this.recentNext), ...this.recent.slice(0, this.recentNext)],
      exporters: this.exporters.map((e) => ({
        protocol: e.protocol, collector: `${e.to.host}:${e.to.port}`, messages: e.sender.sent, dropped: e.sender.dropped, error: e.sender.error?.message ?? null,
      })),
    };
  }

  private send(): void {
    if (this.batch.length === 0) return;
    const rs = this.batch;
    this.batch = [];
    const enrich = this.enrichAsync;
    const p = enrich?.(rs) ?? null;
    if (p) {
      const q = p.catch(() => rs); // without the analysis's elements rather than not at all
      this.enriching = this.enriching.then(() => q).then((out) => this.encode(out));
      return;
    }
    this.encode(rs);
  }

  private encode(rs: FlowRecord[]): void {
    for (const e of this.exporters) {
      let msgs: Buffer[];
      try {
        msgs = e.encode(rs);
      } catch {
        e.sender.dropped++; // NetFlow v9 cannot express a flow longer than 49.7 days: IPFIX can
        continue;
      }
      e.sender.enqueue(msgs);
    }
  }
}
