import type { FlowRecord } from './flow-records.js';
import { putAddress, putUint } from './ipfix.js';

/*
 * NetFlow version 9 (RFC 3954) encoder for the standard fields.
 *
 * Packet header (§5.1):
 *   version = 9 (16) | count (16): template + data records in this packet
 *   sysUptime, ms since the exporter's boot (32)
 *   UNIX secs (32): when the packet leaves the exporter
 *   sequence number (32): export packets sent before this one, mod 2^32 (per packet, unlike IPFIX)
 *   source id (32)
 * FlowSet header (§5.2, §5.3): id (16: 0 template, 256+ data) | length (16); data
 * FlowSets padded to a 4-octet boundary.
 *
 * Times in v9 are sysUptime-relative (FIRST_SWITCHED / LAST_SWITCHED). For a file the
 * exporter's clock is the capture's: "boot" is the first packet's ms, and each packet's
 * UNIX secs is the end of its last flow rounded up, so the collector's
 * UNIX secs * 1000 - sysUptime + FIRST_SWITCHED is the packet time to the millisecond.
 * A capture spanning more than 2^32 ms (49.7 days) cannot be expressed: export() says so.
 * No enterprise elements: v9 has no enterprise numbers (use IPFIX for Tapscope's own).
 */

export const NETFLOW9_VERSION = 9;
export const NF9_TEMPLATE_V4 = 256;
export const NF9_TEMPLATE_V6 = 257;

interface Nf9Field { type: number; len: number; put(b: Buffer, o: number, r: FlowRecord, bootMs: number): void }

const uint = (type: number, len: number, v: (r: FlowRecord, bootMs: number) => number): Nf9Field => ({ type, len, put: (b, o, r, boot) => putUint(b, o, len, v(r, boot)) });
const addr = (type: number, len: 4 | 16, v: (r: FlowRecord) => string): Nf9Field => ({ type, len, put: (b, o, r) => putAddress(b, o, len, v(r)) });

/** RFC 3954 §8 field types. */
const COMMON: Nf9Field[] = [
  uint(7, 2, (r) => r.srcPort), // L4_SRC_PORT
  uint(11, 2, (r) => r.dstPort), // L4_DST_PORT
  uint(4, 1, (r) => r.proto), // PROTOCOL
  uint(2, 8, (r) => r.packets), // IN_PKTS
  uint(1, 8, (r) => r.octets), // IN_BYTES (IP-layer octets)
  uint(22, 4, (r, boot) => r.startMs - boot), // FIRST_SWITCHED
  uint(21, 4, (r, boot) => r.endMs - boot), // LAST_SWITCHED
  uint(6, 1, (r) => r.tcpFlags & 0xff), // TCP_FLAGS
  uint(58, 2, (r) => r.vlanId ?? 0), // SRC_VLAN
];
const V4: Nf9Field[] = [addr(8, 4, (r) => r.srcIp), addr(12, 4, (r) => r.dstIp), ...COMMON, uint(60, 1, () => 4)];
const V6: Nf9Field[] = [addr(27, 16, (r) => r.srcIp), addr(28, 16, (r) => r.dstIp), ...COMMON, uint(60, 1, () => 6)];
const recordLen = (fs: Nf9Field[]) => fs.reduce((n, f) => n + f.len, 0);
/** The widest span of flow times one packet can express: 32-bit ms, less the round-up of UNIX secs. */
const BOOT_LEAD_MS = 1000;
const MAX_UPTIME_SPAN = 2 ** 32 - 1 - 1000 - BOOT_LEAD_MS;

export interface Netflow9Options {
  sourceId?: number;
  maxPacket?: number;
  /** Resend templates every this many packets. */
  templateRefresh?: number;
}

export class Netflow9Encoder {
  packets = 0;
  private sinceTemplates = Infinity;
  readonly sourceId: number;
  readonly maxPacket: number;
  readonly templateRefresh: number;

  constructor(opts: Netflow9Options = {}) {
    this.sourceId = opts.sourceId ?? 0;
    this.maxPacket = opts.maxPacket ?? 1400;
    this.templateRefresh = opts.templateRefresh ?? 16;
  }

