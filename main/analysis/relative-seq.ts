import { TCP_ACK, TCP_SYN } from '../decode/frame.js';

/** Relative sequence bases per direction (0 client to server, 1 server to client); null until known. */
export type SeqBases = [number | null, number | null];

/**
 * TSHARK'S RELATIVE SEQUENCE NUMBERS, one segment of direction `d` at a time, in capture
 * order (packet-tcp.c): a direction's base is set by its first segment (the SYN's sequence
 * number, so the SYN is 0; mid-stream, one below the first sequence number seen), unless a
 * segment of the other direction with the ACK bit (usually the SYN-ACK) came first: then that
 * ACK minus one. A SYN without the ACK bit says nothing of the other direction.
 */
export function learnSeqBases(bases: SeqBases, d: 0 | 1, flags: number, seq: number, ack: number): void {
  if (bases[d] === null) bases[d] = flags & TCP_SYN ? seq >>> 0 : ((seq >>> 0) - 1) >>> 0;
  const o = d === 0 ? 1 : 0;
  if (bases[o] === null && flags & TCP_ACK) bases[o] = ((ack >>> 0) - 1) >>> 0;
}
