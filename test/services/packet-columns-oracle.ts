import type { PacketRow } from '../../preload/api';
import { capture, decodeAsFor, tsharkFields } from '../helpers/captures';
import { openAndWait, type Transport } from './harness';

/** tshark's Protocol and Info columns of every frame of a corpus capture (its Decode As flags). */
export interface TsharkRow {
  number: number;
  protocol: string;
  info: string;
  /** Some IP header of the frame is a fragment (more fragments, or an offset). */
  fragment: boolean;
  sni: string;
}

export function tsharkColumns(name: string): TsharkRow[] {
  const rows = tsharkFields(capture(name), ['frame.number', '_ws.col.Protocol', '_ws.col.Info', 'ip.flags.mf', 'ip.frag_offset', 'tls.handshake.extensions_server_name'], decodeAsFor(name).tshark);
  return rows.map(([n, protocol, info, mf, off, sni]) => ({
    number: Number(n), protocol, info: info ?? '',
    fragment: (mf ?? '').split(',').includes('1') || (off ?? '').split(',').some((x) => x !== '' && x !== '0'),
    sni: sni ?? '',
  }));
}

/** Every packet row Tapscope's API gives for the capture, page by page (pages of `pageSize`). */
export async function tapscopeRows(t: Transport, name: string, pageSize = 5000): Promise<{ rows: PacketRow[]; state: string }> {
  const { info, final } = await openAndWait(t.api, capture(name), decodeAsFor(name).tapscope);
  const rows: PacketRow[] = [];
  for (let offset = 0; ; offset += pageSize) {
    const page = await t.api.packets({ sessionId: info.sessionId, offset, limit: pageSize });
    rows.push(...page.rows);
    if (rows.length >= page.total || page.rows.length === 0) break;
  }
  await t.api.closeSession(info.sessionId);
  return { rows, state: final.state };
}

/*
 * DELIBERATE DIFFERENCES in the Protocol column (docs/packet-columns.md). A packet whose
 * protocol differs from tshark's must match exactly one of these, each a specific rule.
 */
export interface ProtocolRule {
  id: string;
  applies(capture: string, ts: TsharkRow, tp: PacketRow | undefined, state: string): boolean;
}

export const PROTOCOL_RULES: ProtocolRule[] = [
  {
    // tshark decrypts QUIC with the capture's Decryption Secrets Block and names HTTP/3 in it;
    // Tapscope's packet list decrypts TLS (HTTP, HTTP2 labels) but not QUIC.
    id: 'decrypted-quic',
    applies: (c, ts, tp) => c.includes('keys-in-pcapng-dsb') && ts.protocol === 'HTTP3' && tp?.protocol === 'QUIC',
  },
  {
    // tshark reassembles outer IP fragments (a GRE mirror): the first fragments are "IPv4",
    // the last one the inner packet; Tapscope decodes the inner packet from the first.
    id: 'outer-ip-fragments',
    applies: (_c, ts, tp) => ts.fragment && !!tp && (ts.protocol === 'IPv4' || tp.protocol === 'IPv4'),
  },
  {
    // tshark's MMS dissector decodes application/vnd.wap.mms-message bodies; Tapscope shows HTTP.
    id: 'mms-body',
    applies: (_c, ts, tp) => ts.protocol === 'MMSE' && tp?.protocol === 'HTTP',
  },
  {
    // PPP inside GRE (PPTP's data channel) is not decoded: Tapscope stops at the IP layer.
    id: 'ppp-in-gre',
    applies: (_c, ts, tp) => ts.protocol.startsWith('PPP ') && tp?.protocol === 'IPv4',
  },
  {
    // tshark prints the partial record at the damage; Tapscope reports the damage and stops before it.
    id: 'damaged-tail',
    applies: (_c, _ts, tp, state) => tp === undefined && state === 'damaged',
  },
  {
    // The one frame of a fuzzed file: tshark reads its EtherType as 0x4000, Tapscope as IPv4 with a broken TCP header.
    id: 'fuzzed-frame',
    applies: (c, ts, tp) => c === 'malformed-garbage-record-header.pcap' && ts.number === 1 && ts.protocol === '0x4000' && tp?.protocol === 'TCP',
  },
  {
    // tshark's reassembly of the first 206 response (zero-window probes, out-of-order segments)
    // never completes, so no packet of it is labelled; Tapscope's completes at its last byte.
    id: 'reassembly-completes',
    applies: (c, ts, tp) => c === 'http-206-zerowindow-retx-ooo.pcap' && ts.number === 953 && ts.protocol === 'TCP' && tp?.protocol === 'HTTP',
  },
];

export interface ProtocolAgreement {
  equal: number;
  total: number;
  byRule: Record<string, number>;
  unexplained: string[];
}

export function compareProtocols(name: string, ts: TsharkRow[], tp: PacketRow[], state: string): ProtocolAgreement {
  // tshark counts pcapng Custom Blocks as frames (protocol PCAPNG); Tapscope's packets are packets.
  const frames = ts.filter((r) => r.protocol !== 'PCAPNG');
  const out: ProtocolAgreement = { equal: 0, total: frames.length, byRule: {}, unexplained: [] };
  if (frames.length < ts.length) out.byRule['pcapng-custom-block'] = ts.length - frames.length;
  frames.forEach((r, i) => {
    const p = tp[i];
    if (p && p.protocol === r.protocol) {
      out.equal++;
      return;
    }
    const rules = PROTOCOL_RULES.filter((x) => x.applies(name, r, p, state));
    if (rules.length === 1) out.byRule[rules[0].id] = (out.byRule[rules[0].id] ?? 0) + 1;
    else out.unexplained.push(`${name} #${r.number}: tshark ${r.protocol} "${r.info}", tapscope ${p?.protocol} "${p?.info}"${rules.length > 1 ? ` (${rules.length} rules)` : ''}`);
  });
  if (tp.length > frames.length) out.unexplained.push(`${name}: tapscope has ${tp.length - frames.length} more packets than tshark`);
  return out;
}
