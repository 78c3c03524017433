import { ChunkedFile } from './chunked-file.js';
import { CaptureFormatError, newRecord, type CaptureComment, type CaptureInterface, type PacketRecord } from './record.js';
import type { CaptureReader } from './reader.js';

/*
 * Classic libpcap format.
 *   file header (24): magic(4) version major(2) minor(2) thiszone(4) sigfigs(4) snaplen(4) linktype(4)
 *   record header (16): ts_sec(4) ts_frac(4) incl_len(4) orig_len(4), then incl_len bytes
 * The magic's byte order is the file's; a1b2c3d4 has µs fractions, a1b23c4d ns.
 */
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
/** Largest record a sane capture holds (Wireshark's limit is 256 KiB for most link types). */
export const MAX_RECORD = 256 * 1024 * 1024;

export class PcapReader implements CaptureReader {
  readonly format = 'pcap' as const;
  readonly interfaces: CaptureInterface[] = [];
  readonly comments: CaptureComment[] = [];
  error: CaptureFormatError | null = null;
  private rec = newRecord();
  private littleEndian = true;
  private nanos = false;
  private count = 0;
  private maxCaplen = 262144;
  private done = false;

  constructor(private file: ChunkedFile) {
    if (!file.ensure(24)) throw new CaptureFormatError('file too short for a pcap header', 0, 0);
    const v = file.view;
    const le = v.getUint32(0, true);
    const be = v.getUint32(0, false);
    if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) this.littleEndian = true;
    else if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) this.littleEndian = false;
    else throw new CaptureFormatError('not a pcap file (unknown magic)', 0, 0);
    this.nanos = v.getUint32(0, this.littleEndian) === PCAP_MAGIC_NS;
    const snaplen = v.getUint32(16, this.littleEndian);
    // The upper bits of the link-type field carry FCS information (pcap-savefile(5)).
    const linkType = v.getUint32(20, this.littleEndian) & 0x0fffffff;
    this.maxCaplen = Math.min(Math.max(snaplen, 262144), MAX_RECORD);
    this.interfaces.push({ id: 0, linkType, snaplen, name: null, description: null, tsUnitsPerSec: this.nanos ? 1e9 : 1e6 });
    this.rec.linkType = linkType;
    file.consume(24);
  }

  get bytesRead(): number { return this.file.offset; }
  get size(): number { return this.file.size; }

  next(): PacketRecord | null {
    if (this.done) return null;
    const f = this.file;
    // Nearly every record lies whole in the buffer: read it without the checks' calls.
    const p0 = f.pos;
    if (f.end - p0 >= 16) {
      const caplen = f.view.getUint32(p0 + 8, this.littleEndian);
      if (caplen <= this.maxCaplen && f.end - p0 >= 16 + caplen) return this.record(p0, caplen);
    }
    const at = f.offset;
    if (!f.ensure(16)) {
      if (f.available > 0) this.fail(`truncated record header (${f.available} of 16 bytes)`, at);
      this.done = true;
      return null;
    }
    const caplen = f.view.getUint32(f.pos + 8, this.littleEndian);
    if (caplen > this.maxCaplen) return this.fail(`record claims ${caplen} captured bytes, more than the maximum ${this.maxCaplen}`, at);
    if (at + 16 + caplen > f.size) return this.fail(`truncated packet (${f.size - at - 16} of ${caplen} bytes present)`, at);
    if (!f.ensure(16 + caplen)) return this.fail(`truncated packet (${f.available - 16} of ${caplen} bytes present)`, at);
    return this.record(f.pos, caplen);
  }

  /** The record whose header is at buf[p] and whose caplen bytes follow it in the buffer. */
  private record(p: number, caplen: number): PacketRecord {
    const f = this.file;
    const v = f.view;
    const le = this.littleEndian;
    const tsSec = v.getUint32(p, le);
    const frac = v.getUint32(p + 4, le);
    const origLen = v.getUint32(p + 12, le);
    const r = this.rec;
    r.index = this.count++;
    r.fileOffset = f.base + p;
    r.data = f.buf;
    r.view = v;
    r.offset = p + 16;
    r.caplen = caplen;
    r.origLen = Math.max(origLen, caplen);
    // A fraction of a second or more (seen in damaged or hand-edited files) is carried into
    // the seconds; tshark and tcpdump read such records too.
    const units = this.nanos ? 1e9 : 1e6;
    const carry = frac >= units ? Math.floor(frac / units) : 0;
    r.tsSec = tsSec + carry;
    r.tsNsec = this.nanos ? frac - carry * units : (frac - carry * units) * 1000;
    r.ts = tsSec + r.tsNsec / 1e9;
    f.consume(16 + caplen);
    return r;
  }

  private fail(message: string, offset: number): null {
    this.error = new CaptureFormatError(message, offset, this.count);
    this.done = true;
    return null;
  }

  close(): void { this.file.close(); }
}
