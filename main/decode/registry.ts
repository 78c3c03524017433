import type { Frame } from './frame.js';
import { Proto } from './protocols.js';

/**
 * Dispatch is data: each protocol file registers its decoder and the keys that lead
 * to it (ethertype, IP protocol, UDP port, link type). A decoder reads its layer at
 * f.off, sets f.off to the next layer and returns that layer's Proto (None to stop).
 */
export type DecodeFn = (f: Frame, t: DecodeTables) => Proto;

export interface DecodeTables {
  /** EtherType (also GRE protocol type and GENEVE protocol type) -> Proto. */
  readonly ethertype: Uint8Array;
  readonly ipProto: Uint8Array;
  readonly udpPort: Uint8Array;
  readonly linkType: Map<number, Proto>;
}

export const DECODERS: (DecodeFn | undefined)[] = new Array(Proto.Count);

const defaults: DecodeTables = {
  ethertype: new Uint8Array(65536),
  ipProto: new Uint8Array(256),
  udpPort: new Uint8Array(65536),
  linkType: new Map(),
};

export function registerDecoder(p: Proto, fn: DecodeFn): void {
  DECODERS[p] = fn;
}
export function registerEthertype(type: number, p: Proto): void {
  defaults.ethertype[type] = p;
}
export function registerIpProto(n: number, p: Proto): void {
  defaults.ipProto[n] = p;
}
export function registerUdpPort(port: number, p: Proto): void {
  defaults.udpPort[port] = p;
}
export function registerLinkType(lt: number, p: Proto): void {
  defaults.linkType.set(lt, p);
}

/** A private copy of the default tables, for one decoder's Decode As overrides. */
export function copyDefaultTables(): DecodeTables {
  return {
    ethertype: defaults.ethertype.slice(),
    ipProto: defaults.ipProto.slice(),
    udpPort: defaults.udpPort.slice(),
    linkType: new Map(defaults.linkType),
  };
}
