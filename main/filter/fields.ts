import { L4, TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type Frame } from '../decode/frame.js';
import { TCP_FLAG_INFO, TcpA, dupAckNumber } from '../analysis/tcp-flags.js';
import type { FilterContext } from './context.js';
import type { HttpMessage } from './app-fields.js';
import type { FieldType, Value, ValueNames } from './values.js';

/*
 * The fields a display filter can name: Wireshark's names and types, and how each is read
 * from Tapscope's data. `cost` says what reading it needs:
 *   index       the packet index only (number, time, length, TCP analysis flags);
 *   connection  the connection's facts (addresses, ports, stream) when the packet belongs to a
 *               plain (untunnelled) TCP/UDP connection, else a decode;
 *   packet      a decode of the packet from its file offset;
 *   app         a decode plus the packet's application-layer fields (app-fields.ts).
 * `symmetric`: the field has the same values in both directions of a connection (ip.addr,
 * tcp.port, tcp.stream), so a filter of only such fields is decided once per connection.
 * A field occurring several times in a packet (ip.addr: source and destination, the outer
 * headers of tunnels, the header quoted by an ICMP error) pushes every occurrence.
 */

export type Cost = 'index' | 'connection' | 'packet' | 'app';

export interface FieldDef {
  name: string;
  type: FieldType;
  cost: Cost;
  symmetric?: boolean;
  /** Value names accepted in place of numbers (dns.qry.type == AAAA). */
  names?: ValueNames;
  get(c: FilterContext, out: Value[]): void;
}

const FIELDS = new Map<string, FieldDef>();

function field(name: string, type: FieldType, cost: Cost, get: FieldDef['get'], extra: Partial<FieldDef> = {}): void {
  FIELDS.set(name, { name, type, cost, get, ...extra });
}

export function fieldDef(name: string): FieldDef | undefined {
  return FIELDS.get(name);
}

export function fieldNames(): string[] {
  return [...FIELDS.keys()].sort();
}

const PRESENT = 1;

// ---- frame -----------------------------------------------------------------------------

field('frame', 'protocol', 'index', (_c, o) => o.push(PRESENT));
field('frame.number', 'uint', 'index', (c, o) => o.push(c.i + 1));
field('frame.len', 'uint', 'index', (c, o) => o.push(c.index.wireLen[c.i]));
field('frame.cap_len', 'uint', 'packet', (c, o) => o.push(c.frame().caplen));
field('frame.time_epoch', 'float', 'index', (c, o) => o.push(c.index.ts[c.i]));
field('frame.time_relative', 'float', 'index', (c, o) => o.push(c.index.ts[c.i] - c.firstTs));
field('frame.time_delta', 'float', 'index', (c, o) => o.push(c.i ? c.index.ts[c.i] - c.index.ts[c.i - 1] : 0));
/** pcapng only: tshark shows no interface id for pcap files. */
field('frame.interface_id', 'uint', 'packet', (c, o) => {
  const id = c.src.interfaceId(c.i);
  if (id >= 0) o.push(id);
});

// ---- link layer and tunnels ------------------------------------------------------------

const LINKTYPE_ETHERNET = 1;
const ETHERTYPE_VLAN = [0x8100, 0x88a8, 0x9100];

/** Only the outermost Ethernet header is read (inner ones of VXLAN/GENEVE are not kept by the decoder). */
function ethAt(f: Frame): number {
  return f.linkType === LINKTYPE_ETHERNET && f.caplen >= 14 ? f.frameOff : -1;
}

function mac(b: Uint8Array, o: number): string {
  let s = '';
  for (let k = 0; k < 6; k++) s += (k ? ':' : '') + b[o + k].toString(16).padStart(2, '0');
  return s;
}

