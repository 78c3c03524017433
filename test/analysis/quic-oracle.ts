import { transportErrorName } from '../../main/analysis/quic-connections.js';
import { h3ErrorName } from '../../main/parsers/http3.js';
import { tsharkFields } from '../helpers/captures.js';

/*
 * tshark 4.0's view of the QUIC connections of a capture (it decrypts Initials itself), for
 * the QUIC tests: per quic.connection.number the client and server ports, version, SNI and
 * offered ALPN of the ClientHello, handshake time, Retry, CONNECTION_CLOSE in an Initial,
 * 0-RTT and spin-bit RTT, from per-packet fields; and the comparison with Tapscope's quic[].
 */

export interface QuicJson {
  connectionId: number; version: string; sni: string | null; alpn: string[]; state: string; handshakeTime: number | null;
  closeError: string | null; spinRtt: number | null; retry: string | null; closedBy: string | null; zeroRtt: boolean;
}
export interface ConnJson { id: number; transport: string; client: { ip: string; port: number }; server: { ip: string; port: number } }

const FIELDS = [
  'frame.time_epoch', 'udp.srcport', 'udp.dstport', 'quic.connection.number', 'quic.version', 'quic.header_form', 'quic.long.packet_type',
  'quic.long.packet_type_v2', 'tls.handshake.type', 'tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str',
  'quic.cc.error_code', 'quic.cc.reason_phrase', 'quic.spin_bit', 'quic.cc.error_code.app',
];

function versionName(hex: string): string {
  const v = parseInt(hex, 16);
  if (v === 1) return '1';
  if (v === 0x6b3343cf) return '2';
  if (v >>> 8 === 0xff0000) return `draft-${v & 0xff}`;
  return hex;
}

export interface Expected {
  ports: string; version: string; sni: string | null; alpn: string[]; handshakeTime: number | null; retry: boolean;
  closeError: string | null; closedBy: string | null; serverAnswered: boolean; zeroRtt: boolean; spinRtt: number | null;
  /** The server sent Version Negotiation (version 0; not an answer to the handshake). */
  versionNegotiation: boolean;
}

/**
 * tshark's connections, with what the rows say about each. `keyed`: Tapscope has the keys too
 * (a key log, or the capture's DSBs), so a CONNECTION_CLOSE in any packet is readable; else
 * only those in Initials. `keyLog` is handed to tshark.
 */
