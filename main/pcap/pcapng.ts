import { ChunkedFile } from './chunked-file.js';
import { CaptureFormatError, newRecord, type CaptureComment, type CaptureInterface, type PacketRecord } from './record.js';
import type { CaptureReader } from './reader.js';
import { MAX_RECORD } from './pcap.js';

/*
 * pcapng (draft-ietf-opsawg-pcapng). Every block:
 *   type(4) total_length(4) body... total_length(4)
 * A Section Header Block (0x0A0D0D0A) starts each section and fixes its byte order
 * through the byte-order magic 0x1A2B3C4D; interfaces (IDBs) are numbered per section.
 */
export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
export const BT_OPB = 0x00000002; // obsolete Packet Block
export const BT_SPB = 0x00000003;
export const BT_EPB = 0x00000006;
export const BT_DSB = 0x0000000a; // Decryption Secrets Block
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const IF_TSOFFSET = 14;

interface SectionInterface extends CaptureInterface {
  tsOffset: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const TWO32 = 4294967296;

export class PcapngReader implements CaptureReader {
  readonly format = 'pcapng' as const;
  /** Every interface of every section, numbered across the file. */
  readonly interfaces: CaptureInterface[] = [];
  readonly comments: CaptureComment[] = [];
  error: CaptureFormatError | null = null;
  private rec = newRecord();
  private le = true;
  private section: SectionInterface[] = [];
  private count = 0;
  private done = false;
  /**
   * Called with each Decryption Secrets Block (secrets type, secrets bytes) when the reader
   * reaches it, before the packets that follow it. The bytes are a copy.
   */
  onDecryptionSecrets: ((secretsType: number, data: Uint8Array) => void) | null = null;
  /** Damaged DSBs that were skipped (messages for the report's warnings). */
  readonly badSecretsBlocks: string[] = [];

  constructor(private file: ChunkedFile) {
    if (!file.ensure(12) || file.view.getUint32(0, true) !== BT_SHB) {
      throw new CaptureFormatError('not a pcapng file (no section header block)', 0, 0);
    }
  }

  get bytesRead(): number { return this.file.offset; }
  get size(): number { return this.file.size; }

  next(): PacketRecord | null {
    const f = this.file;
    while (!this.done) {
      const at = f.offset;
      if (!f.ensure(12)) {
        if (f.available > 0) this.fail(`truncated block header (${f.available} bytes)`, at);
        this.done = true;
        return null;
      }
      let type = f.view.getUint32(f.pos, this.le);
      if (f.view.getUint32(f.pos, true) === BT_SHB) {
        // Byte order can change at each section: read it from the magic.
        const magicLe = f.view.getUint32(f.pos + 8, true);
        if (magicLe === BYTE_ORDER_MAGIC) this.le = true;
        else if (f.view.getUint32(f.pos + 8, false) === BYTE_ORDER_MAGIC) this.le = false;
        else return this.fail('section header with bad byte-order magic', at);
        type = BT_SHB;
      }
      const len = f.view.getUint32(f.pos + 4, this.le);
      if (len < 12 || len % 4 !== 0) return this.fail(`block length ${len} is invalid`, at);
      if (len > MAX_RECORD) return this.fail(`block length ${len} exceeds the maximum ${MAX_RECORD}`, at);
      const isPacket = type === BT_EPB || type === BT_SPB || type === BT_OPB;
      const wantDsb = type === BT_DSB && this.onDecryptionSecrets !== null;
      if (!isPacket && type !== BT_SHB && type !== BT_IDB && !wantDsb) {
        // NRB, ISB, custom and unknown blocks (and DSBs nobody asked for): skip without buffering them.
        if (at + len > f.size) return this.fail(`truncated block (type 0x${type.toString(16)}, ${len} bytes)`, at);
        f.skip(len);
        continue;
      }
      // Never buffer (allocate) more than the file can hold: a bad length fails here.
      if (at + len > f.size) return this.fail(`truncated block (type 0x${type.toString(16)}, ${f.size - at} of ${len} bytes present)`, at);
      if (!f.ensure(len)) return this.fail(`truncated block (type 0x${type.toString(16)}, ${f.available} of ${len} bytes present)`, at);
      const v = f.view;
      const b = f.pos;
      if (v.getUint32(b + len - 4, this.le) !== len) return this.fail('block trailing length does not match its header', at);
      if (type === BT_SHB) this.readSection(b, len);
      else if (type === BT_DSB) this.readSecrets(b, len, at);
      else if (type === BT_IDB) {
        const err = this.readInterface(b, len);
        if (err) return this.fail(err, at);
      } else {
        const r = this.readPacket(type, b, len, at);
        if (typeof r === 'string') return this.fail(r, at);
        f.consume(len);
        return r;
      }
      f.consume(len);
    }
    return null;
  }

  private readSection(b: number, len: number): void {
    this.section = [];
    // body: magic(4) major(2) minor(2) section_length(8), then options
    this.readOptions(b + 24, b + len - 4, (code, o, l) => {
      if (code === OPT_COMMENT) this.comments.push({ packet: null, text: this.str(o, l) });
    });
  }

  /** DSB body: secrets type(4) secrets length(4) secrets data (padded to 32 bits) options. */
  private readSecrets(b: number, len: number, at: number): void {
    // A damaged DSB is skipped (its block framing is intact): the packets stay readable.
    const v = this.file.view;
    const n = len >= 20 ? v.getUint32(b + 12, this.le) : 0;
    if (len < 20 || n > len - 20) {
      this.badSecretsBlocks.push(`decryption secrets block at offset ${at} is damaged (${len < 20 ? `${len} bytes` : `claims ${n} bytes of secrets, holds ${len - 20}`}); skipped`);
      return;
    }
    this.onDecryptionSecrets?.(v.getUint32(b + 8, this.le), this.file.buf.slice(b + 16, b + 16 + n));
  }