field('eth', 'protocol', 'packet', (c, o) => {
  if (ethAt(c.frame()) >= 0) o.push(PRESENT);
});
field('eth.dst', 'ether', 'packet', (c, o) => {
  const f = c.frame();
  const e = ethAt(f);
  if (e >= 0) o.push(mac(f.data, e));
});
field('eth.src', 'ether', 'packet', (c, o) => {
  const f = c.frame();
  const e = ethAt(f);
  if (e >= 0) o.push(mac(f.data, e + 6));
});
field('eth.addr', 'ether', 'packet', (c, o) => {
  const f = c.frame();
  const e = ethAt(f);
  if (e >= 0) o.push(mac(f.data, e), mac(f.data, e + 6));
});
field('eth.type', 'uint', 'packet', (c, o) => {
  const f = c.frame();
  const e = ethAt(f);
  if (e >= 0) o.push((f.data[e + 12] << 8) | f.data[e + 13]);
});

function tunnelIds(types: string[], withNull = false): FieldDef['get'] {
  return (c, o) => {
    const f = c.frame();
    for (let t = 0; t < f.tunnelCount; t++) {
      const x = f.tunnels[t];
      if (types.includes(x.type) && (x.id !== null || withNull)) o.push(x.id ?? PRESENT);
    }
  };
}

field('vlan', 'protocol', 'packet', tunnelIds(['vlan'], true));
field('vlan.id', 'uint', 'packet', tunnelIds(['vlan']));
field('vxlan', 'protocol', 'packet', tunnelIds(['vxlan'], true));
field('vxlan.vni', 'uint', 'packet', tunnelIds(['vxlan']));
field('geneve', 'protocol', 'packet', tunnelIds(['geneve'], true));
field('geneve.vni', 'uint', 'packet', tunnelIds(['geneve']));
/** GRE: a tunnel layer, or the innermost IP payload itself (PPTP's enhanced GRE carrying PPP). */
field('gre', 'protocol', 'packet', (c, o) => {
  tunnelIds(['gre', 'erspan2', 'erspan3'], true)(c, o);
  const f = c.frame();
  if (!o.length && f.ipProto === 47 && f.l4 === L4.None) o.push(PRESENT);
});
field('gre.key', 'uint', 'packet', tunnelIds(['gre']));
field('erspan', 'protocol', 'packet', tunnelIds(['erspan2', 'erspan3'], true));
field('erspan.spanid', 'uint', 'packet', tunnelIds(['erspan2', 'erspan3']));
field('tzsp', 'protocol', 'packet', tunnelIds(['tzsp'], true));

// ---- IP --------------------------------------------------------------------------------

/** IP protocol of the outer header a tunnel layer implies. */
const TUNNEL_IP_PROTO: Record<string, number> = { vxlan: 17, geneve: 17, tzsp: 17, gre: 47, erspan2: 47, erspan3: 47, ipip: 4 };

type Side = 'src' | 'dst';

/**
 * Addresses of one IP version: outer tunnel headers, the innermost header, and the header an
 * ICMP error quotes. For a packet of a plain connection they come from the connection facts.
 */
function addresses(version: 4 | 6, sides: Side[]): FieldDef['get'] {
  return (c, o) => {
    const k = c.conn();
    if (k && k.plain) {
      if (k.ipVersion !== version) return;
      const d = c.dir();
      for (const s of sides) o.push((s === 'src') === (d === 0) ? k.client : k.server);
      return;
    }
    const f = c.frame();
    const conv = (t: string): Value | null => {
      if (version === 4) return t.includes('.') && !t.includes(':') ? c.ipv4(t) : null;
      return t.includes(':') ? c.ipv6(t) : null;
    };
    const push = (t: string | null): void => {
      if (!t) return;
      const v = conv(t);
      if (v !== null && v !== -1 && v !== '') o.push(v);
    };
    for (let t = 0; t < f.tunnelCount; t++) {
      const x = f.tunnels[t];
      for (const s of sides) push(s === 'src' ? x.outerSrc : x.outerDst);
    }
    if (f.ipVersion === version) for (const s of sides) push(s === 'src' ? f.src : f.dst);
    if (f.icmpInner) for (const s of sides) push(s === 'src' ? f.innerSrc : f.innerDst);
  };
}

/** An IP header of this version: the packet's own or a tunnel's outer one. */
function ipPresent(version: 4 | 6): FieldDef['get'] {
  const outer = version === 4 ? (a: string) => !a.includes(':') : (a: string) => a.includes(':');
  return (c, o) => {
    const k = c.conn();
    if (k && k.plain) {
      if (k.ipVersion === version) o.push(PRESENT);
      return;
    }
    const f = c.frame();
    if (f.ipVersion === version) return void o.push(PRESENT);
    for (let t = 0; t < f.tunnelCount; t++) if (f.tunnels[t].outerSrc && outer(f.tunnels[t].outerSrc!)) return void o.push(PRESENT);
  };
}

