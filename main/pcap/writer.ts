import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US } from './pcap.js';
import { BT_EPB, BT_IDB, BT_SHB, BYTE_ORDER_MAGIC, IF_DESCRIPTION, IF_NAME, IF_TSRESOL, OPT_COMMENT } from './pcapng.js';
import type { CaptureInterface } from './record.js';

/*
 * Streaming capture writers. Packets are appended to a buffer and written to the file
 * descriptor when it fills or on flush(), so a live capture keeps everything up to its
 * last flush if the process dies. Files are written little-endian:
 *   pcap:   file header (24), then per packet ts_sec ts_frac incl_len orig_len + bytes
 *   pcapng: SHB (shb_userappl, section comments), one IDB per interface (if_name,
 *           if_description, if_tsresol), EPB per packet (opt_comment).
 * Atomic mode writes PATH.tmp and renames it to PATH at close(); abort() removes it.
 */

export type CaptureFormat = 'pcap' | 'pcapng';

/** One packet to write; the same shape as the reader's PacketRecord, so records pass straight through. */
export interface WriteRecord {
  tsSec: number;
  /** Nanoseconds within the second. */
  tsNsec: number;
  caplen: number;
  origLen: number;
  data: Uint8Array;
  offset: number;
  /** Index into the writer's interfaces. */
  interfaceId: number;
  comment?: string | null;
}

export interface CaptureWriterOptions {
  format: CaptureFormat;
  /** Interfaces known up front; more can be added with addInterface() (pcapng). */
  interfaces?: CaptureInterface[];
  /** Write PATH.tmp and rename it to PATH at close(). Default false (streaming capture). */
  atomic?: boolean;
  /** pcap only: nanosecond magic. Default: when any interface has a finer than µs resolution. */
  nanos?: boolean;
  /** pcapng only: section comments (shb_comment). */
  sectionComments?: string[];
  /** pcapng only: Decryption Secrets Blocks (complete blocks, little-endian) written after the interfaces given here. */
  decryptionSecrets?: Uint8Array[];
  /** fsync on every flush(); close() always fsyncs an atomic file before renaming. */
  fsync?: boolean;
  /** Bytes buffered before a write(2). Default 256 KiB. */
  bufferSize?: number;
}

export interface CaptureWriter {
  readonly path: string;
  readonly format: CaptureFormat;
  /** Bytes handed to the file so far (including buffered ones). */
  readonly bytesWritten: number;
  readonly packets: number;
  /** Adds an interface and returns its id. pcap files accept only one link type. */
  addInterface(iface: CaptureInterface): number;
  write(rec: WriteRecord): void;
  /** Writes buffered bytes to the file (and fsyncs when asked or configured). */
  flush(sync?: boolean): void;
  /** Flushes, closes and (atomic mode) renames into place. */
  close(): void;
  /**
   * Gives up: in atomic mode closes and deletes PATH.tmp (PATH is untouched); in streaming
   * mode closes the file without flushing the buffer, keeping what was already written.
   */
  abort(): void;
}

const DEFAULT_BUFFER = 256 * 1024;
const DEFAULT_SNAPLEN = 262144;
const TWO32 = 4294967296;
const SHB_USERAPPL = 4;
const LINKTYPE_ETHERNET = 1;
const utf8 = new TextEncoder();

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such directory',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'is a directory',
  EIO: 'input/output error',
  EFBIG: 'file too large',
};

/** An fs error rewritten to name the capture file and the cause in words. */
export class CaptureWriteError extends Error {
  readonly code: string | undefined;
  constructor(readonly path: string, action: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    const why = code ? `${ERRNO_TEXT[code] ?? (cause as Error).message} (${code})` : String((cause as Error)?.message ?? cause);
    super(`cannot ${action} capture file ${path}: ${why}`);
    this.name = 'CaptureWriteError';
    this.code = code;
  }
}

