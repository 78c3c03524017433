/*
 * Feeds for an IDS (Snort, Suricata) beside the spool: the packets a live capture saves
 * (with `listen --inner`, the clean inner frames) as classic pcap, which every IDS reads.
 *
 *   PcapStreamFeed  `-w -`: one pcap stream on stdout (`tcpdump -r -`, `snort -r -`).
 *                   Written without blocking: a reader that falls behind fills a bounded
 *                   buffer (STREAM_BUFFER), then packets are dropped and counted (app
 *                   drops), never waited for; the receive path goes on at its own pace.
 *   PcapDirFeed     `--ids-dir DIR`: closed pcap files appearing in DIR, rotated by size
 *                   and age and removed beyond `keep` files, for
 *                   `suricata -r DIR --pcap-file-continuous`. A file is written under
 *                   DIR/.partial/ and renamed into DIR when closed, so the IDS never reads
 *                   half a file.
 *
 * Classic pcap has one link type per file: frames are written as Ethernet, raw-IP inner
 * frames (GENEVE carrying IP) get a synthetic Ethernet header (zero MACs, the EtherType of
 * their IP version). Frames of another link type are counted in `skipped`.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PCAP_MAGIC_NS } from '../pcap/pcap.js';
import { LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_RAW } from '../pcap/link-types.js';
import { openCaptureWriter, type CaptureWriter, type WriteRecord } from '../pcap/writer.js';

export interface FeedStats {
  /** Packets written to the feed. */
  packets: number;
  /** Packets dropped because the reader was behind (stream) or a write failed (directory). */
  dropped: number;
  /** Packets of a link type classic pcap cannot carry alongside Ethernet. */
  skipped: number;
  /** Why the feed stopped (reader closed the pipe, disk error), else null. */
  error: string | null;
  /** Directory feed: closed files in the directory now (oldest first). */
  files?: string[];
}

export interface PacketFeed {
  write(r: WriteRecord, linkType: number): void;
  /** Timer: retry pending output, rotate by age. */
  tick(): void;
  close(): void;
  readonly stats: FeedStats;
}

const ETH_HDR = 14;
const SNAPLEN = 262144;

/** The record as an Ethernet frame (a copy in `scratch` for raw IP), or null for other link types. */
export function asEthernet(r: WriteRecord, linkType: number, scratch: { buf: Uint8Array; rec: WriteRecord }): WriteRecord | null {
  if (linkType === LINKTYPE_ETHERNET) return r;
  if (linkType !== LINKTYPE_RAW && linkType !== LINKTYPE_IPV4 && linkType !== LINKTYPE_IPV6) return null;
  const n = ETH_HDR + r.caplen;
  if (scratch.buf.length < n) scratch.buf = new Uint8Array(Math.max(n, scratch.buf.length * 2));
  const b = scratch.buf;
  b.fill(0, 0, 12);
  const v6 = r.caplen > 0 && r.data[r.offset] >> 4 === 6;
  b[12] = v6 ? 0x86 : 0x08;
  b[13] = v6 ? 0xdd : 0x00;
  b.set(r.data.subarray(r.offset, r.offset + r.caplen), ETH_HDR);
  const s = scratch.rec;
  s.tsSec = r.tsSec;
  s.tsNsec = r.tsNsec;
  s.caplen = n;
  s.origLen = r.origLen + ETH_HDR;
  s.data = b;
  s.offset = 0;
  s.interfaceId = 0;
  return s;
}

const newScratch = () => ({ buf: new Uint8Array(2048), rec: { tsSec: 0, tsNsec: 0, caplen: 0, origLen: 0, data: new Uint8Array(0), offset: 0, interfaceId: 0 } as WriteRecord });

/** Bytes a slow reader may leave unread before packets are dropped. */
export const STREAM_BUFFER = 4 << 20;

/**
 * Opens stdout for writing without blocking: a pipe (or FIFO) is reopened through
 * /proc/self/fd/1 with O_NONBLOCK (a new open file description, so fd 1 is untouched).
 * Anything else (a file, a terminal, another system) is written through fd 1 as it is.
 */
function openStdout(): { fd: number; own: boolean } {
  try {
    if (process.platform === 'linux' && fstatSync(1).isFIFO()) {
      return { fd: openSync('/proc/self/fd/1', constants.O_WRONLY | constants.O_NONBLOCK), own: true };
    }
  } catch {
    // fall back to fd 1
  }
  return { fd: 1, own: false };
}

export class PcapStreamFeed implements PacketFeed {
  readonly stats: FeedStats = { packets: 0, dropped: 0, skipped: 0, error: null };
  private readonly fd: number;
  private readonly ownFd: boolean;
  /** Unwritten bytes: [from, to) of buf. */
  private buf = new Uint8Array(STREAM_BUFFER);
  private from = 0;
  private to = 0;
  private readonly view = new DataView(this.buf.buffer);
  private readonly scratch = newScratch();
  private closed = false;

