import { decodeEthernet } from './ethernet.js';
import './vlan.js';
import './arp.js';
import './sll.js';
import './null-loopback.js';
import './ppp.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { decodeTcp } from './tcp.js';
import { decodeUdp } from './udp.js';
import './icmp.js';
import './vxlan.js';
import './geneve.js';
import './gre.js';
import './erspan.js';
import './tzsp.js';
import './quic.js';
import { Frame } from './frame.js';
import { PROTO_NAMES, Proto } from './protocols.js';
import { copyDefaultTables, DECODERS, type DecodeFn, type DecodeTables } from './registry.js';
import type { PacketRecord } from '../pcap/record.js';

/** "udp:31337=tzsp": like Wireshark's Decode As, re-keys the udp.port table. */
export interface DecodeAs {
  table: 'udp';
  port: number;
  proto: string;
}

export function parseDecodeAs(spec: string): DecodeAs {
  const m = /^(udp):(\d{1,5})=([a-z0-9]+)$/i.exec(spec.trim());
  if (!m) throw new Error(`bad --decode "${spec}": expected udp:PORT=PROTOCOL, e.g. udp:31337=tzsp`);
  const port = Number(m[2]);
  const proto = m[3].toLowerCase();
  if (port < 1 || port > 65535) throw new Error(`bad --decode "${spec}": port must be 1-65535`);
  if (!(proto in PROTO_NAMES) && proto !== 'none') {
    throw new Error(`bad --decode "${spec}": unknown protocol "${proto}" (known: ${Object.keys(PROTO_NAMES).join(', ')}, none)`);
  }
  return { table: 'udp', port, proto };
}

const MAX_LAYERS = 64;

/** Decodes records into one reused Frame. */
export class Decoder {
  readonly frame = new Frame();
  private tables: DecodeTables;
  private lastLinkType = -1;
  private lastLink: Proto | undefined = undefined;
  /** Packets whose link type has no decoder, by link type. */
  readonly unknownLinkTypes = new Map<number, number>();

  constructor(decodeAs: DecodeAs[] = []) {
    this.tables = copyDefaultTables();
    for (const d of decodeAs) this.tables.udpPort[d.port] = d.proto === 'none' ? Proto.None : PROTO_NAMES[d.proto];
  }

  decode(r: PacketRecord): Frame {
    const f = this.frame;
    f.reset();
    f.index = r.index;
    f.ts = r.ts;
    f.tsSec = r.tsSec;
    f.tsNsec = r.tsNsec;
    f.caplen = r.caplen;
    f.origLen = r.origLen;
    f.linkType = r.linkType;
    f.fileOffset = r.fileOffset;
    f.data = r.data;
    f.view = r.view;
    f.off = r.offset;
    f.frameOff = r.offset;
    f.end = r.offset + r.caplen;
    // Files have one or a few link types: remember the last lookup.
    let link: Proto | undefined;
    if (r.linkType === this.lastLinkType) link = this.lastLink;
    else {
      link = this.tables.linkType.get(r.linkType);
      this.lastLinkType = r.linkType;
      this.lastLink = link;
    }
    if (link === undefined) {
      this.unknownLinkTypes.set(r.linkType, (this.unknownLinkTypes.get(r.linkType) ?? 0) + 1);
      return f;
    }
    const t = this.tables;
    let p: Proto = link;
    for (let depth = 0; p !== Proto.None && depth < MAX_LAYERS; depth++) {
      const fn: DecodeFn | undefined = DECODERS[p];
      if (!fn) break;
      // The layers of nearly every packet are called directly when they are the registered
      // decoders: one call site per function, which V8 can inline, instead of one call site
      // for all (megamorphic, about a tenth of the decoding time).
      if (fn === decodeTcp) p = decodeTcp(f);
      else if (fn === decodeIpv4) p = decodeIpv4(f, t);
      else if (fn === decodeEthernet) p = decodeEthernet(f, t);
      else if (fn === decodeUdp) p = decodeUdp(f, t);
      else if (fn === decodeIpv6) p = decodeIpv6(f, t);
      else p = fn(f, t);
    }
    return f;
  }
}
