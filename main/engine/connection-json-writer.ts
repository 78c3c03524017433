import type { ConnectionTable } from '../analysis/connections.js';
import { COUNTER_KEYS, TCP_FLAG_NAME_OF_COUNTER, TCP_STATES, ackRtt, releasedAckRtt, tcpState } from '../analysis/tcp-report.js';
import { TcpA } from '../analysis/tcp-flags.js';
import { CONN_F64, CONN_I32, COUNTS, C_FIRST_RTT, K_PURE_SYNS } from '../flows/tcp-state.js';
import { DIR_TO_CLIENT, DIR_TO_SERVER } from '../flows/flow-table.js';
import { IPPROTO_TCP, IPPROTO_UDP, addressBytes, portFlowDigestAt } from '../flows/community-id.js';
import { MAX_NUMBER, asciiBytes, putBytes, putNum, putRange, putUint, utf8Bytes, type JsonOut } from './json-out.js';

/*
 * `connections[c]` of the JSON report (README "connections") written straight from the
 * connection table's columns into the output's octets: the same text as
 * JSON.stringify(connectionJson(table.connection(c))) (analysis/connection-json.ts stays
 * the reference shape and the API's), without the Connection, TcpSummary, counters and
 * RTT objects, the per-connection strings or the Community ID's hash object in between.
 * Addresses are interned in the flow table, so each one's JSON text and octets (for the
 * Community ID) are made once per address id, into two flat arrays; each encapsulation
 * stack's text once per stack id. test/engine/connection-json-writer.test.ts compares the two on every corpus
 * capture and on generated ones.
 */

const K_ID = asciiBytes('{"id":');
const K_TCP = asciiBytes(',"transport":"tcp","client":{"ip":');
const K_UDP = asciiBytes(',"transport":"udp","client":{"ip":');
const K_PORT = asciiBytes(',"port":');
const K_SERVER = asciiBytes('},"server":{"ip":');
const K_TUNNEL = asciiBytes('},"tunnel":');
const K_FIRST_TS = asciiBytes(',"firstTs":');
const K_LAST_TS = asciiBytes(',"lastTs":');
const K_PACKETS = asciiBytes(',"packets":');
const K_BYTES = asciiBytes(',"bytes":');
const K_TO_SERVER = asciiBytes(',"packetsToServer":');
const K_TO_CLIENT = asciiBytes(',"packetsToClient":');
const K_PAYLOAD = asciiBytes(',"payloadBytes":');
const K_SYN_RETRIES = asciiBytes(',"synRetries":');
const K_HANDSHAKE = asciiBytes(',"handshakeRtt":');
const K_RTT = asciiBytes(',"rtt":{"samples":');
const K_MIN = asciiBytes(',"min":');
const K_MEDIAN = asciiBytes(',"median":');
const K_P95 = asciiBytes(',"p95":');
const K_MAX = asciiBytes(',"max":');
const K_RTT_NULL = asciiBytes(',"rtt":null');
const K_RTT_OPEN = asciiBytes(',"rtt":');
const K_CID = asciiBytes(',"communityId":"1:');
const K_CID_NULL = asciiBytes(',"communityId":null}');
const NULL = asciiBytes('null');
/** `,"state":"…"` per state (index in TCP_STATES). */
const K_STATE = TCP_STATES.map((st) => asciiBytes(`,"state":${JSON.stringify(st)}`));
/** `,"key":` of each counter, in the contract's order, and its slot in TcpTable.counts. */
const K_COUNTER = COUNTER_KEYS.map((k) => asciiBytes(`,${JSON.stringify(k)}:`));
const COUNTER_SLOT = Int32Array.from(COUNTER_KEYS, (k) => 31 - Math.clz32(TcpA[TCP_FLAG_NAME_OF_COUNTER[k]]));
/** The counters when all are 0. */
const ZERO_COUNTERS = asciiBytes(COUNTER_KEYS.map((k) => `,${JSON.stringify(k)}:0`).join(''));
/** The TCP part of a connection without TCP results (UDP, or no TCP analyser): state .. resets. */
const NO_TCP = asciiBytes(`,"state":"open","synRetries":0,"handshakeRtt":null,"rtt":null${COUNTER_KEYS.map((k) => `,${JSON.stringify(k)}:0`).join('')}`);
/**
 * Octets of a connection besides its addresses and tunnel text: keys (about 500), at most
 * 11 numbers (MAX_NUMBER each), 5 ids and ports and 13 counts (16 digits at most), the
 * Community ID (32). Reserved before each connection, so its fields are written unchecked.
 */