  private readInterface(b: number, len: number): string | null {
    if (len < 20) return `interface description block too short (${len})`;
    const v = this.file.view;
    const iface: SectionInterface = {
      id: this.interfaces.length,
      linkType: v.getUint16(b + 8, this.le),
      snaplen: v.getUint32(b + 12, this.le),
      name: null,
      description: null,
      tsUnitsPerSec: 1e6,
      tsOffset: 0,
    };
    this.readOptions(b + 16, b + len - 4, (code, o, l) => {
      if (code === IF_NAME) iface.name = this.str(o, l);
      else if (code === IF_DESCRIPTION) iface.description = this.str(o, l);
      else if (code === IF_TSRESOL && l >= 1) {
        const r = this.file.buf[o];
        const exp = r & 0x7f;
        iface.tsUnitsPerSec = r & 0x80 ? 2 ** exp : 10 ** exp;
      } else if (code === IF_TSOFFSET && l >= 8) {
        iface.tsOffset = Number(v.getBigInt64(o, this.le));
      }
    });
    this.section.push(iface);
    const { tsOffset: _ignored, ...pub } = iface;
    this.interfaces.push(pub);
    return null;
  }

  private readPacket(type: number, b: number, len: number, at: number): PacketRecord | string {
    const v = this.file.view;
    const r = this.rec;
    let ifIdx = 0;
    let dataOff: number;
    let caplen: number;
    let origLen: number;
    let hi = 0;
    let lo = 0;
    if (type === BT_SPB) {
      // Simple Packet Block: original length only, no timestamp, interface 0.
      if (len < 16) return `simple packet block too short (${len})`;
      origLen = v.getUint32(b + 8, this.le);
      const iface0 = this.section[0];
      if (!iface0) return 'simple packet block before any interface description';
      caplen = Math.min(origLen, len - 16, iface0.snaplen || origLen);
      dataOff = b + 12;
    } else {
      const hdr = type === BT_EPB ? 20 : 20; // same layout size; OPB has if(2)+drops(2)
      if (len < 12 + hdr) return `packet block too short (${len})`;
      ifIdx = type === BT_EPB ? v.getUint32(b + 8, this.le) : v.getUint16(b + 8, this.le);
      hi = v.getUint32(b + 12, this.le);
      lo = v.getUint32(b + 16, this.le);
      caplen = v.getUint32(b + 20, this.le);
      origLen = v.getUint32(b + 24, this.le);
      dataOff = b + 28;
      if (caplen > len - 32) return `packet block claims ${caplen} captured bytes but holds ${len - 32}`;
    }
    const iface = this.section[ifIdx];
    if (!iface) return `packet refers to undeclared interface ${ifIdx}`;
    r.comment = null;
    if (type !== BT_SPB) {
      const optStart = dataOff + ((caplen + 3) & ~3);
      this.readOptions(optStart, b + len - 4, (code, o, l) => {
        if (code === OPT_COMMENT) {
          r.comment = this.str(o, l);
          this.comments.push({ packet: this.count, text: r.comment });
        }
      });
    }
    // A Simple Packet Block has no timestamp: it keeps the previous packet's time (tshark
    // shows none), so time-ordered analyses never see it jump back to 1970.
    if (type !== BT_SPB) this.setTime(r, hi, lo, iface);
    r.index = this.count++;
    r.fileOffset = at;
    r.data = this.file.buf;
    r.view = this.file.view;
    r.offset = dataOff;
    r.caplen = caplen;
    r.origLen = Math.max(origLen, caplen);
    r.linkType = iface.linkType;
    r.interfaceId = iface.id;
    return r;
  }

  private setTime(r: PacketRecord, hi: number, lo: number, iface: SectionInterface): void {
    const units = iface.tsUnitsPerSec;
    let sec: number;
    let nsec: number;
    if (hi < 0x200000) {
      // hi * 2^32 + lo < 2^53: exact in a double.
      const t = hi * TWO32 + lo;
      sec = Math.floor(t / units);
      const rem = t - sec * units;
      nsec = Math.round((rem * 1e9) / units);
    } else {
      const t = (BigInt(hi) << 32n) | BigInt(lo);
      const u = BigInt(units);
      sec = Number(t / u);
      nsec = Number(((t % u) * 1000000000n) / u);
    }
    if (nsec >= 1e9) { sec += 1; nsec -= 1e9; }
    sec += iface.tsOffset;
    r.tsSec = sec;
    r.tsNsec = nsec;
    r.ts = sec + nsec / 1e9;
  }

  private readOptions(start: number, end: number, each: (code: number, off: number, len: number) => void): void {
    const v = this.file.view;
    let o = start;
    while (o + 4 <= end) {
      const code = v.getUint16(o, this.le);
      const l = v.getUint16(o + 2, this.le);
      if (code === OPT_ENDOFOPT) break;
      if (o + 4 + l > end) break; // malformed option: ignore the rest, keep the packet
      each(code, o + 4, l);
      o += 4 + ((l + 3) & ~3);
    }
  }

  private str(off: number, len: number): string {
    return utf8.decode(this.file.buf.subarray(off, off + len)).replace(/\0+$/, '');
  }

  private fail(message: string, offset: number): null {
    this.error = new CaptureFormatError(message, offset, this.count);
    this.done = true;
    return null;
  }

  close(): void { this.file.close(); }
}
