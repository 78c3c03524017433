import { L4, type Frame } from '../decode/frame.js';
import { DNS_PORT, QTYPE_NAMES, parseDns, type DnsMessage } from '../parsers/dns.js';
import type { StreamEnd, StreamSink } from '../reassembly/tcp-stream.js';
import type { AppStreams, StreamProtocol } from '../reassembly/tcp-streams.js';
import type { Connection, FrameAnalyzer, PacketContext } from './types.js';

/** One DNS query and its response (if any). Times are epoch seconds. */
export interface DnsTransaction {
  transport: 'udp' | 'tcp';
  connectionId: number | null;
  client: { ip: string; port: number };
  server: { ip: string; port: number };
  id: number;
  qname: string;
  qtype: number;
  rcode: number | null;
  answers: string[];
  /** First query packet (null when only the response was captured). */
  queryTs: number | null;
  responseTs: number | null;
  /** Further copies of the query sent before the response (same id, addresses and ports). */
  retries: number;
  truncated: boolean;
}

const MAX_TRANSACTIONS = 1_000_000;
/** DNS over TCP: a message is at most 65535 bytes after its 2-byte length (RFC 1035 §4.2.2). */
const MAX_TCP_MESSAGE = 65535;

export function qtypeName(t: number): string {
  return QTYPE_NAMES[t] ?? `TYPE${t}`;
}

/*
 * DNS TRANSACTIONS. A query opens a transaction keyed by tunnel context, transport,
 * client address/port, server address/port and id; the first response with the same key
 * closes it (later copies are ignored). A repeated query while it is open is a retry of
 * the same transaction, and the response time counts from the first copy, as Wireshark's
 * dns.time does. Only port 53 is DNS here (mDNS/LLMNR multicast queries are not
 * transactions: nobody is expected to answer them). A query never answered stays
 * `unanswered` (responseTime null).
 */
export class DnsTransactions implements FrameAnalyzer, StreamProtocol {
  readonly transactions: DnsTransaction[] = [];
  private open = new Map<string, DnsTransaction>();
  dropped = 0;
  malformed = 0;

  onFrame(f: Frame, ctx: PacketContext): void {
    if (f.l4 !== L4.Udp || (f.srcPort !== DNS_PORT && f.dstPort !== DNS_PORT) || f.payloadCapLen < 12) return;
    if (f.isFragment) return;
    let m: DnsMessage | null;
    try {
      m = parseDns(f.data, f.payloadOff, f.payloadCapLen);
    } catch {
      m = null;
    }
    if (!m) {
      this.malformed++;
      return;
    }
    // The conversation (connection id) carries the tunnel context, as the connection table keys it.
    const conv = ctx.conn ? `#${ctx.conn.id}` : f.tunnelKey();
    this.message(m, 'udp', ctx.conn?.id ?? null, conv, f.src, f.srcPort, f.dst, f.dstPort, f.ts);
  }

  detect(conn: Connection): AppStreams | null {
    if (conn.server.port !== DNS_PORT && conn.client.port !== DNS_PORT) return null;
    const key = `#${conn.id}`;
    const fromClient = conn.server.port === DNS_PORT;
    const q = conn.server.port === DNS_PORT ? conn.client : conn.server;
    const s = conn.server.port === DNS_PORT ? conn.server : conn.client;
    const toQ = (m: DnsMessage, ts: number, forward: boolean) =>
      forward ? this.message(m, 'tcp', conn.id, key, q.ip, q.port, s.ip, s.port, ts) : this.message(m, 'tcp', conn.id, key, s.ip, s.port, q.ip, q.port, ts);
    const a = new DnsTcpStream((m, ts) => toQ(m, ts, true), this);
    const b = new DnsTcpStream((m, ts) => toQ(m, ts, false), this);
    return fromClient ? { client: a, server: b } : { client: b, server: a };
  }