/** if_tsresol byte for units per second (10^k or 2^k); null for the µs default. */
export function tsresolByte(units: number): number | null {
  if (units === 1e6) return null;
  for (let k = 0; k < 128; k++) {
    if (10 ** k === units) return k;
    if (2 ** k === units) return 0x80 | k;
  }
  throw new Error(`timestamp resolution ${units} units/s is neither 10^k nor 2^k`);
}

/**
 * sec * units + frac as a 64-bit (hi, lo) pair without BigInt: sec < 2^32 and units <= 1e9 < 2^30,
 * so each 16-bit half of sec times units stays below 2^46 (exact in a double).
 */
function ts64(sec: number, frac: number, units: number, out: Float64Array): void {
  const secHi = Math.floor(sec / 65536);
  const secLo = sec - secHi * 65536;
  const x = secHi * units; // contributes x * 2^16
  const xHi = Math.floor(x / 65536);
  const y = (x - xHi * 65536) * 65536 + secLo * units + frac;
  const carry = Math.floor(y / TWO32);
  out[0] = xHi + carry;
  out[1] = y - carry * TWO32;
}

class Writer implements CaptureWriter {
  readonly format: CaptureFormat;
  bytesWritten = 0;
  packets = 0;
  private fd: number;
  private readonly filePath: string;
  private buf: Uint8Array;
  private view: DataView;
  private used = 0;
  private readonly ifaces: CaptureInterface[] = [];
  private nanos: boolean | undefined;
  private headerDone = false;
  private pcapLinkType = -1;
  private closed = false;
  private readonly ts = new Float64Array(2);

  constructor(readonly path: string, private opts: CaptureWriterOptions) {
    this.format = opts.format;
    this.filePath = opts.atomic ? path + '.tmp' : path;
    this.nanos = opts.nanos;
    this.buf = new Uint8Array(Math.max(opts.bufferSize ?? DEFAULT_BUFFER, 4096));
    this.view = new DataView(this.buf.buffer);
    try {
      this.fd = openSync(this.filePath, 'w');
    } catch (e) {
      throw new CaptureWriteError(this.filePath, 'create', e);
    }
    try {
      if (this.format === 'pcapng') this.writeShb();
      for (const i of opts.interfaces ?? []) this.addInterface(i);
      if (opts.decryptionSecrets?.length && this.format !== 'pcapng') throw new Error('decryption secrets need pcapng');
      for (const b of opts.decryptionSecrets ?? []) {
        this.room(b.length);
        this.bytes(b, 0, b.length);
        this.bytesWritten += b.length;
      }
    } catch (e) {
      this.abortQuietly();
      throw e;
    }
  }

  addInterface(iface: CaptureInterface): number {
    this.checkOpen();
    const id = this.ifaces.length;
    // Records carry nanoseconds: a finer source resolution (e.g. ps) is written as ns.
    const stored = { ...iface, id, tsUnitsPerSec: iface.tsUnitsPerSec > 1e9 ? 1e9 : iface.tsUnitsPerSec };
    this.ifaces.push(stored);
    if (this.format === 'pcapng') this.writeIdb(stored);
    else if (id === 0) this.pcapLinkType = iface.linkType;
    else if (iface.linkType !== this.pcapLinkType) {
      throw new Error(`pcap files hold one link type: interface ${id} has ${iface.linkType}, the file ${this.pcapLinkType} (write pcapng instead)`);
    }
    return id;
  }

  write(r: WriteRecord): void {
    this.checkOpen();
    const iface = this.ifaces[r.interfaceId];
    if (!iface) throw new Error(`packet refers to interface ${r.interfaceId}, but the writer has ${this.ifaces.length}`);
    if (r.caplen < 0 || r.offset < 0 || r.offset + r.caplen > r.data.length) throw new Error(`packet bytes [${r.offset}, ${r.offset + r.caplen}) lie outside its buffer`);
    if (this.format === 'pcap') this.writePcapRecord(r);
    else this.writeEpb(r, iface);
    this.packets++;
  }