const MAX_FIXED = 1024 + 11 * MAX_NUMBER + 18 * 16;
const B64 = asciiBytes('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');

export class ConnectionJsonWriter {
  /**
   * Every address's JSON text (UTF-8), address id a at addrText[addrAt[a] .. addrAt[a + 1]),
   * and its octets at addrOctets[a * 16], addrLen[a] of them (0: not an IP address). Made
   * once, in two arrays: no object per address.
   */
  private readonly addrText: Uint8Array;
  private readonly addrAt: Int32Array;
  private readonly addrOctets: Uint8Array;
  private readonly addrLen: Uint8Array;
  private readonly stackJson: Uint8Array[] = [];
  private readonly rtt = new Float64Array(5);
  /** Some address or tunnel text has an octet above 0x7f (JsonOut.nonAscii). */
  private nonAscii = false;

  constructor(private readonly table: ConnectionTable) {
    const addrs = table.flows.addrs;
    const n = addrs.length;
    this.addrAt = new Int32Array(n + 1);
    this.addrOctets = new Uint8Array(n * 16);
    this.addrLen = new Uint8Array(n);
    let text = new Uint8Array(Math.max(64, n * 20));
    let at = 0;
    for (let a = 0; a < n; a++) {
      const j = utf8Bytes(JSON.stringify(addrs[a]));
      if (at + j.length > text.length) {
        const t = new Uint8Array(Math.max(text.length * 2, at + j.length));
        t.set(text.subarray(0, at));
        text = t;
      }
      text.set(j, at);
      at += j.length;
      this.addrAt[a + 1] = at;
      const o = addressBytes(addrs[a]);
      if (o) {
        this.addrOctets.set(o, a * 16);
        this.addrLen[a] = o.length;
      }
    }
    this.addrText = text;
    for (let i = 0; i < at; i++) if (text[i] > 0x7f) this.nonAscii = true;
  }

  /** Writes JSON.stringify(connectionJson(table.connection(c))). */
  write(o: JsonOut, c: number): void {
    const f = this.table.flows;
    const ca = f.clientAddr[c];
    const sa = f.serverAddr[c];
    const cp = f.clientPort[c];
    const sp = f.serverPort[c];
    const isTcp = f.isTcp[c] === 1;
    const st = f.tunnelStack[c];
    const pk = f.packets;
    const at = this.addrAt;
    const tj = this.stackJson[st] ?? this.stack(st);
    o.room(MAX_FIXED + (at[ca + 1] - at[ca]) + (at[sa + 1] - at[sa]) + tj.length);
    if (this.nonAscii) o.nonAscii = true;
    const b = o.buf;
    let p = o.pos;
    p = putBytes(b, p, K_ID);
    p = putUint(b, p, c);
    p = putBytes(b, p, isTcp ? K_TCP : K_UDP);
    p = putRange(b, p, this.addrText, at[ca], at[ca + 1]);
    p = putBytes(b, p, K_PORT);
    p = putUint(b, p, cp);
    p = putBytes(b, p, K_SERVER);
    p = putRange(b, p, this.addrText, at[sa], at[sa + 1]);
    p = putBytes(b, p, K_PORT);
    p = putUint(b, p, sp);
    p = putBytes(b, p, K_TUNNEL);
    p = putBytes(b, p, tj);
    p = putBytes(b, p, K_FIRST_TS);
    p = putNum(b, p, f.firstTs[c]);
    p = putBytes(b, p, K_LAST_TS);
    p = putNum(b, p, f.lastTs[c]);
    p = putBytes(b, p, K_PACKETS);
    p = putUint(b, p, pk[c * 2] + pk[c * 2 + 1]);
    p = putBytes(b, p, K_BYTES);
    p = putNum(b, p, f.bytes[c * 2] + f.bytes[c * 2 + 1]);
    p = putBytes(b, p, K_TO_SERVER);
    p = putUint(b, p, pk[c * 2 + DIR_TO_SERVER]);
    p = putBytes(b, p, K_TO_CLIENT);
    p = putUint(b, p, pk[c * 2 + DIR_TO_CLIENT]);
    p = putBytes(b, p, K_PAYLOAD);
    p = putNum(b, p, f.payloadBytes[c]);
    if (this.table.tcp && isTcp) {
      p = this.tcp(b, p, c);
      if (p < 0) {
        // RTT of a connection with heavy state: written as text (may start a new chunk).
        o.pos = -p;
        this.openRtt(o, c);
        o.room(MAX_FIXED);
        p = this.counters(o.buf, o.pos, c);
      }
    } else p = putBytes(b, p, NO_TCP);
    const out = o.buf;
    const len = this.addrLen[ca];
    if (len === 0 || len !== this.addrLen[sa]) p = putBytes(out, p, K_CID_NULL);
    else {
      const d = portFlowDigestAt(isTcp ? IPPROTO_TCP : IPPROTO_UDP, this.addrOctets, ca * 16, this.addrOctets, sa * 16, len, cp, sp);
      p = putBytes(out, p, K_CID);
      p = base64Digest(out, p, d);
      out[p++] = 0x22; // "
      out[p++] = 0x7d; // }
    }
    o.pos = p;
  }