  message(m: DnsMessage, transport: 'udp' | 'tcp', connectionId: number | null, ctxKey: string, src: string, sport: number, dst: string, dport: number, ts: number): void {
    if (m.opcode !== 0) return; // only standard queries (opcode QUERY)
    if (!m.isResponse) {
      const key = `${ctxKey}|${transport}|${src}|${sport}|${dst}|${dport}|${m.id}`;
      const open = this.open.get(key);
      if (open) {
        open.retries++;
        return;
      }
      const t: DnsTransaction = {
        transport, connectionId, client: { ip: src, port: sport }, server: { ip: dst, port: dport }, id: m.id,
        qname: m.qname, qtype: m.qtype, rcode: null, answers: [], queryTs: ts, responseTs: null, retries: 0, truncated: false,
      };
      if (this.add(t)) this.open.set(key, t);
      return;
    }
    const key = `${ctxKey}|${transport}|${dst}|${dport}|${src}|${sport}|${m.id}`;
    let t = this.open.get(key);
    if (t) this.open.delete(key);
    else {
      // A response whose query was not captured.
      t = {
        transport, connectionId, client: { ip: dst, port: dport }, server: { ip: src, port: sport }, id: m.id,
        qname: m.qname, qtype: m.qtype, rcode: null, answers: [], queryTs: null, responseTs: null, retries: 0, truncated: false,
      };
      if (!this.add(t)) return;
    }
    t.rcode = m.rcode;
    t.answers = m.answers;
    t.responseTs = ts;
    t.truncated = m.truncated;
  }

  private add(t: DnsTransaction): boolean {
    if (this.transactions.length >= MAX_TRANSACTIONS) {
      this.dropped++;
      return false;
    }
    this.transactions.push(t);
    return true;
  }

  /** The `dns` array of the JSON report (README "JSON output"). */
  json(): Record<string, unknown>[] {
    return this.transactions.map((_, i) => this.jsonAt(i));
  }

  /** Element `i` of the `dns` array. */
  jsonAt(i: number): Record<string, unknown> {
    const t = this.transactions[i];
    return {
      transport: t.transport,
      client: t.client,
      server: t.server,
      id: t.id,
      qname: t.qname,
      qtype: qtypeName(t.qtype),
      rcode: t.rcode,
      answers: t.answers,
      queryTs: t.queryTs,
      responseTime: responseTime(t),
    };
  }

  /** The connection of element `i` (what makes it change), or null. */
  connectionOf(i: number): number | null {
    return this.transactions[i].connectionId;
  }
}

/** Response time: first query copy -> response (Wireshark's dns.time). */
export function responseTime(t: DnsTransaction): number | null {
  return t.queryTs !== null && t.responseTs !== null ? Math.round((t.responseTs - t.queryTs) * 1e9) / 1e9 : null;
}

/** One direction of DNS over TCP: messages prefixed with a 2-byte length (RFC 1035 §4.2.2). */
class DnsTcpStream implements StreamSink {
  private buf = new Uint8Array(0);
  private len = 0;
  private dead = false;

  constructor(private onMessage: (m: DnsMessage, ts: number) => void, private owner: DnsTransactions) {}

  data(b: Uint8Array, off: number, n: number, ts: number): void {
    if (this.dead) return;
    if (this.len + n > this.buf.length) {
      const g = new Uint8Array(Math.max(this.buf.length * 2, this.len + n, 512));
      g.set(this.buf.subarray(0, this.len));
      this.buf = g;
    }
    this.buf.set(b.subarray(off, off + n), this.len);
    this.len += n;
    let o = 0;
    while (this.len - o >= 2) {
      const mlen = (this.buf[o] << 8) | this.buf[o + 1];
      if (this.len - o - 2 < mlen) break;
      let m: DnsMessage | null = null;
      try {
        m = parseDns(this.buf, o + 2, mlen);
      } catch {
        m = null;
      }
      if (m) this.onMessage(m, ts);
      else this.owner.malformed++;
      o += 2 + mlen;
    }
    if (o > 0) {
      this.buf.copyWithin(0, o, this.len);
      this.len -= o;
    }
    if (this.len > MAX_TCP_MESSAGE + 2) this.dead = true;
  }

  gap(): void {
    this.dead = true; // message boundaries are lost
  }

  end(_ts: number, _how: StreamEnd): void {
    this.dead = true;
  }
}
