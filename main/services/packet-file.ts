import { closeSync, openSync, readSync } from 'node:fs';
import { newRecord, type CaptureInterface, type PacketRecord } from '../pcap/record.js';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US } from '../pcap/pcap.js';
import { BT_EPB, BT_OPB, BT_SHB, BT_SPB, BYTE_ORDER_MAGIC } from '../pcap/pcapng.js';

const TWO32 = 4294967296;

/**
 * Random access to single packets of a capture file by the record offset the reader
 * reported (`PacketIndex.fileOffset`): the detail views and "save connection" re-read
 * only the packets they need instead of keeping packet bytes in memory.
 *
 * pcapng: interface ids in packet blocks are numbered per section; this resolves them
 * against the interfaces of the first section (the reader numbers them across the file),
 * which is right for every single-section file.
 */
export class PacketFile {
  private fd: number;
  private buf = new Uint8Array(65536 + 64);
  private le = true;
  private nanos = false;
  private linkType = 1;
  /** Raw header bytes of a pcap file (24) — reused when saving in the same format. */
  pcapHeader: Uint8Array | null = null;
  readonly format: 'pcap' | 'pcapng';

  constructor(readonly path: string, private interfaces: CaptureInterface[]) {
    this.fd = openSync(path, 'r');
    const h = new Uint8Array(28);
    const got = readSync(this.fd, h, 0, 28, 0);
    const v = new DataView(h.buffer);
    if (got >= 12 && v.getUint32(0, true) === BT_SHB) {
      this.format = 'pcapng';
      this.le = v.getUint32(8, true) === BYTE_ORDER_MAGIC;
    } else {
      this.format = 'pcap';
      const le = v.getUint32(0, true);
      this.le = le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS;
      this.nanos = v.getUint32(0, this.le) === PCAP_MAGIC_NS;
      this.linkType = v.getUint32(20, this.le) & 0x0fffffff;
      this.pcapHeader = h.slice(0, 24);
    }
  }

  get littleEndian(): boolean {
    return this.le;
  }

  private readAt(offset: number, len: number): DataView {
    if (this.buf.length < len) this.buf = new Uint8Array(len);
    const got = readSync(this.fd, this.buf, 0, len, offset);
    if (got < len) throw new Error(`packet at byte offset ${offset} is cut short (${got} of ${len} bytes)`);
    return new DataView(this.buf.buffer, 0, len);
  }

  /** Raw bytes of the record (pcap: header + data; pcapng: the whole block), copied. */
  rawRecord(offset: number): Uint8Array {
    if (this.format === 'pcap') {
      const v = this.readAt(offset, 16);
      const caplen = v.getUint32(8, this.le);
      this.readAt(offset, 16 + caplen);
      return this.buf.slice(0, 16 + caplen);
    }
    const v = this.readAt(offset, 8);
    const len = v.getUint32(4, this.le);
    this.readAt(offset, len);
    return this.buf.slice(0, len);
  }

  /** The packet at `offset`, as the streaming readers deliver it (buffer reused per call). */
  read(offset: number, index: number): PacketRecord {
    const r = newRecord();
    r.index = index;
    r.fileOffset = offset;
    if (this.format === 'pcap') {
      let v = this.readAt(offset, 16);
      const tsSec = v.getUint32(0, this.le);
      const frac = v.getUint32(4, this.le);
      const caplen = v.getUint32(8, this.le);
      const origLen = v.getUint32(12, this.le);
      v = this.readAt(offset, 16 + caplen);
      r.data = this.buf;
      r.view = new DataView(this.buf.buffer);
      r.offset = 16;
      r.caplen = caplen;
      r.origLen = Math.max(origLen, caplen);
      r.tsSec = tsSec;
      r.tsNsec = this.nanos ? frac : frac * 1000;
      r.ts = tsSec + r.tsNsec / 1e9;
      r.linkType = this.linkType;
      return r;
    }
    const head = this.readAt(offset, 8);
    const type = head.getUint32(0, this.le);
    const len = head.getUint32(4, this.le);
    const v = this.readAt(offset, len);
    let ifIdx = 0;
    let hi = 0;
    let lo = 0;
    if (type === BT_SPB) {
      const origLen = v.getUint32(8, this.le);
      r.origLen = origLen;
      r.caplen = Math.min(origLen, len - 16);
      r.offset = 12;
    } else if (type === BT_EPB || type === BT_OPB) {
      ifIdx = type === BT_EPB ? v.getUint32(8, this.le) : v.getUint16(8, this.le);
      hi = v.getUint32(12, this.le);
      lo = v.getUint32(16, this.le);
      r.caplen = v.getUint32(20, this.le);
      r.origLen = Math.max(v.getUint32(24, this.le), r.caplen);
      r.offset = 28;
    } else {
      throw new Error(`no packet block at byte offset ${offset} (block type 0x${type.toString(16)})`);
    }
    const iface = this.interfaces[ifIdx] ?? this.interfaces[0];
    const units = iface?.tsUnitsPerSec ?? 1e6;
    const t = hi * TWO32 + lo;
    r.tsSec = Math.floor(t / units);
    r.tsNsec = Math.round(((t - r.tsSec * units) * 1e9) / units);
    r.ts = r.tsSec + r.tsNsec / 1e9;
    r.linkType = iface?.linkType ?? 1;
    r.interfaceId = ifIdx;
    r.data = this.buf;
    r.view = new DataView(this.buf.buffer);
    return r;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
