// `tapscope listen`'s receive-path options and reports (docs/flows.md "Receiver"): the socket
// buffer, the receive program's queue and snap length; which receive path runs and what it
// counted (kernel drops, app drops, datagrams cut, datagrams that are not the tunnel).
import type { ListenOptions, UdpTapReceiver } from '../capture/udp-receiver.js';
import { UsageError, type ParsedArgs } from './args.js';

export const RECEIVER_OPTIONS = ['B', 'queue', 's'];

export const RECEIVER_USAGE = `  -B MB: socket receive buffer (default 64; beyond net.core.rmem_max only as root or with
  CAP_NET_ADMIN). --queue MB: what the receive program holds for the analysis before it drops
  and counts app drops (default 256). -s SNAPLEN: bytes kept of each datagram (default 65535).`;

function last(a: ParsedArgs, name: string): string | undefined {
  const v = a.options.get(name);
  return v ? v[v.length - 1] : undefined;
}

function megabytes(a: ParsedArgs, name: string, flag: string, min: number): number | undefined {
  const v = last(a, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > 16384) throw new UsageError(`bad ${flag} "${v}": expected megabytes, ${min} to 16384`);
  return Math.floor(n * 1024 * 1024);
}

export function receiverOptions(a: ParsedArgs): Pick<ListenOptions, 'receiveBufferSize' | 'queueBytes' | 'snaplen'> {
  const s = last(a, 's');
  const snaplen = s === undefined ? undefined : Number(s);
  if (snaplen !== undefined && !(Number.isInteger(snaplen) && snaplen >= 64 && snaplen <= 65535)) throw new UsageError(`bad -s "${s}": expected a snap length of 64 to 65535 bytes`);
  return { receiveBufferSize: megabytes(a, 'B', '-B', 0.01), queueBytes: megabytes(a, 'queue', '--queue', 1), snaplen };
}

const mib = (b: number): string => `${(b / 1048576).toFixed(b >= 1048576 ? 0 : 2)} MiB`;

/** The start line's part about the receive path. */
export function receiverStartText(rx: UdpTapReceiver): string {
  const buf = rx.receiveBuffer === null ? 'socket buffer unknown'
    : `socket buffer ${mib(rx.receiveBuffer)}${rx.receiveBufferForced ? ' (forced past net.core.rmem_max)' : ''}`;
  const path = rx.backend === 'tapscope-receive' ? 'receive program tapscope-receive (recvmmsg batches)' : 'Node dgram sockets';
  return `${path}, ${buf}${rx.backendNote ? `\ntapscope: warning: ${rx.backendNote}` : ''}`;
}

/** What the receive path counted, for --json's capture object. */
export function receiverJson(rx: UdpTapReceiver): Record<string, unknown> {
  return { backend: rx.backend, receiveBuffer: rx.receiveBuffer, receiveBufferForced: rx.receiveBufferForced, truncated: rx.truncated, notTunnel: rx.notTunnel };
}

/** The summary's line about the receive path. */
export function receiverSummaryText(rx: UdpTapReceiver): string {
  return `${rx.truncated} datagrams cut at the snap length, ${rx.notTunnel} datagrams without the tunnel's inner frame (${rx.backend})\n`;
}