  /** state .. counters at p; returns the end, or minus the position of the RTT when it has to be written as text. */
  private tcp(b: Uint8Array, p: number, c: number): number {
    const t = this.table.tcp!.table;
    p = putBytes(b, p, K_STATE[TCP_STATES.indexOf(tcpState(t, c))]);
    const syns = t.ci[c * CONN_I32 + K_PURE_SYNS];
    p = putBytes(b, p, K_SYN_RETRIES);
    p = putUint(b, p, syns > 1 ? syns - 1 : 0);
    const hs = t.cd[c * CONN_F64 + C_FIRST_RTT];
    p = putBytes(b, p, K_HANDSHAKE);
    p = hs !== 0 ? putNum(b, p, hs / 1e9) : putBytes(b, p, NULL);
    const r = this.rtt;
    const k = releasedAckRtt(t, c, r);
    if (k === 1) {
      p = putBytes(b, p, K_RTT);
      p = putNum(b, p, r[0]);
      p = putBytes(b, p, K_MIN);
      p = putNum(b, p, r[1]);
      p = putBytes(b, p, K_MEDIAN);
      p = putNum(b, p, r[2]);
      p = putBytes(b, p, K_P95);
      p = putNum(b, p, r[3]);
      p = putBytes(b, p, K_MAX);
      p = putNum(b, p, r[4]);
      b[p++] = 0x7d; // }
    } else if (k === 0) p = putBytes(b, p, K_RTT_NULL);
    else return -p;
    return this.counters(b, p, c);
  }

  private openRtt(o: JsonOut, c: number): void {
    const a = ackRtt(this.table.tcp!.table, c);
    o.bytes(K_RTT_OPEN);
    o.text(a ? JSON.stringify({ samples: a.samples, min: a.min, median: a.median, p95: a.p95, max: a.max }) : 'null');
  }

  private counters(b: Uint8Array, p: number, c: number): number {
    const counts = this.table.tcp!.table.counts;
    const base = c * COUNTS;
    let any = 0;
    for (let i = 0; i < COUNTER_SLOT.length; i++) any |= counts[base + COUNTER_SLOT[i]];
    if (any === 0) return putBytes(b, p, ZERO_COUNTERS);
    for (let i = 0; i < COUNTER_SLOT.length; i++) {
      p = putBytes(b, p, K_COUNTER[i]);
      p = putUint(b, p, counts[base + COUNTER_SLOT[i]]);
    }
    return p;
  }

  private stack(id: number): Uint8Array {
    const j = utf8Bytes(JSON.stringify(this.table.flows.stacks[id]));
    if (j.some((b) => b > 0x7f)) this.nonAscii = true;
    return (this.stackJson[id] = j);
  }
}

/** RFC 4648 §4 base64 of a 20-octet digest at p: 28 characters, one '=' of padding; returns the end. */
function base64Digest(b: Uint8Array, p: number, d: Uint8Array): number {
  for (let i = 0; i < 18; i += 3) {
    const v = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
    b[p++] = B64[v >>> 18];
    b[p++] = B64[(v >>> 12) & 63];
    b[p++] = B64[(v >>> 6) & 63];
    b[p++] = B64[v & 63];
  }
  const v = (d[18] << 8) | d[19];
  b[p++] = B64[v >>> 10];
  b[p++] = B64[(v >>> 4) & 63];
  b[p++] = B64[(v << 2) & 63];
  b[p++] = 0x3d; // =
  return p;
}