  flush(sync = this.opts.fsync ?? false): void {
    this.checkOpen();
    if (!this.headerDone && this.format === 'pcap') this.writePcapHeader();
    this.drain();
    if (sync) {
      try {
        fsyncSync(this.fd);
      } catch (e) {
        throw new CaptureWriteError(this.filePath, 'sync', e);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush(this.opts.atomic || this.opts.fsync);
    } catch (e) {
      this.abortQuietly();
      throw e;
    }
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch (e) {
      throw new CaptureWriteError(this.filePath, 'close', e);
    }
    if (this.opts.atomic) {
      try {
        renameSync(this.filePath, this.path);
      } catch (e) {
        try { unlinkSync(this.filePath); } catch { /* already gone */ }
        throw new CaptureWriteError(this.path, 'rename into', e);
      }
    }
  }

  abort(): void {
    if (this.closed) return;
    this.abortQuietly();
  }

  private abortQuietly(): void {
    this.closed = true;
    try { closeSync(this.fd); } catch { /* closing anyway */ }
    // Only the temp file is ours to delete; a streaming file keeps what reached it.
    if (this.opts.atomic) try { unlinkSync(this.filePath); } catch { /* nothing to remove */ }
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`capture writer for ${this.path} is closed`);
  }

  // --- buffer --------------------------------------------------------------

  /** Room for n more bytes in the buffer (drains or grows it). */
  private room(n: number): void {
    if (this.used + n <= this.buf.length) return;
    this.drain();
    if (n > this.buf.length) {
      let len = this.buf.length;
      while (len < n) len *= 2;
      this.buf = new Uint8Array(len);
      this.view = new DataView(this.buf.buffer);
    }
  }

  private drain(): void {
    let done = 0;
    try {
      while (done < this.used) done += writeSync(this.fd, this.buf, done, this.used - done);
    } catch (e) {
      // Keep what was not written at the front, so a retry after freeing space can continue.
      this.buf.copyWithin(0, done, this.used);
      this.used -= done;
      throw new CaptureWriteError(this.filePath, 'write', e);
    }
    this.used = 0;
  }

  private u8(v: number): void { this.buf[this.used++] = v; }
  private u16(v: number): void { this.view.setUint16(this.used, v, true); this.used += 2; }
  private u32(v: number): void { this.view.setUint32(this.used, v, true); this.used += 4; }
  private bytes(src: Uint8Array, off: number, len: number): void {
    this.buf.set(src.subarray(off, off + len), this.used);
    this.used += len;
  }
  private pad4(len: number): void {
    const p = (4 - (len & 3)) & 3;
    for (let i = 0; i < p; i++) this.buf[this.used++] = 0;
  }

  // --- pcap ----------------------------------------------------------------

  private writePcapHeader(): void {
    this.headerDone = true;
    if (this.nanos === undefined) this.nanos = this.ifaces.some((i) => i.tsUnitsPerSec > 1e6);
    const first = this.ifaces[0];
    const snaplen = Math.max(0, ...this.ifaces.map((i) => i.snaplen)) || DEFAULT_SNAPLEN;
    this.room(24);
    this.u32(this.nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US);
    this.u16(2);
    this.u16(4);
    this.u32(0); // thiszone
    this.u32(0); // sigfigs
    this.u32(snaplen);
    this.u32(first ? first.linkType : LINKTYPE_ETHERNET);
    this.bytesWritten += 24;
  }

  private writePcapRecord(r: WriteRecord): void {
    if (!this.headerDone) this.writePcapHeader();
    let sec = r.tsSec;
    let frac = this.nanos ? r.tsNsec : Math.floor(r.tsNsec / 1000); // µs files truncate, as libpcap does
    if (frac >= (this.nanos ? 1e9 : 1e6)) { sec++; frac -= this.nanos ? 1e9 : 1e6; }
    this.room(16 + r.caplen);
    this.u32(sec >>> 0);
    this.u32(frac);
    this.u32(r.caplen);
    this.u32(Math.max(r.origLen, r.caplen));
    this.bytes(r.data, r.offset, r.caplen);
    this.bytesWritten += 16 + r.caplen;
  }

  // --- pcapng --------------------------------------------------------------

  private optLen(s: Uint8Array | null): number {
    return s ? 4 + ((s.length + 3) & ~3) : 0;
  }