export function tsharkConnections(file: string, opts: { keyed?: boolean; keyLog?: string } = {}): Expected[] {
  const rows = tsharkFields(file, FIELDS, ['-Y', 'quic', ...(opts.keyLog ? ['-o', `tls.keylog_file:${opts.keyLog}`] : [])]);
  const byNumber = new Map<string, { first: string[]; rows: string[][] }>();
  for (const r of rows) {
    const n = r[3].split(',')[0];
    if (n === '') continue;
    if (!byNumber.has(n)) byNumber.set(n, { first: r, rows: [] });
  }
  const out: Expected[] = [];
  for (const { first } of byNumber.values()) {
    const cport = first[1];
    const sport = first[2];
    // Every packet of the conversation (tshark leaves some quic-go Handshake packets without a connection number).
    const conv = rows.filter((r) => (r[1] === cport && r[2] === sport) || (r[1] === sport && r[2] === cport));
    const t0 = Number(first[0]);
    const v2 = first[4].split(',')[0] === '0x6b3343cf';
    const isHandshake = (r: string[]) => (v2 ? r[7] : r[6]).split(',').includes(v2 ? '3' : '2');
    const clientHs = conv.find((r) => r[1] === cport && isHandshake(r));
    const hello = conv.find((r) => r[1] === cport && r[8].split(',').includes('1'));
    // Without keys only CONNECTION_CLOSE in Initial packets is readable (tshark also decrypts DSB-keyed 1-RTT).
    const isInitial = (r: string[]) => (v2 ? r[7] : r[6]).split(',').includes(v2 ? '1' : '0');
    const close = conv.find((r) => (r[11] !== '' || r[14] !== '') && (opts.keyed || (!r[5].split(',').includes('0') && isInitial(r))));
    const fromServer = conv.filter((r) => r[1] === sport && r[4] !== '0x00000000');
    const versionNegotiation = conv.some((r) => r[1] === sport && r[4] === '0x00000000');
    const retry = fromServer.some((r) => !v2 && r[6].split(',').includes('3'));
    // Spin bit (RFC 9000 §17.4): per direction, time between changes of the value.
    const samples: number[] = [];
    for (const port of [cport, sport]) {
      let last = -1;
      let edge = NaN;
      for (const r of conv) {
        if (r[1] !== port) continue;
        const forms = r[5].split(',');
        const short = forms.indexOf('0');
        if (short < 0 || r[13] === '') continue;
        const spin = r[13].split(',').pop() === '1' || r[13].split(',').pop() === 'True' ? 1 : 0;
        if (spin !== last) {
          if (last !== -1) {
            if (!Number.isNaN(edge)) samples.push(Number(r[0]) - edge);
            edge = Number(r[0]);
          }
          last = spin;
        }
      }
    }
    samples.sort((a, b) => a - b);
    const m = samples.length >> 1;
    out.push({
      ports: `${cport}>${sport}`,
      version: versionName(first[4].split(',')[0]),
      sni: hello ? hello[9] || null : null,
      alpn: hello && hello[10] ? hello[10].split(',') : [],
      handshakeTime: clientHs ? Number(clientHs[0]) - t0 : null,
      retry,
      closeError: close ? `${close[11] !== '' ? transportErrorName(Number(close[11])) : `application error ${hello && hello[10].split(',').some((a) => a.startsWith('h3')) ? h3ErrorName(Number(close[14])) : `0x${Number(close[14]).toString(16)}`}`}${close[12] ? `: ${close[12]}` : ''}` : null,
      closedBy: close ? (close[1] === cport ? 'client' : 'server') : null,
      serverAnswered: fromServer.length > 0,
      versionNegotiation,
      zeroRtt: conv.some((r) => r[1] === cport && (v2 ? r[7] : r[6]).split(',').includes(v2 ? '2' : '1')),
      spinRtt: samples.length === 0 ? null : samples.length % 2 ? samples[m] : (samples[m - 1] + samples[m]) / 2,
    });
  }
  return out;
}

/** Tapscope's quic[] (with its connections) equals tshark's view, connection by connection, in order. */
export function expectSameAsTshark(report: { quic: QuicJson[]; connections: ConnJson[] }, expected: Expected[], expect: (v: unknown, msg?: string) => any): void {
  expect(report.quic.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const q = report.quic[i];
    const e = expected[i];
    const conn = report.connections.find((c) => c.id === q.connectionId)!;
    // The QUIC connection's row in `connections` is its UDP conversation, still transport udp.
    expect(conn.transport).toBe('udp');
    expect([`${conn.client.port}>${conn.server.port}`, `${conn.server.port}>${conn.client.port}`]).toContain(e.ports);
    expect({ version: q.version, sni: q.sni, alpn: q.alpn, retry: q.retry !== null, closeError: q.closeError, closedBy: q.closedBy, zeroRtt: q.zeroRtt })
      .toEqual({ version: e.version, sni: e.sni, alpn: e.alpn, retry: e.retry, closeError: e.closeError, closedBy: e.closedBy, zeroRtt: e.zeroRtt });
    if (q.retry !== null) expect(q.retry).toBe('valid');
    if (e.handshakeTime === null) expect(q.handshakeTime).toBeNull();
    else expect(q.handshakeTime).toBeCloseTo(e.handshakeTime, 6);
    if (e.spinRtt === null) expect(q.spinRtt).toBeNull();
    else expect(q.spinRtt).toBeCloseTo(e.spinRtt, 6);
    const done = e.handshakeTime !== null;
    const state = done ? (e.closeError ? 'closed' : 'established') : e.serverAnswered ? 'handshake-failed' : e.versionNegotiation ? 'version-negotiation' : 'handshake-unanswered';
    expect(q.state, `connection ${i} state`).toBe(state);
  }
}