field('ip', 'protocol', 'connection', ipPresent(4), { symmetric: true });
field('ip.src', 'ipv4', 'connection', addresses(4, ['src']));
field('ip.dst', 'ipv4', 'connection', addresses(4, ['dst']));
field('ip.addr', 'ipv4', 'connection', addresses(4, ['src', 'dst']), { symmetric: true });
field('ip.proto', 'uint', 'packet', (c, o) => {
  const f = c.frame();
  for (let t = 0; t < f.tunnelCount; t++) {
    const x = f.tunnels[t];
    if (x.outerSrc?.includes('.') && TUNNEL_IP_PROTO[x.type]) o.push(TUNNEL_IP_PROTO[x.type]);
  }
  if (f.ipVersion === 4) o.push(f.ipProto);
  if (f.icmpInner && f.innerSrc.includes('.')) o.push(f.innerProto);
});
field('ip.ttl', 'uint', 'packet', (c, o) => {
  const f = c.frame();
  if (f.ipVersion === 4) o.push(f.ttl);
});
field('ip.id', 'uint', 'packet', (c, o) => {
  const f = c.frame();
  if (f.ipVersion === 4) o.push(f.ipId);
});
field('ip.len', 'uint', 'packet', (c, o) => {
  const f = c.frame();
  if (f.ipVersion === 4 && f.ipOff + 4 <= f.data.length) o.push((f.data[f.ipOff + 2] << 8) | f.data[f.ipOff + 3]);
});

field('ipv6', 'protocol', 'connection', ipPresent(6), { symmetric: true });
field('ipv6.src', 'ipv6', 'connection', addresses(6, ['src']));
field('ipv6.dst', 'ipv6', 'connection', addresses(6, ['dst']));
field('ipv6.addr', 'ipv6', 'connection', addresses(6, ['src', 'dst']), { symmetric: true });
field('ipv6.nxt', 'uint', 'packet', (c, o) => {
  const f = c.frame();
  if (f.ipVersion === 6 && f.ipOff + 7 <= f.data.length) o.push(f.data[f.ipOff + 6]);
});
field('ipv6.hlim', 'uint', 'packet', (c, o) => {
  const f = c.frame();
  if (f.ipVersion === 6) o.push(f.ttl);
});
field('ipv6.plen', 'uint', 'packet', (c, o) => {
  const f = c.frame();
  if (f.ipVersion === 6 && f.ipOff + 6 <= f.data.length) o.push((f.data[f.ipOff + 4] << 8) | f.data[f.ipOff + 5]);
});

// ---- TCP / UDP ---------------------------------------------------------------------------

/** Ports of transport `l4`: the packet's own and those of the header an ICMP error quotes. */
function ports(l4: L4, sides: Side[]): FieldDef['get'] {
  return (c, o) => {
    const k = c.conn();
    if (k && k.plain) {
      if (k.l4 !== l4) return;
      const d = c.dir();
      for (const s of sides) o.push((s === 'src') === (d === 0) ? k.clientPort : k.serverPort);
      return;
    }
    const f = c.frame();
    if (f.l4 === l4) for (const s of sides) o.push(s === 'src' ? f.srcPort : f.dstPort);
    if (f.icmpInner && f.innerProto === l4) for (const s of sides) o.push(s === 'src' ? f.innerSrcPort : f.innerDstPort);
  };
}

function transportPresent(l4: L4): FieldDef['get'] {
  return (c, o) => {
    const k = c.conn();
    if (k && k.plain) {
      if (k.l4 === l4) o.push(PRESENT);
      return;
    }
    const f = c.frame();
    if (f.l4 === l4 || (f.icmpInner && f.innerProto === l4)) return void o.push(PRESENT);
    if (l4 === L4.Udp) for (let t = 0; t < f.tunnelCount; t++) if (TUNNEL_IP_PROTO[f.tunnels[t].type] === 17) return void o.push(PRESENT);
  };
}

