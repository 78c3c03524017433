/**
 * Per-packet TCP analysis flags: one bit per finding tshark's TCP analysis attaches to a
 * packet (`tcp.analysis.*`), kept in `PacketIndex.flags` (Uint32) for the packet list.
 * The duplicate-ACK number (tshark's `tcp.analysis.duplicate_ack_num`) rides in the top
 * bits so the packet list can print "Dup ACK #3" without another array.
 *
 * As in tshark, a fast or spurious retransmission also carries the Retransmission bit
 * (tshark marks those packets with `tcp.analysis.retransmission` too), so filtering on
 * Retransmission finds every resent segment.
 */
export const TcpA = {
  Retransmission: 1 << 0,
  FastRetransmission: 1 << 1,
  SpuriousRetransmission: 1 << 2,
  OutOfOrder: 1 << 3,
  /** "Previous segment not captured": a hole in this direction's sequence space. */
  LostSegment: 1 << 4,
  /** "ACKed unseen segment": the peer ACKs data the capture never saw. */
  AckedUnseen: 1 << 5,
  DuplicateAck: 1 << 6,
  ZeroWindow: 1 << 7,
  ZeroWindowProbe: 1 << 8,
  ZeroWindowProbeAck: 1 << 9,
  WindowFull: 1 << 10,
  WindowUpdate: 1 << 11,
  KeepAlive: 1 << 12,
  KeepAliveAck: 1 << 13,
  /** A SYN (or SYN-ACK) with a new initial sequence number on a 5-tuple already in use. */
  ReusedPorts: 1 << 14,
  /** The RST flag (tshark: `tcp.flags.reset`), kept here so the list can colour resets. */
  Reset: 1 << 15,
} as const;

export type TcpFlagName = keyof typeof TcpA;

/** Bits 20..31 hold the duplicate-ACK number (capped at 4095). */
export const DUPACK_SHIFT = 20;
export const DUPACK_MAX = 0xfff;

export function dupAckNumber(flags: number): number {
  return flags >>> DUPACK_SHIFT;
}

/** Each flag with the tshark field that marks the same packets and a short label. */
export const TCP_FLAG_INFO: readonly { name: TcpFlagName; bit: number; field: string; label: string; captureLoss: boolean }[] = [
  { name: 'Retransmission', bit: TcpA.Retransmission, field: 'tcp.analysis.retransmission', label: 'Retransmission', captureLoss: false },
  { name: 'FastRetransmission', bit: TcpA.FastRetransmission, field: 'tcp.analysis.fast_retransmission', label: 'Fast retransmission', captureLoss: false },
  { name: 'SpuriousRetransmission', bit: TcpA.SpuriousRetransmission, field: 'tcp.analysis.spurious_retransmission', label: 'Spurious retransmission', captureLoss: false },
  { name: 'OutOfOrder', bit: TcpA.OutOfOrder, field: 'tcp.analysis.out_of_order', label: 'Out-of-order', captureLoss: false },
  { name: 'LostSegment', bit: TcpA.LostSegment, field: 'tcp.analysis.lost_segment', label: 'Previous segment not captured', captureLoss: true },
  { name: 'AckedUnseen', bit: TcpA.AckedUnseen, field: 'tcp.analysis.ack_lost_segment', label: 'ACKed unseen segment', captureLoss: true },
  { name: 'DuplicateAck', bit: TcpA.DuplicateAck, field: 'tcp.analysis.duplicate_ack', label: 'Dup ACK', captureLoss: false },
  { name: 'ZeroWindow', bit: TcpA.ZeroWindow, field: 'tcp.analysis.zero_window', label: 'Zero window', captureLoss: false },
  { name: 'ZeroWindowProbe', bit: TcpA.ZeroWindowProbe, field: 'tcp.analysis.zero_window_probe', label: 'Zero-window probe', captureLoss: false },
  { name: 'ZeroWindowProbeAck', bit: TcpA.ZeroWindowProbeAck, field: 'tcp.analysis.zero_window_probe_ack', label: 'Zero-window probe ACK', captureLoss: false },
  { name: 'WindowFull', bit: TcpA.WindowFull, field: 'tcp.analysis.window_full', label: 'Window full', captureLoss: false },
  { name: 'WindowUpdate', bit: TcpA.WindowUpdate, field: 'tcp.analysis.window_update', label: 'Window update', captureLoss: false },
  { name: 'KeepAlive', bit: TcpA.KeepAlive, field: 'tcp.analysis.keep_alive', label: 'Keep-alive', captureLoss: false },
  { name: 'KeepAliveAck', bit: TcpA.KeepAliveAck, field: 'tcp.analysis.keep_alive_ack', label: 'Keep-alive ACK', captureLoss: false },
  { name: 'ReusedPorts', bit: TcpA.ReusedPorts, field: 'tcp.analysis.reused_ports', label: 'Port numbers reused', captureLoss: false },
  { name: 'Reset', bit: TcpA.Reset, field: 'tcp.flags.reset', label: 'Reset', captureLoss: false },
];

/** Labels of the flags set in `flags`, most specific first ("Fast retransmission", not also "Retransmission"). */
export function tcpFlagLabels(flags: number): string[] {
  const out: string[] = [];
  const specific = flags & (TcpA.FastRetransmission | TcpA.SpuriousRetransmission);
  for (const f of TCP_FLAG_INFO) {
    if (!(flags & f.bit)) continue;
    if (f.bit === TcpA.Retransmission && specific) continue;
    out.push(f.bit === TcpA.DuplicateAck && dupAckNumber(flags) ? `Dup ACK #${dupAckNumber(flags)}` : f.label);
  }
  return out;
}
