import { tsharkRows } from '../pcap/oracle.js';
import { openCapture } from '../../main/pcap/reader.js';
import { Decoder, parseDecodeAs } from '../../main/decode/decoder.js';
import { L4 } from '../../main/decode/frame.js';

/*
 * Per packet, what tshark and Tapscope make of the layers: the tunnel stack (type, id,
 * outer addresses), the innermost (non-quoted) IP addresses, the transport and its ports,
 * fragment flags and an ICMP error's quoted addresses. Both sides are rendered as the
 * same text so a test compares strings and prints readable differences.
 */

export const STACK_FIELDS = [
  'frame.protocols', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport',
  'vlan.id', 'vxlan.vni', 'geneve.vni', 'gre.flags.key', 'gre.key', 'erspan.version', 'erspan.spanid', 'ip.flags.mf', 'ip.frag_offset',
];

export interface PacketView {
  /** "vlan:10 | gre:null 1.2.3.4>5.6.7.8 | ..." outermost first. */
  stack: string;
  /** "4 src>dst" or "" without IP. */
  ip: string;
  /** "tcp 80>1234", "udp ...", "icmp", "icmpv6" or "". */
  l4: string;
  /** "src>dst sport>dport" of the header an ICMP error quotes, or "". */
  quoted: string;
  /** The outermost IP layer is a fragment (MF set or offset > 0). */
  fragment: boolean;
  firstFragment: boolean;
  /** Tapscope only: a layer was cut short or invalid (f.malformed). */
  malformed?: string | null;
  /** tshark only: a dissector flagged the packet malformed (`_ws.malformed`). */
  tsharkMalformed?: boolean;
}

const split = (s: string | undefined): string[] => (s ? s.split(',') : []);

/** tshark's view of every packet (Custom Blocks dropped). */
export async function tsharkViews(path: string, decodeAs: string[] = []): Promise<PacketView[]> {
  const rows = await tsharkRows(path, ['frame.encap_type', ...STACK_FIELDS, '_ws.malformed'], decodeAs);
  return rows.filter((r) => r[0] !== '').map((r) => tsharkView(r.slice(1)));
}

