import type { ConnectionTable } from '../analysis/connections.js';
import {
  ackRtt, COUNTER_KEYS, handshakeRtt, synRetries, TCP_FLAG_NAME_OF_COUNTER, TCP_STATES, tcpCount, tcpState, type TcpCounters, type TcpState,
} from '../analysis/tcp-report.js';
import type { Connection } from '../analysis/types.js';
import type { TunnelRef } from '../flows/flow-table.js';

/*
 * CONNECTIONS AS COMPACT ROWS between threads: what the worker (file analysis, live
 * capture) sends the service for the connections that changed. Each connection is one row
 * of F64 numbers and one of U32 numbers in two typed arrays (transferred, not cloned), and
 * endpoints travel as address ids into a table that only the new addresses are appended to
 * (likewise tunnel stacks). The service keeps the same rows (ConnectionStore) and builds a
 * connection's JSON or table row from them when asked, never parsing JSON back.
 */

// ---- Float64 per row ----
const D_FIRST_TS = 0;
const D_LAST_TS = 1;
const D_BYTES_TO_SERVER = 2;
const D_BYTES_TO_CLIENT = 3;
const D_PAYLOAD = 4;
/** NaN for null. */
const D_HANDSHAKE_RTT = 5;
const D_RTT_SAMPLES = 6;
const D_RTT_MIN = 7;
const D_RTT_MEDIAN = 8;
const D_RTT_P95 = 9;
const D_RTT_MAX = 10;
export const ROW_F64 = 11;

// ---- Uint32 per row ----
const U_TCP = 0;
const U_STATE = 1;
const U_SYN_RETRIES = 2;
const U_CLIENT_ADDR = 3;
const U_SERVER_ADDR = 4;
const U_CLIENT_PORT = 5;
const U_SERVER_PORT = 6;
const U_TUNNEL_STACK = 7;
const U_PACKETS_TO_SERVER = 8;
const U_PACKETS_TO_CLIENT = 9;
const U_RTT_EXACT = 10;
/** The TcpCounters in COUNTER_KEYS order. */
const U_COUNTERS = 11;
export const ROW_U32 = U_COUNTERS + COUNTER_KEYS.length;

/** Rows of the connections that changed, and the addresses and tunnel stacks new since the last delta. */
export interface ConnectionRows {
  ids: Int32Array;
  f64: Float64Array;
  u32: Uint32Array;
  /** Addresses with ids addrBase, addrBase + 1, ... */
  addrBase: number;
  addrs: string[];
  stackBase: number;
  stacks: TunnelRef[][];
}

/** Encodes the connections `ids` of the table; `addrsSent`/`stacksSent`: how many the receiver has. */
export function encodeConnectionRows(table: ConnectionTable, ids: number[], addrsSent: number, stacksSent: number): ConnectionRows {
  const f = table.flows;
  const t = table.tcp?.table ?? null;
  const n = ids.length;
  const f64 = new Float64Array(n * ROW_F64);
  const u32 = new Uint32Array(n * ROW_U32);
  for (let r = 0; r < n; r++) {
    const c = ids[r];
    const d = r * ROW_F64;
    const u = r * ROW_U32;
    f64[d + D_FIRST_TS] = f.firstTs[c];
    f64[d + D_LAST_TS] = f.lastTs[c];
    f64[d + D_BYTES_TO_SERVER] = f.bytes[c * 2];
    f64[d + D_BYTES_TO_CLIENT] = f.bytes[c * 2 + 1];
    f64[d + D_PAYLOAD] = f.payloadBytes[c];
    u32[u + U_CLIENT_ADDR] = f.clientAddr[c];
    u32[u + U_SERVER_ADDR] = f.serverAddr[c];
    u32[u + U_CLIENT_PORT] = f.clientPort[c];
    u32[u + U_SERVER_PORT] = f.serverPort[c];
    u32[u + U_TUNNEL_STACK] = f.tunnelStack[c];
    u32[u + U_PACKETS_TO_SERVER] = f.packets[c * 2];
    u32[u + U_PACKETS_TO_CLIENT] = f.packets[c * 2 + 1];
    f64[d + D_HANDSHAKE_RTT] = NaN;
    if (t && f.isTcp[c]) {
      u32[u + U_TCP] = 1;
      u32[u + U_STATE] = TCP_STATES.indexOf(tcpState(t, c));
      u32[u + U_SYN_RETRIES] = synRetries(t, c);
      const h = handshakeRtt(t, c);
      if (h !== null) f64[d + D_HANDSHAKE_RTT] = h;
      const rtt = ackRtt(t, c);
      if (rtt) {
        f64[d + D_RTT_SAMPLES] = rtt.samples;
        f64[d + D_RTT_MIN] = rtt.min;
        f64[d + D_RTT_MEDIAN] = rtt.median;
        f64[d + D_RTT_P95] = rtt.p95;
        f64[d + D_RTT_MAX] = rtt.max;
        u32[u + U_RTT_EXACT] = rtt.exact ? 1 : 0;
      }
      for (let k = 0; k < COUNTER_KEYS.length; k++) u32[u + U_COUNTERS + k] = tcpCount(t, c, TCP_FLAG_NAME_OF_COUNTER[COUNTER_KEYS[k]]);
    } else if (f.isTcp[c]) u32[u + U_TCP] = 1;
  }
  return {
    ids: Int32Array.from(ids),
    f64,
    u32,
    addrBase: addrsSent,
    addrs: f.addrs.slice(addrsSent),
    stackBase: stacksSent,
    stacks: f.stacks.slice(stacksSent),
  };
}