  private opt(code: number, s: Uint8Array): void {
    this.u16(code);
    this.u16(s.length);
    this.bytes(s, 0, s.length);
    this.pad4(s.length);
  }

  private writeShb(): void {
    const comments = (this.opts.sectionComments ?? []).map((c) => utf8.encode(c));
    const appl = utf8.encode('Tapscope');
    let opts = this.optLen(appl) + 4;
    for (const c of comments) opts += this.optLen(c);
    const len = 28 + opts;
    this.room(len);
    this.u32(BT_SHB);
    this.u32(len);
    this.u32(BYTE_ORDER_MAGIC);
    this.u16(1);
    this.u16(0);
    this.u32(0xffffffff); // section length -1: not known while streaming
    this.u32(0xffffffff);
    for (const c of comments) this.opt(OPT_COMMENT, c);
    this.opt(SHB_USERAPPL, appl);
    this.u32(0); // opt_endofopt
    this.u32(len);
    this.bytesWritten += len;
  }

  private writeIdb(iface: CaptureInterface): void {
    const name = iface.name ? utf8.encode(iface.name) : null;
    const desc = iface.description ? utf8.encode(iface.description) : null;
    const resol = tsresolByte(iface.tsUnitsPerSec);
    const optBytes = this.optLen(name) + this.optLen(desc) + (resol === null ? 0 : 8);
    const len = 20 + optBytes + (optBytes ? 4 : 0);
    this.room(len);
    this.u32(BT_IDB);
    this.u32(len);
    this.u16(iface.linkType);
    this.u16(0);
    this.u32(iface.snaplen);
    if (name) this.opt(IF_NAME, name);
    if (desc) this.opt(IF_DESCRIPTION, desc);
    if (resol !== null) {
      this.u16(IF_TSRESOL);
      this.u16(1);
      this.u32(resol); // the byte, then 3 bytes of padding (little-endian)
    }
    if (optBytes) this.u32(0);
    this.u32(len);
    this.bytesWritten += len;
  }

  private writeEpb(r: WriteRecord, iface: CaptureInterface): void {
    const units = iface.tsUnitsPerSec;
    let sec = r.tsSec;
    let frac = units === 1e9 ? r.tsNsec : Math.floor((r.tsNsec * units) / 1e9);
    if (frac >= units) { sec++; frac -= units; }
    ts64(sec, frac, units, this.ts);
    const comment = r.comment ? utf8.encode(r.comment) : null;
    const optBytes = comment ? this.optLen(comment) + 4 : 0;
    const len = 32 + ((r.caplen + 3) & ~3) + optBytes;
    this.room(len);
    this.u32(BT_EPB);
    this.u32(len);
    this.u32(r.interfaceId);
    this.u32(this.ts[0]);
    this.u32(this.ts[1]);
    this.u32(r.caplen);
    this.u32(Math.max(r.origLen, r.caplen));
    this.bytes(r.data, r.offset, r.caplen);
    this.pad4(r.caplen);
    if (comment) {
      this.opt(OPT_COMMENT, comment);
      this.u32(0);
    }
    this.u32(len);
    this.bytesWritten += len;
  }
}

/**
 * Opens a streaming writer. Example (live capture):
 *   const w = openCaptureWriter(path, { format: 'pcapng', interfaces: [iface] });
 *   w.write(rec); ... w.flush(); ... w.close();
 */
export function openCaptureWriter(path: string, opts: CaptureWriterOptions): CaptureWriter {
  return new Writer(path, opts);
}

/** Writes packets to PATH atomically (PATH.tmp, then rename); on any error PATH is untouched. */
export function saveCapture(
  path: string,
  packets: Iterable<WriteRecord>,
  opts: Omit<CaptureWriterOptions, 'atomic'>,
): { packets: number; bytes: number } {
  const w = openCaptureWriter(path, { ...opts, atomic: true });
  try {
    for (const p of packets) w.write(p);
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
  return { packets: w.packets, bytes: w.bytesWritten };
}