function tsharkView(r: string[]): PacketView {
  const [protocols, ipSrc, ipDst, ip6Src, ip6Dst, tcpS, tcpD, udpS, udpD, vlanId, vni, gvni, greKeyFlag, greKey, erspanVer, erspanSpan, mf, fragOff, wsMalformed] = r.map(split);
  const tokens = protocols[0]?.split(':') ?? [];
  const idx = { ip: 0, ip6: 0, tcp: 0, udp: 0, vlan: 0, vxlan: 0, geneve: 0, gre: 0, greKey: 0, erspan: 0 };
  const stack: string[] = [];
  let ip: { v: number; src: string; dst: string } | null = null;
  let prevWasIp = false;
  let l4 = '';
  let quoted = '';
  let quotedOpen = false;
  const outer = () => (ip ? ` ${ip.src}>${ip.dst}` : '');
  const tunnel = (text: string) => { stack.push(text); ip = null; l4 = ''; };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (quotedOpen) {
      // The header an ICMP error quotes: addresses, then ports.
      if (t === 'ip' || t === 'ipv6') {
        const q = t === 'ip' ? [ipSrc[idx.ip], ipDst[idx.ip]] : [ip6Src[idx.ip6], ip6Dst[idx.ip6]];
        quoted = `${q[0]}>${q[1]}`;
      } else if (t === 'tcp' || t === 'udp') {
        const s = t === 'tcp' ? tcpS[idx.tcp] : udpS[idx.udp];
        const d = t === 'tcp' ? tcpD[idx.tcp] : udpD[idx.udp];
        quoted += ` ${s}>${d}`;
        break;
      }
      continue;
    }
    if (t === 'vlan') stack.push(`vlan:${Number(vlanId[idx.vlan++])}`);
    else if (t === 'ip' || t === 'ipv6') {
      if (prevWasIp) tunnel(`ipip:null${outer()}`);
      ip = t === 'ip' ? { v: 4, src: ipSrc[idx.ip], dst: ipDst[idx.ip] } : { v: 6, src: ip6Src[idx.ip6], dst: ip6Dst[idx.ip6] };
      if (ip.src === undefined) ip = null; // header too damaged for tshark to show addresses
      if (t === 'ip') idx.ip++; else idx.ip6++;
      l4 = '';
    } else if (t === 'tcp') { l4 = `tcp ${tcpS[idx.tcp]}>${tcpD[idx.tcp]}`; idx.tcp++; }
    else if (t === 'udp') { l4 = `udp ${udpS[idx.udp]}>${udpD[idx.udp]}`; idx.udp++; }
    else if (t === 'vxlan') tunnel(`vxlan:${Number(vni[idx.vxlan++])}${outer()}`);
    else if (t === 'geneve') tunnel(`geneve:${Number(gvni[idx.geneve++])}${outer()}`);
    else if (t === 'tzsp') tunnel(`tzsp:null${outer()}`);
    else if (t === 'gre') {
      const hasKey = greKeyFlag[idx.gre++] === '1';
      const key = hasKey ? String(Number(greKey[idx.greKey++])) : 'null';
      if (tokens[i + 1] === 'ppp') break; // PPTP's enhanced GRE (version 1) carries PPP: not a tunnel here
      if (tokens[i + 1] === 'erspan') {
        const ver = erspanVer[idx.erspan];
        const span = erspanSpan[idx.erspan++];
        tunnel(`${ver === '2' ? 'erspan3' : 'erspan2'}:${span === undefined ? 'null' : Number(span)}${outer()}`);
        i++;
      } else tunnel(`gre:${key}${outer()}`);
    } else if (t === 'icmp' || t === 'icmpv6') { l4 = t; quotedOpen = true; }
    prevWasIp = t === 'ip' || t === 'ipv6';
    if (t === 'ethertype') prevWasIp = false;
  }
  const fragment = mf[0] === '1' || (fragOff[0] !== undefined && fragOff[0] !== '0');
  return {
    stack: stack.join(' | '),
    ip: ip ? `${ip.v} ${ip.src}>${ip.dst}` : '',
    l4,
    quoted,
    fragment,
    firstFragment: mf[0] === '1' && (fragOff[0] ?? '0') === '0',
    tsharkMalformed: wsMalformed.length > 0,
  };
}

/** Tapscope's view of every packet. */
export function tapscopeViews(path: string, decodeAs: string[] = []): PacketView[] {
  const reader = openCapture(path);
  const dec = new Decoder(decodeAs.map(parseDecodeAs));
  const out: PacketView[] = [];
  try {
    for (let r = reader.next(); r; r = reader.next()) {
      const f = dec.decode(r);
      const stack: string[] = [];
      for (let i = 0; i < f.tunnelCount; i++) {
        const t = f.tunnels[i];
        stack.push(`${t.type}:${t.id}${t.outerSrc !== null ? ` ${t.outerSrc}>${t.outerDst}` : ''}`);
      }
      let l4 = '';
      if (f.l4 === L4.Tcp) l4 = `tcp ${f.srcPort}>${f.dstPort}`;
      else if (f.l4 === L4.Udp) l4 = `udp ${f.srcPort}>${f.dstPort}`;
      else if (f.l4 === L4.Icmp) l4 = 'icmp';
      else if (f.l4 === L4.Icmpv6) l4 = 'icmpv6';
      out.push({
        stack: stack.join(' | '),
        ip: f.ipVersion ? `${f.ipVersion} ${f.src}>${f.dst}` : '',
        l4,
        quoted: f.icmpInner ? `${f.innerSrc}>${f.innerDst}${f.innerProto === 6 || f.innerProto === 17 ? ` ${f.innerSrcPort}>${f.innerDstPort}` : ''}` : '',
        fragment: f.isFragment,
        firstFragment: f.isFragment && f.fragOffset === 0,
        malformed: f.malformed,
      });
    }
  } finally {
    reader.close();
  }
  return out;
}