/** The buffers of a delta, to transfer rather than copy between threads. */
export function rowBuffers(r: ConnectionRows): ArrayBuffer[] {
  return [r.ids.buffer, r.f64.buffer, r.u32.buffer] as ArrayBuffer[];
}

/** Rows per chunk of the store (2^12): about 0.75 MB a chunk. */
const CHUNK_BITS = 12;
const CHUNK_ROWS = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_ROWS - 1;

/**
 * The receiving side: every connection's latest row by id (the same layout), the address
 * and tunnel-stack tables, and connections built from rows on demand. Rows live in chunks
 * of CHUNK_ROWS, allocated as ids reach them: no doubling (at 200,000 connections a flat
 * store had room for 262,144 rows, 49.5 MB, and held both copies while it grew), at most
 * one chunk unused.
 */
export class ConnectionStore {
  /** One past the highest id received (ids are dense from 0 once every batch arrived). */
  count = 0;
  private readonly f64: Float64Array[] = [];
  private readonly u32: Uint32Array[] = [];
  private readonly present: Uint8Array[] = [];
  private readonly addrs: string[] = [];
  private readonly stacks: TunnelRef[][] = [];

  apply(r: ConnectionRows): void {
    for (let i = 0; i < r.addrs.length; i++) this.addrs[r.addrBase + i] = r.addrs[i];
    for (let i = 0; i < r.stacks.length; i++) this.stacks[r.stackBase + i] = r.stacks[i];
    for (let k = 0; k < r.ids.length; k++) {
      const id = r.ids[k];
      const c = id >>> CHUNK_BITS;
      while (c >= this.f64.length) {
        this.f64.push(new Float64Array(CHUNK_ROWS * ROW_F64));
        this.u32.push(new Uint32Array(CHUNK_ROWS * ROW_U32));
        this.present.push(new Uint8Array(CHUNK_ROWS));
      }
      const row = id & CHUNK_MASK;
      this.f64[c].set(r.f64.subarray(k * ROW_F64, (k + 1) * ROW_F64), row * ROW_F64);
      this.u32[c].set(r.u32.subarray(k * ROW_U32, (k + 1) * ROW_U32), row * ROW_U32);
      this.present[c][row] = 1;
      if (id >= this.count) this.count = id + 1;
    }
  }

  has(id: number): boolean {
    return id >= 0 && id < this.count && (id | 0) === id && this.present[id >>> CHUNK_BITS][id & CHUNK_MASK] === 1;
  }

  /** Connection `id` as a value (with its TCP results), or null when no row arrived for it. */
  connection(id: number): Connection | null {
    if (!this.has(id)) return null;
    const d = (id & CHUNK_MASK) * ROW_F64;
    const u = (id & CHUNK_MASK) * ROW_U32;
    const f64 = this.f64[id >>> CHUNK_BITS];
    const u32 = this.u32[id >>> CHUNK_BITS];
    const tcp = u32[u + U_TCP] === 1;
    const pS = u32[u + U_PACKETS_TO_SERVER];
    const pC = u32[u + U_PACKETS_TO_CLIENT];
    const counters = {} as TcpCounters;
    for (let k = 0; k < COUNTER_KEYS.length; k++) counters[COUNTER_KEYS[k]] = u32[u + U_COUNTERS + k];
    const h = f64[d + D_HANDSHAKE_RTT];
    return {
      id,
      transport: tcp ? 'tcp' : 'udp',
      client: { ip: this.addrs[u32[u + U_CLIENT_ADDR]] ?? '', port: u32[u + U_CLIENT_PORT] },
      server: { ip: this.addrs[u32[u + U_SERVER_ADDR]] ?? '', port: u32[u + U_SERVER_PORT] },
      tunnel: this.stacks[u32[u + U_TUNNEL_STACK]] ?? [],
      firstTs: f64[d + D_FIRST_TS],
      lastTs: f64[d + D_LAST_TS],
      packets: pS + pC,
      bytes: f64[d + D_BYTES_TO_SERVER] + f64[d + D_BYTES_TO_CLIENT],
      packetsToServer: pS,
      packetsToClient: pC,
      bytesToServer: f64[d + D_BYTES_TO_SERVER],
      bytesToClient: f64[d + D_BYTES_TO_CLIENT],
      payloadBytes: f64[d + D_PAYLOAD],
      tcp: tcp
        ? {
          state: TCP_STATES[u32[u + U_STATE]] as TcpState,
          synRetries: u32[u + U_SYN_RETRIES],
          handshakeRtt: h === h ? h : null,
          rtt: f64[d + D_RTT_SAMPLES] > 0
            ? { samples: f64[d + D_RTT_SAMPLES], min: f64[d + D_RTT_MIN], median: f64[d + D_RTT_MEDIAN], p95: f64[d + D_RTT_P95], max: f64[d + D_RTT_MAX], exact: u32[u + U_RTT_EXACT] === 1 }
            : null,
          counters,
        }
        : null,
    };
  }
}