  /** The next packet carries the templates again (a live exporter's time-based refresh). */
  resendTemplates(): void {
    this.sinceTemplates = Infinity;
  }

  private templateFlowSet(): Buffer {
    const body: number[] = [];
    for (const [id, fs] of [[NF9_TEMPLATE_V4, V4], [NF9_TEMPLATE_V6, V6]] as const) {
      body.push(id, fs.length);
      for (const f of fs) body.push(f.type, f.len);
    }
    const b = Buffer.alloc(4 + body.length * 2);
    b.writeUInt16BE(0, 0);
    b.writeUInt16BE(b.length, 2);
    body.forEach((v, i) => b.writeUInt16BE(v, 4 + i * 2));
    return b;
  }

  /**
   * Encodes records into export packets. Each packet's "boot" is its earliest flow start,
   * so one packet's flows must lie within 2^32 ms (49.7 days) of each other: a packet is
   * closed early when the next record would not fit that window.
   */
  encode(records: FlowRecord[]): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < records.length) {
      let size = 20;
      const withTemplates = this.sinceTemplates >= this.templateRefresh;
      const templates = withTemplates ? this.templateFlowSet() : null;
      if (templates) size += templates.length;
      // Choose this packet's records: runs of one family, each run one padded data FlowSet.
      const runs: { fam: Nf9Field[]; id: number; from: number; n: number }[] = [];
      let minStart = Infinity;
      let maxEnd = -Infinity;
      let j = i;
      while (j < records.length) {
        const r = records[j];
        const fam = r.ipVersion === 6 ? V6 : V4;
        const rl = recordLen(fam);
        const run = runs.at(-1);
        const sameRun = run !== undefined && run.fam === fam;
        const cost = sameRun ? rl : 4 + rl + 3;
        const lo = Math.min(minStart, r.startMs);
        const hi = Math.max(maxEnd, r.endMs);
        if (j > i && (size + cost > this.maxPacket || hi - lo > MAX_UPTIME_SPAN)) break;
        if (hi - lo > MAX_UPTIME_SPAN) throw new Error(`a flow longer than ${MAX_UPTIME_SPAN} ms cannot be sent as NetFlow v9 (use IPFIX)`);
        if (sameRun) run.n++;
        else runs.push({ fam, id: fam === V6 ? NF9_TEMPLATE_V6 : NF9_TEMPLATE_V4, from: j, n: 1 });
        size += cost;
        minStart = lo;
        maxEnd = hi;
        j++;
      }
      // One second before the first flow: nfdump reads FIRST_SWITCHED = 0 as "no time".
      const boot = minStart - BOOT_LEAD_MS;
      const unixSecs = Math.ceil(maxEnd / 1000);
      const parts: Buffer[] = templates ? [templates] : [];
      let count = templates ? 2 : 0;
      for (const run of runs) {
        const setLen = 4 + run.n * recordLen(run.fam);
        const padded = (setLen + 3) & ~3;
        const b = Buffer.alloc(padded);
        b.writeUInt16BE(run.id, 0);
        b.writeUInt16BE(padded, 2);
        let o = 4;
        for (let k = run.from; k < run.from + run.n; k++) {
          for (const f of run.fam) {
            f.put(b, o, records[k], boot);
            o += f.len;
          }
        }
        parts.push(b);
        count += run.n;
      }
      const h = Buffer.alloc(20);
      h.writeUInt16BE(NETFLOW9_VERSION, 0);
      h.writeUInt16BE(count, 2);
      h.writeUInt32BE((unixSecs * 1000 - boot) >>> 0, 4);
      h.writeUInt32BE(unixSecs >>> 0, 8);
      h.writeUInt32BE(this.packets >>> 0, 12);
      h.writeUInt32BE(this.sourceId >>> 0, 16);
      out.push(Buffer.concat([h, ...parts]));
      if (withTemplates) this.sinceTemplates = 0;
      this.packets++;
      this.sinceTemplates++;
      i = j;
    }
    return out;
  }
}
