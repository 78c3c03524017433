/** One packet as a capture file (or a live source) delivers it. The reader reuses one
 * record object and one buffer: copy what you keep before asking for the next packet. */
export interface PacketRecord {
  /** 0-based packet number in the file (tshark's frame.number - 1). */
  index: number;
  /** Byte offset of the packet's record (or block) header in the file. */
  fileOffset: number;
  /** Buffer holding the packet bytes at [offset, offset + caplen). Shared, reused. */
  data: Uint8Array;
  view: DataView;
  offset: number;
  caplen: number;
  /** Length on the wire. */
  origLen: number;
  tsSec: number;
  tsNsec: number;
  /** Epoch seconds as a float (µs-exact; ns kept in tsSec/tsNsec). */
  ts: number;
  linkType: number;
  interfaceId: number;
  comment: string | null;
}

export function newRecord(): PacketRecord {
  const data = new Uint8Array(0);
  return {
    index: 0, fileOffset: 0, data, view: new DataView(data.buffer), offset: 0, caplen: 0, origLen: 0,
    tsSec: 0, tsNsec: 0, ts: 0, linkType: 1, interfaceId: 0, comment: null,
  };
}

/** Capture-level facts a reader learns while reading. */
export interface CaptureInterface {
  id: number;
  linkType: number;
  snaplen: number;
  name: string | null;
  description: string | null;
  /** Timestamp resolution: units per second (1e6 for µs, 1e9 for ns, 2^k for binary). */
  tsUnitsPerSec: number;
}

export interface CaptureComment {
  packet: number | null;
  text: string;
}

/** A damaged file: where, and which packet would have been next. */
export class CaptureFormatError extends Error {
  constructor(message: string, readonly offset: number, readonly packet: number) {
    super(`${message} (at byte offset ${offset}, packet ${packet + 1})`);
    this.name = 'CaptureFormatError';
  }
}