function stream(l4: L4): FieldDef['get'] {
  return (c, o) => {
    const k = c.conn();
    if (k && k.l4 === l4 && k.stream >= 0) o.push(k.stream);
  };
}

/** The packet's own TCP header (not a quoted one). */
function tcpValue(read: (f: Frame, c: FilterContext) => number | null): FieldDef['get'] {
  return (c, o) => {
    const f = c.frame();
    if (f.l4 !== L4.Tcp) return;
    const v = read(f, c);
    if (v !== null) o.push(v);
  };
}

field('tcp', 'protocol', 'connection', transportPresent(L4.Tcp), { symmetric: true });
field('tcp.srcport', 'uint', 'connection', ports(L4.Tcp, ['src']));
field('tcp.dstport', 'uint', 'connection', ports(L4.Tcp, ['dst']));
field('tcp.port', 'uint', 'connection', ports(L4.Tcp, ['src', 'dst']), { symmetric: true });
field('tcp.stream', 'uint', 'connection', stream(L4.Tcp), { symmetric: true });
field('tcp.len', 'uint', 'packet', tcpValue((f) => f.payloadLen));
field('tcp.hdr_len', 'uint', 'packet', tcpValue((f) => f.tcpHdrLen));
field('tcp.seq_raw', 'uint', 'packet', tcpValue((f) => f.tcpSeq >>> 0));
field('tcp.ack_raw', 'uint', 'packet', tcpValue((f) => f.tcpAck >>> 0));
/** Relative numbers as tshark shows them (docs/workbench.md): base per direction from the connection's first packet. */
field('tcp.seq', 'uint', 'packet', tcpValue((f, c) => {
  const k = c.conn();
  const base = k?.seqBase[c.dir()] ?? 0;
  return ((f.tcpSeq >>> 0) - base) >>> 0;
}));
field('tcp.ack', 'uint', 'packet', tcpValue((f, c) => {
  if (!(f.tcpFlags & TCP_ACK)) return 0;
  const k = c.conn();
  const base = k?.seqBase[1 - c.dir()] ?? 0;
  return ((f.tcpAck >>> 0) - base) >>> 0;
}));
field('tcp.window_size_value', 'uint', 'packet', tcpValue((f) => f.tcpWindow));
/** tshark's calculated window: scaled by the sender's shift once both SYNs negotiated it (never the SYNs' own). */
field('tcp.window_size', 'uint', 'packet', tcpValue((f, c) => {
  const shift = c.conn()?.wscale[c.dir()] ?? -1;
  return shift >= 0 && !(f.tcpFlags & TCP_SYN) ? f.tcpWindow * 2 ** shift : f.tcpWindow;
}));
field('tcp.flags', 'uint', 'packet', tcpValue((f) => f.tcpFlags));
const TCP_FLAG_BITS: [string, number][] = [
  ['fin', TCP_FIN], ['syn', TCP_SYN], ['reset', TCP_RST], ['push', TCP_PSH], ['ack', TCP_ACK], ['urg', TCP_URG], ['ece', TCP_ECE], ['cwr', TCP_CWR],
];
for (const [n, bit] of TCP_FLAG_BITS) field(`tcp.flags.${n}`, 'bool', 'packet', tcpValue((f) => (f.tcpFlags & bit ? 1 : 0)));

/** TCP analysis flags live in the packet index (analysis/tcp-flags.ts); Reset there is tcp.flags.reset, not analysis. */
const ANALYSIS_BITS = TCP_FLAG_INFO.filter((x) => x.field.startsWith('tcp.analysis.')).reduce((m, x) => m | x.bit, 0);
for (const x of TCP_FLAG_INFO) {
  if (!x.field.startsWith('tcp.analysis.')) continue;
  field(x.field, 'none', 'index', (c, o) => {
    if (c.index.flags[c.i] & x.bit) o.push(PRESENT);
  });
}
field('tcp.analysis.flags', 'none', 'index', (c, o) => {
  if (c.index.flags[c.i] & ANALYSIS_BITS) o.push(PRESENT);
});
field('tcp.analysis.duplicate_ack_num', 'uint', 'index', (c, o) => {
  const fl = c.index.flags[c.i];
  if (fl & TcpA.DuplicateAck) o.push(dupAckNumber(fl));
});

