import { Decoder, parseDecodeAs } from '../decode/decoder.js';
import { L4, TCP_ACK, TCP_SYN, type Frame } from '../decode/frame.js';
import { looksLikeQuicLong } from '../decode/quic.js';
import { infoOf, NO_CONTEXT, protocolOf, tcpFlagText, type RowContext } from './columns/packet-columns.js';
import { TcpConnectionLabels } from './columns/tcp-app-labels.js';
import { followStream } from './follow-stream.js';
import type { KeyLog } from '../decrypt/key-log.js';
import { linkTypeName } from '../pcap/link-types.js';
import type { PacketRecord } from '../pcap/record.js';
import { TcpA, tcpFlagLabels } from '../analysis/tcp-flags.js';
import { tcpDetail, type TcpDetail } from '../analysis/tcp-report.js';
import { learnSeqBases, type SeqBases } from '../analysis/relative-seq.js';
import type { SeriesPoints } from '../analysis/rtt-stats.js';
import { AnalysisSession } from '../engine/session.js';
import type { ConnectionDetail, DecodedField, DecodedPacket, FollowStream, PacketRow } from '../../preload/api.js';
import { PacketFile } from './packet-file.js';
import type { SessionData } from './session-data.js';

/*
 * Per-packet views: packet-list rows, the decoded layers of one packet, and a connection's
 * chart series. Nothing per packet is kept in memory beyond the index: these re-read the
 * packets from the file by offset and decode them again with the engine's decoders.
 */