  constructor(target?: { fd: number; own: boolean }) {
    const t = target ?? openStdout();
    this.fd = t.fd;
    this.ownFd = t.own;
    // Global header (tcpdump's pcap format, nanosecond timestamps), little-endian.
    const v = this.view;
    v.setUint32(0, PCAP_MAGIC_NS, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setUint32(8, 0, true);
    v.setUint32(12, 0, true);
    v.setUint32(16, SNAPLEN, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    this.to = 24;
    this.drain();
  }

  write(r: WriteRecord, linkType: number): void {
    if (this.closed) return;
    if (this.stats.error) {
      this.stats.dropped++;
      return;
    }
    const e = asEthernet(r, linkType, this.scratch);
    if (!e) {
      this.stats.skipped++;
      return;
    }
    const n = 16 + e.caplen;
    if (this.to + n > this.buf.length) {
      this.drain();
      if (this.from > 0) {
        this.buf.copyWithin(0, this.from, this.to);
        this.to -= this.from;
        this.from = 0;
      }
      if (this.to + n > this.buf.length) {
        this.stats.dropped++; // the reader is behind: never wait for it
        return;
      }
    }
    const v = this.view;
    const o = this.to;
    v.setUint32(o, e.tsSec >>> 0, true);
    v.setUint32(o + 4, e.tsNsec >>> 0, true);
    v.setUint32(o + 8, e.caplen, true);
    v.setUint32(o + 12, e.origLen, true);
    this.buf.set(e.data.subarray(e.offset, e.offset + e.caplen), o + 16);
    this.to += n;
    this.stats.packets++;
    if (this.to - this.from >= 64 * 1024) this.drain();
  }

  tick(): void {
    this.drain();
  }

  /** Writes what the pipe takes now; EAGAIN leaves the rest for later. */
  private drain(): void {
    while (this.from < this.to && !this.stats.error) {
      let n: number;
      try {
        n = writeSync(this.fd, this.buf, this.from, this.to - this.from);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return;
        this.stats.error = code === 'EPIPE' ? 'the reader closed the pipe' : `cannot write the pcap stream: ${(e as Error).message}`;
        this.from = this.to = 0;
        return;
      }
      this.from += n;
    }
    if (this.from === this.to) this.from = this.to = 0;
  }

  /** Exit: what the reader has not taken within `graceMs` is counted as dropped. */
  close(graceMs = 2000): void {
    if (this.closed) return;
    const end = Date.now() + graceMs;
    while (this.from < this.to && !this.stats.error && Date.now() < end) {
      this.drain();
      if (this.from < this.to) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
    this.closed = true;
    if (this.ownFd) try { closeSync(this.fd); } catch { /* closed */ }
  }
}

export interface DirFeedOptions {
  dir: string;
  /** Close a file at this size (MB, 10^6 bytes). */
  fileMB: number;
  /** ... or this many seconds after it opened. */
  fileSec: number;
  /** Closed files kept; older ones are deleted. */
  keep: number;
}

const PARTIAL = '.partial';

export class PcapDirFeed implements PacketFeed {
  readonly stats: FeedStats = { packets: 0, dropped: 0, skipped: 0, error: null, files: [] };
  private writer: CaptureWriter | null = null;
  private name = '';
  private openedMs = 0;
  private seq = 0;
  private readonly scratch = newScratch();
  private closed = false;

  constructor(private readonly opts: DirFeedOptions) {
    mkdirSync(join(opts.dir, PARTIAL), { recursive: true });
    // Files of an earlier run count towards retention (oldest first by name: time-stamped).
    this.stats.files = readdirSync(opts.dir).filter((n) => /^tapscope-\d{14}-\d{5}\.pcap$/.test(n)).sort().map((n) => join(opts.dir, n));
  }

  write(r: WriteRecord, linkType: number): void {
    if (this.closed) return;
    const e = asEthernet(r, linkType, this.scratch);
    if (!e) {
      this.stats.skipped++;
      return;
    }
    try {
      if (!this.writer) this.open();
      this.writer!.write(e);
      this.stats.packets++;
      if (this.writer!.bytesWritten >= this.opts.fileMB * 1e6) this.rotate();
    } catch (err) {
      this.stats.dropped++;
      this.stats.error ??= (err as Error).message;
      try { this.writer?.abort(); } catch { /* gone */ }
      this.writer = null;
    }
  }

  tick(): void {
    if (this.writer && Date.now() - this.openedMs >= this.opts.fileSec * 1000) {
      try {
        this.rotate();
      } catch (err) {
        this.stats.error ??= (err as Error).message;
        this.writer = null;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    if (this.writer) {
      try {
        this.rotate();
      } catch (err) {
        this.stats.error ??= (err as Error).message;
      }
    }
    this.closed = true;
  }

  private open(): void {
    const d = new Date();
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    this.name = `tapscope-${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}-${p(++this.seq % 100000, 5)}.pcap`;
    this.writer = openCaptureWriter(join(this.opts.dir, PARTIAL, this.name), {
      format: 'pcap', nanos: true,
      interfaces: [{ id: 0, linkType: LINKTYPE_ETHERNET, snaplen: SNAPLEN, name: null, description: null, tsUnitsPerSec: 1e9 }],
    });
    this.openedMs = Date.now();
  }

  /** Closes the current file into the directory and applies retention. */
  private rotate(): void {
    const w = this.writer!;
    this.writer = null;
    w.close();
    const final = join(this.opts.dir, this.name);
    renameSync(w.path, final);
    const files = this.stats.files!;
    files.push(final);
    while (files.length > this.opts.keep) {
      const old = files.shift()!;
      try { unlinkSync(old); } catch { /* already gone (the IDS or an operator removed it) */ }
    }
  }
}

/** Ring files of the spool older than `hours` (by modification time), except the current one. */
export function filesOlderThan(files: string[], hours: number, now = Date.now()): string[] {
  const out: string[] = [];
  for (const f of files.slice(0, -1)) {
    try {
      if (now - statSync(f).mtimeMs > hours * 3600e3) out.push(f);
    } catch {
      // gone
    }
  }
  return out;
}
