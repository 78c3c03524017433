import { TcpA } from '../analysis/tcp-flags.js';
import type { PacketIndex } from '../engine/packet-index.js';
import type { IoGraph } from '../../preload/api.js';

/*
 * Wireshark's I/O graph: packets, bytes (wire lengths, frame.len) and retransmissions
 * (tcp.analysis.retransmission) per interval, counted from the packet index in one pass.
 * Nothing per packet is kept: the bins are the only memory, and they are capped.
 *
 * BINS: interval k holds the packets with k*interval <= ts - firstTs < (k+1)*interval, as
 * Wireshark bins frame.time_relative. Epoch times are doubles (about 0.24 µs apart near
 * 2024), so the time is nudged by 0.25 µs before flooring: a packet exactly on a boundary
 * lands in the later bin as in Wireshark; with nanosecond captures a packet less than
 * 0.25 µs before a boundary can land one bin late.
 */

/** The intervals the auto choice and an over-fine request step through, in seconds. */
export const IO_INTERVALS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300, 600, 3600];
/** At most this many bins in one answer (3 series of 10,000 numbers). */
export const IO_MAX_BINS = 10_000;
/** Auto picks the finest interval giving at most this many bins. */
export const IO_AUTO_BINS = 500;
const EPS = 2.5e-7;

/** The answer of the ioGraph API method (preload/api.ts). */
export type IoBins = IoGraph;

function chooseInterval(span: number, requested: number | null): { interval: number; adjusted: string | null } {
  const bins = (iv: number): number => Math.floor((span + EPS) / iv) + 1;
  // Past the coarsest listed interval (a capture spanning years): whole seconds that keep the bins within the limit.
  const coarsest = (limit: number): number => Math.max(IO_INTERVALS[IO_INTERVALS.length - 1], Math.ceil((span + EPS) / (limit - 1)));
  if (requested === null) return { interval: IO_INTERVALS.find((iv) => bins(iv) <= IO_AUTO_BINS) ?? coarsest(IO_AUTO_BINS), adjusted: null };
  if (bins(requested) <= IO_MAX_BINS) return { interval: requested, adjusted: null };
  const interval = IO_INTERVALS.find((iv) => iv >= requested && bins(iv) <= IO_MAX_BINS) ?? coarsest(IO_MAX_BINS);
  return { interval, adjusted: `${requested} s intervals would make ${bins(requested).toLocaleString('en-US')} bins (at most ${IO_MAX_BINS.toLocaleString('en-US')}): showing ${interval} s intervals` };
}

/**
 * Bins of the packets `keep` accepts (or of `indices`, ascending packet indices already
 * filtered, e.g. by a display filter) from `firstTs` to `lastTs`.
 */
export function ioGraphBins(ix: PacketIndex, firstTs: number, lastTs: number, requested: number | null,
  keep: (i: number) => boolean, indices: ArrayLike<number> | null = null): IoBins {
  const span = Math.max(0, lastTs - firstTs);
  const { interval, adjusted } = chooseInterval(span, requested);
  const n = Math.floor((span + EPS) / interval) + 1;
  const packets = new Float64Array(n);
  const bytes = new Float64Array(n);
  const retrans = new Float64Array(n);
  const count = indices ? indices.length : ix.length;
  for (let k = 0; k < count; k++) {
    const i = indices ? indices[k] : k;
    if (!keep(i)) continue;
    const b = Math.min(n - 1, Math.max(0, Math.floor((ix.ts[i] - firstTs + EPS) / interval)));
    packets[b]++;
    bytes[b] += ix.wireLen[i];
    if (ix.flags[i] & TcpA.Retransmission) retrans[b]++;
  }
  return { start: firstTs, interval, packets: Array.from(packets), bytes: Array.from(bytes), retransmissions: Array.from(retrans), adjusted };
}