function addr(ip: string, port: number | null): string {
  if (port === null) return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Packets of one connection replayed for a page's application labels, at most. */
const MAX_REPLAY = 20_000;
/** Packets replayed for one page at most (shared by its connections), and the least one connection gets. */
const MAX_PAGE_REPLAY = 200_000;
const MIN_REPLAY = 1_000;

/** Re-reads packets of one session. Keep one per session; close with the session. */
export class PacketReader {
  private file: PacketFile | null = null;
  private decoder: Decoder;

  constructor(private data: SessionData, private decodeAs: string[]) {
    this.decoder = new Decoder(decodeAs.map(parseDecodeAs));
  }

  private open(): PacketFile {
    if (!this.file) this.file = new PacketFile(this.data.path, this.data.interfaces);
    return this.file;
  }

  /** Decodes index entry i (0-based packet number). The Frame is reused by the next call. */
  decode(i: number): Frame {
    const ix = this.data.index;
    const r = this.open().read(ix.fileOffset[i], i);
    return this.decoder.decode(r);
  }

  /** The record of packet i (buffer reused by the next read). */
  record(i: number): PacketRecord {
    return this.open().read(this.data.index.fileOffset[i], i);
  }

  raw(i: number): Uint8Array {
    return this.open().rawRecord(this.data.index.fileOffset[i]);
  }

  get sourceFile(): PacketFile {
    return this.open();
  }

  /**
   * tshark's relative sequence numbers: per direction, the base is the SYN's sequence number
   * (so the SYN is 0), or, when the capture starts mid-stream, one below the first sequence
   * number seen or the first ACK the peer sent for it, whichever comes first (so a receiver's
   * ACKs before the sender's first captured segment read Ack=1 as in tshark).
   */
  private bases = new Map<number, SeqBases>();

  private seqBases(connId: number): SeqBases {
    let b = this.bases.get(connId);
    if (b) return b;
    b = [null, null];
    const ix = this.data.index;
    for (let i = 0; i < ix.length && (b[0] === null || b[1] === null); i++) {
      if (ix.connId[i] !== connId) continue;
      const d = ix.dir[i] === 2 ? 1 : 0;
      const f = this.decode(i);
      if (f.l4 !== L4.Tcp) break;
      learnSeqBases(b, d, f.tcpFlags, f.tcpSeq, f.tcpAck);
    }
    if (this.bases.size > 10000) this.bases.clear();
    this.bases.set(connId, b);
    return b;
  }

  row(i: number): PacketRow {
    return this.rows([i])[0];
  }

  /** Rows of a page of packets (0-based indices), with the application labels of their connections. */
  rows(indices: readonly number[]): PacketRow[] {
    const ctx = this.pageContext(indices);
    return indices.map((i) => this.rowWith(i, ctx.get(i) ?? NO_CONTEXT));
  }

  /*
   * PAGE CONTEXT. A TCP packet's application label depends on the bytes before it (which
   * segment completes an HTTP message or a TLS record), so the page's connections are
   * replayed from their first packet to the page's last one through the reassembly
   * (columns/tcp-app-labels.ts), found by one scan of the index; at most MAX_REPLAY packets
   * per connection and MAX_PAGE_REPLAY per page (further in, the replay starts mid-stream and the framers resynchronise
   * or give up: those packets stay "TCP"). Nothing is kept once the page is built.
   */
  /**
   * The session's TLS keys (key log files, the capture's DSBs), asked for when a page holds a
   * TLS connection: decrypted HTTP and HTTP/2 then label the packets, as in tshark.
   */
  keys: (() => KeyLog | null) | null = null;

  /** Connections whose application labels stopped on an exception (a bug), and the first. */
  labelFailures = 0;
  firstLabelFailure: string | null = null;

  private pageContext(indices: readonly number[]): Map<number, RowContext> {
    const ix = this.data.index;
    const out = new Map<number, RowContext>();
    if (indices.length === 0) return out;
    const wanted = new Set(indices);
    const byConn = new Map<number, number[]>();
    let last = 0;
    for (const i of indices) {
      if (i > last) last = i;
      const c = ix.connId[i];
      if (c >= 0 && !byConn.has(c)) byConn.set(c, []);
    }
    for (let i = 0; i <= last && i < ix.length; i++) {
      const list = byConn.get(ix.connId[i]);
      if (!list) continue;
      list.push(i);
      if (list.length > 2 * MAX_REPLAY) list.splice(0, list.length - MAX_REPLAY);
    }
    // The page's replay budget is shared: many long connections on one page replay less each.
    const perConn = Math.max(MIN_REPLAY, Math.min(MAX_REPLAY, Math.floor(MAX_PAGE_REPLAY / Math.max(1, byConn.size))));
    for (const [, list0] of byConn) {
      const list = list0.length > perConn ? list0.slice(list0.length - perConn) : list0;
      const first = this.decode(list[0]);
      if (first.l4 === L4.Udp) {
        const quicFlow = first.payloadCapLen > 0 && looksLikeQuicLong(first.data, first.payloadOff, first.payloadCapLen);
        for (const i of list) if (wanted.has(i)) out.set(i, { app: null, quicFlow });
        continue;
      }
      if (first.l4 !== L4.Tcp) continue;
      const c2s = ix.dir[list[0]] !== 2;
      const labels = new TcpConnectionLabels(c2s ? first.dstPort : first.srcPort, c2s ? first.srcPort : first.dstPort, (i) => wanted.has(i), (i) => (ix.flags[i] & TcpA.FastRetransmission) !== 0, () => this.keys?.() ?? null);
      try {
        for (const i of list) {
          const f = this.decode(i);
          if (f.l4 === L4.Tcp) labels.feed(f, ix.dir[i] !== 2, i);
        }
      } catch (e) {
        // A framer that fails on hostile bytes costs the labels after that point, not the page.
        this.labelFailures++;
        this.firstLabelFailure ??= `packet ${list[0] + 1}: ${(e as Error).message}`;
      }
      for (const i of list) if (wanted.has(i)) out.set(i, { app: labels.label(i), quicFlow: false });
    }
    return out;
  }

  private rowWith(i: number, ctx: RowContext): PacketRow {
    const ix = this.data.index;
    const c0 = ix.connId[i];
    const bases = c0 >= 0 && this.data.state !== 'opening' ? this.seqBases(c0) : null;
    const f = this.decode(i);
    const hasPorts = f.l4 === L4.Tcp || f.l4 === L4.Udp;
    const c = ix.connId[i];
    return {
      number: i + 1,
      ts: ix.ts[i],
      connectionId: c >= 0 ? c : null,
      direction: ix.dir[i] === 1 ? 'c2s' : ix.dir[i] === 2 ? 's2c' : null,
      length: ix.wireLen[i],
      src: f.ipVersion ? addr(f.src, hasPorts ? f.srcPort : null) : '',
      dst: f.ipVersion ? addr(f.dst, hasPorts ? f.dstPort : null) : '',
      protocol: protocolOf(f, ctx),
      info: infoOf(f, ctx, bases, ix.dir[i] === 2 ? 1 : 0),
      flags: tcpFlagLabels(ix.flags[i]),
    };
  }

  /**
   * The decoded layers of packet i. Fields carry their byte range (offset from the packet's
   * first byte, length) so the bytes pane can highlight them.
   */
  decodedPacket(i: number): DecodedPacket {
    const ix = this.data.index;
    const rec = this.open().read(ix.fileOffset[i], i);
    const bytes = rec.data.subarray(rec.offset, rec.offset + Math.min(rec.caplen, 4096));
    const hex = hexDump(bytes);
    const bytesHex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
    const f = this.decoder.decode(rec);
    const base = f.frameOff;
    /** A field at absolute offset o in the record buffer, n bytes long. */
    const at = (name: string, value: string, o: number, n: number): DecodedField => ({ name, value, offset: o - base, length: n });
    const layers: DecodedPacket['layers'] = [];
    layers.push({ name: 'Frame', offset: 0, length: f.caplen, fields: [
      { name: 'Number', value: String(i + 1) },
      { name: 'Time', value: new Date(f.ts * 1000).toISOString() },
      { name: 'Epoch time', value: f.ts.toFixed(6) },
      { name: 'Wire length', value: `${f.origLen} bytes` },
      { name: 'Captured length', value: `${f.caplen} bytes` },
      { name: 'Link type', value: linkTypeName(f.linkType) },
    ] });
    for (let t = 0; t < f.tunnelCount; t++) {
      const tl = f.tunnels[t];
      layers.push({ name: `Tunnel ${tl.type.toUpperCase()}`, fields: [
        { name: 'Id', value: tl.id === null ? '-' : String(tl.id) },
        { name: 'Outer source', value: tl.outerSrc ?? '-' },
        { name: 'Outer destination', value: tl.outerDst ?? '-' },
      ] });
    }
    if (f.ipVersion) {
      const o = f.ipOff;
      const v4 = f.ipVersion === 4;
      const hdr = v4 ? (f.data[o] & 0x0f) * 4 : 40;
      layers.push({ name: `Internet Protocol version ${f.ipVersion}`, offset: o - base, length: hdr, fields: [
        at('Source', f.src, o + (v4 ? 12 : 8), v4 ? 4 : 16),
        at('Destination', f.dst, o + (v4 ? 16 : 24), v4 ? 4 : 16),
        at('Protocol', String(f.ipProto), o + (v4 ? 9 : 6), 1),
        at(v4 ? 'TTL' : 'Hop limit', String(f.ttl), o + (v4 ? 8 : 7), 1),
        ...(v4 ? [at('Identification', `0x${f.ipId.toString(16).padStart(4, '0')}`, o + 4, 2)] : []),
        ...(f.isFragment ? [{ name: 'Fragment offset', value: String(f.fragOffset) }] : []),
      ] });
    }
    if (f.l4 === L4.Tcp) {
      const o = f.payloadOff - f.tcpHdrLen;
      layers.push({ name: 'Transmission Control Protocol', offset: o - base, length: f.tcpHdrLen, fields: [
        at('Source port', String(f.srcPort), o, 2),
        at('Destination port', String(f.dstPort), o + 2, 2),
        at('Sequence number (raw)', String(f.tcpSeq >>> 0), o + 4, 4),
        at('Acknowledgment number (raw)', String(f.tcpAck >>> 0), o + 8, 4),
        at('Flags', tcpFlagText(f.tcpFlags) || '(none)', o + 13, 1),
        at('Window', String(f.tcpWindow), o + 14, 2),
        at('Header length', `${f.tcpHdrLen} bytes`, o + 12, 1),
        { name: 'Segment length', value: String(f.payloadLen) },
        ...(f.tcpMss >= 0 ? [{ name: 'MSS', value: String(f.tcpMss) }] : []),
        ...(f.tcpWscale >= 0 ? [{ name: 'Window scale', value: String(f.tcpWscale) }] : []),
        ...(f.tcpSackPerm ? [{ name: 'SACK permitted', value: 'yes' }] : []),
        ...(f.tcpHasTs ? [{ name: 'Timestamps', value: `TSval ${f.tcpTsVal >>> 0} TSecr ${f.tcpTsEcr >>> 0}` }] : []),
      ] });
    } else if (f.l4 === L4.Udp) {
      const o = f.payloadOff - 8;
      layers.push({ name: 'User Datagram Protocol', offset: o - base, length: 8, fields: [
        at('Source port', String(f.srcPort), o, 2),
        at('Destination port', String(f.dstPort), o + 2, 2),
        at('Length', String(f.udpLen), o + 4, 2),
      ] });
    } else if (f.l4 === L4.Icmp || f.l4 === L4.Icmpv6) {
      const o = f.payloadOff - 4;
      layers.push({ name: f.l4 === L4.Icmp ? 'ICMP' : 'ICMPv6', offset: o - base, length: 4, fields: [
        at('Type', String(f.icmpType), o, 1),
        at('Code', String(f.icmpCode), o + 1, 1),
      ] });
    }
    if ((f.l4 === L4.Tcp || f.l4 === L4.Udp) && f.payloadCapLen > 0) {
      const row = this.rows([i])[0];
      const f2 = this.decode(i); // rows() decoded other packets: decode this one again
      layers.push({ name: `Payload (${row.protocol})`, offset: f2.payloadOff - f2.frameOff, length: f2.payloadCapLen, fields: [
        { name: 'Info', value: row.info, offset: f2.payloadOff - f2.frameOff, length: f2.payloadCapLen },
        { name: 'Length', value: `${f2.payloadLen} bytes${f2.payloadCapLen < f2.payloadLen ? ` (${f2.payloadCapLen} captured)` : ''}` },
      ] });
    }
    const flags = tcpFlagLabels(ix.flags[i]);
    if (flags.length) layers.push({ name: 'Analysis', fields: flags.map((x) => ({ name: 'Flag', value: x })) });
    if (f.malformed) layers.push({ name: 'Malformed', fields: [{ name: 'Reason', value: f.malformed }] });
    return { number: i + 1, ts: ix.ts[i], caplen: rec.caplen, origLen: rec.origLen, layers, hex, bytesHex, flags };
  }

  /**
   * RTT and Stevens series of one connection: its packets are re-read and fed through a
   * fresh AnalysisSession, so the series come from the engine's own TCP analyser (TCP
   * analysis is per connection: the same packets give the same results).
   */
  series(connectionId: number, maxPackets = 200_000): Pick<ConnectionDetail, 'rtt' | 'sequence' | 'truncated'> & { tcp: TcpDetail | null } {
    const ix = this.data.index;
    const file = this.open();
    const session = new AnalysisSession({ decodeAs: this.decodeAs.map(parseDecodeAs), detail: true });
    let seen = 0;
    let truncated = false;
    for (let i = 0; i < ix.length; i++) {
      if (ix.connId[i] !== connectionId) continue;
      if (++seen > maxPackets) {
        truncated = true;
        break;
      }
      session.feed(file.read(ix.fileOffset[i], i));
    }
    session.finish();
    const flows = session.connections.flows;
    let conn = -1;
    for (let c = 0; c < flows.count; c++) if (conn < 0 || flows.packetsOf(c) > flows.packetsOf(conn)) conn = c;
    const tcpTable = session.connections.tcp?.table;
    const tcp = conn >= 0 && tcpTable && flows.isTcp[conn] ? tcpDetail(tcpTable, conn) : null;
    const rtt: ConnectionDetail['rtt'] = [];
    const sequence: ConnectionDetail['sequence'] = [];
    if (tcp) {
      // toServer RTT samples come from the client's ACKs: they time the server's data.
      const r = tcp.rttSeries;
      if (r.toServer) r.toServer.t.forEach((t, k) => rtt.push({ ts: t, rtt: r.toServer!.v[k], dir: 's2c' }));
      if (r.toClient) r.toClient.t.forEach((t, k) => rtt.push({ ts: t, rtt: r.toClient!.v[k], dir: 'c2s' }));
      rtt.sort((a, b) => a.ts - b.ts);
      const q = tcp.seqSeries;
      const add = (p: SeriesPoints | null, dir: 'c2s' | 's2c'): void => {
        if (p) p.t.forEach((t, k) => sequence.push({ ts: t, seq: p.v[k], dir, retransmission: (p.mark[k] & TcpA.Retransmission) !== 0 }));
      };
      add(q.toServer, 'c2s');
      add(q.toClient, 's2c');
      truncated ||= (q.toServer?.stride ?? 1) > 1 || (q.toClient?.stride ?? 1) > 1;
    }
    return { rtt, sequence, truncated, tcp };
  }

  /** A connection's payload as text (follow-stream.ts). */
  follow(connectionId: number, maxBytes?: number, keys: KeyLog | null = null, h2Stream: number | null = null, h3Stream: number | null = null): FollowStream {
    const src = { index: this.data.index, decode: (i: number) => this.decode(i), record: (i: number) => this.record(i), decodeAs: this.decodeAs };
    return followStream(src, connectionId, maxBytes, keys, h2Stream, h3Stream);
  }

  close(): void {
    this.file?.close();
    this.file = null;
  }
}

function hexDump(b: Uint8Array): string {
  const lines: string[] = [];
  for (let o = 0; o < b.length; o += 16) {
    const chunk = b.subarray(o, o + 16);
    const hex = Array.from(chunk, (x) => x.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(chunk, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
    lines.push(`${o.toString(16).padStart(4, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}