field('udp', 'protocol', 'connection', transportPresent(L4.Udp), { symmetric: true });
field('udp.srcport', 'uint', 'connection', ports(L4.Udp, ['src']));
field('udp.dstport', 'uint', 'connection', ports(L4.Udp, ['dst']));
field('udp.port', 'uint', 'connection', ports(L4.Udp, ['src', 'dst']), { symmetric: true });
field('udp.stream', 'uint', 'connection', stream(L4.Udp), { symmetric: true });
field('udp.length', 'uint', 'packet', (c, o) => {
  const f = c.frame();
  if (f.l4 === L4.Udp) o.push(f.udpLen);
});

// ---- ICMP, ARP -------------------------------------------------------------------------

for (const [proto, l4] of [['icmp', L4.Icmp], ['icmpv6', L4.Icmpv6]] as const) {
  field(proto, 'protocol', 'packet', (c, o) => {
    if (c.frame().l4 === l4) o.push(PRESENT);
  });
  field(`${proto}.type`, 'uint', 'packet', (c, o) => {
    const f = c.frame();
    if (f.l4 === l4 && f.icmpType >= 0) o.push(f.icmpType);
  });
  field(`${proto}.code`, 'uint', 'packet', (c, o) => {
    const f = c.frame();
    if (f.l4 === l4 && f.icmpCode >= 0) o.push(f.icmpCode);
  });
}
field('arp', 'protocol', 'packet', (c, o) => {
  if (c.frame().arpOp) o.push(PRESENT);
});
field('arp.opcode', 'uint', 'packet', (c, o) => {
  const f = c.frame();
  if (f.arpOp) o.push(f.arpOp);
});

// ---- application layer (app-fields.ts) ---------------------------------------------------

function app<T>(pick: (c: FilterContext) => T | null | undefined, each: (x: T, o: Value[]) => void): FieldDef['get'] {
  return (c, o) => {
    const x = pick(c);
    if (x !== null && x !== undefined) each(x, o);
  };
}

const dns = (c: FilterContext) => c.app().dns;
/** tshark names the protocol by port (mdns 5353, llmnr 5355) but reads all three with the dns.* fields. */
const dnsOnPort = (port: number): FieldDef['get'] => (c, o) => {
  const dns = c.app().dns;
  const f = c.frame();
  if (dns && (port === 53 ? f.srcPort === 53 || f.dstPort === 53 : (f.srcPort === port || f.dstPort === port) && f.srcPort !== 53 && f.dstPort !== 53)) o.push(PRESENT);
};
field('dns', 'protocol', 'app', dnsOnPort(53));
field('mdns', 'protocol', 'app', dnsOnPort(5353));
field('llmnr', 'protocol', 'app', dnsOnPort(5355));
field('dns.id', 'uint', 'app', app(dns, (d, o) => o.push(d.id)));
field('dns.flags.response', 'bool', 'app', app(dns, (d, o) => o.push(d.response ? 1 : 0)));
field('dns.flags.opcode', 'uint', 'app', app(dns, (d, o) => o.push(d.opcode)));
field('dns.flags.rcode', 'uint', 'app', app(dns, (d, o) => {
  if (d.response) o.push(d.rcode);
}));
field('dns.qry.name', 'string', 'app', app(dns, (d, o) => {
  if (d.qname) o.push(d.qname);
}));
field('dns.qry.type', 'uint', 'app', app(dns, (d, o) => {
  if (d.qname) o.push(d.qtype);
}));
field('dns.a', 'ipv4', 'app', app(dns, (d, o) => o.push(...d.a)));
field('dns.aaaa', 'ipv6', 'app', (c, o) => {
  const d = c.app().dns;
  if (d) for (const x of d.aaaa) o.push(c.ipv6(x));
});
field('dns.cname', 'string', 'app', app(dns, (d, o) => o.push(...d.cname)));
field('dns.count.answers', 'uint', 'app', app(dns, (d, o) => o.push(d.answers)));

/** Each HTTP message the packet completes (tshark adds one http tree per message). */
function http(each: (m: HttpMessage, o: Value[]) => void): FieldDef['get'] {
  return (c, o) => {
    const ms = c.app().http;
    if (ms) for (const m of ms) each(m, o);
  };
}
const header = (name: string) => http((m, o) => o.push(...(m.headers.get(name) ?? [])));
field('http', 'protocol', 'app', (c, o) => {
  if (c.app().http?.length) o.push(PRESENT);
});
field('http.request', 'none', 'app', http((m, o) => {
  if (m.request) o.push(PRESENT);
}));
field('http.response', 'none', 'app', http((m, o) => {
  if (!m.request) o.push(PRESENT);
}));
field('http.request.method', 'string', 'app', http((m, o) => {
  if (m.method) o.push(m.method);
}));
field('http.request.uri', 'string', 'app', http((m, o) => {
  if (m.uri) o.push(m.uri);
}));
field('http.request.version', 'string', 'app', http((m, o) => {
  if (m.request) o.push(m.version);
}));
field('http.response.version', 'string', 'app', http((m, o) => {
  if (!m.request) o.push(m.version);
}));
field('http.response.code', 'uint', 'app', http((m, o) => {
  if (m.code !== null) o.push(m.code);
}));
field('http.response.phrase', 'string', 'app', http((m, o) => {
  if (m.phrase !== null) o.push(m.phrase);
}));
field('http.host', 'string', 'app', header('host'));
field('http.content_type', 'string', 'app', header('content-type'));
field('http.user_agent', 'string', 'app', header('user-agent'));
field('http.server', 'string', 'app', header('server'));

const tls = (c: FilterContext) => c.app().tls;
field('tls', 'protocol', 'app', app(tls, (_t, o) => o.push(PRESENT)));
field('tls.record.content_type', 'uint', 'app', app(tls, (t, o) => o.push(...t.contentTypes)));
field('tls.record.version', 'uint', 'app', app(tls, (t, o) => o.push(...t.versions)));
field('tls.handshake', 'none', 'app', app(tls, (t, o) => {
  if (t.handshakeTypes.length) o.push(PRESENT);
}));
field('tls.handshake.type', 'uint', 'app', app(tls, (t, o) => o.push(...t.handshakeTypes)));
field('tls.handshake.extensions_server_name', 'string', 'app', app(tls, (t, o) => o.push(...t.sni)));
field('tls.alert_message', 'none', 'app', app(tls, (t, o) => {
  if (t.alerts) o.push(PRESENT);
}));
field('tls.alert_message.level', 'uint', 'app', app(tls, (t, o) => o.push(...t.alertLevels)));
field('tls.alert_message.desc', 'uint', 'app', app(tls, (t, o) => o.push(...t.alertDescs)));

const http2 = (c: FilterContext) => c.app().http2;
field('http2', 'protocol', 'app', app(http2, (_h, o) => o.push(PRESENT)));
field('http2.type', 'uint', 'app', app(http2, (h, o) => o.push(...h.types)));
field('http2.streamid', 'uint', 'app', app(http2, (h, o) => o.push(...h.streams)));
field('http2.header.name', 'string', 'app', app(http2, (h, o) => o.push(...h.headerNames)));
field('http2.header.value', 'string', 'app', app(http2, (h, o) => o.push(...h.headerValues)));

const quic = (c: FilterContext) => c.app().quic;
field('quic', 'protocol', 'app', app(quic, (_q, o) => o.push(PRESENT)));
field('quic.version', 'uint', 'app', app(quic, (q, o) => o.push(...q.versions)));
const quicStreams = (c: FilterContext) => c.quicStreams();
const http3 = (c: FilterContext) => c.quicStreams()?.http3;
field('quic.stream.stream_id', 'uint', 'app', app(quicStreams, (q, o) => o.push(...q.streamIds)));
field('http3', 'protocol', 'app', app(http3, (_h, o) => o.push(PRESENT)));
field('http3.frame_type', 'uint', 'app', app(http3, (h, o) => o.push(...h.frameTypes)));
field('http3.stream_type', 'uint', 'app', app(http3, (h, o) => o.push(...h.streamTypes)));
