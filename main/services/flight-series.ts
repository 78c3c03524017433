import { L4 } from '../decode/frame.js';
import { TcpFlight } from '../analysis/tcp-flight.js';
import type { ConnectionDetail } from '../../preload/api.js';
import type { PacketReader } from './packets.js';
import type { SessionData } from './session-data.js';

/**
 * The window-size / bytes-in-flight series of one TCP connection: its packets re-read from
 * the file and fed through TcpFlight (tshark's tcp.window_size and
 * tcp.analysis.bytes_in_flight). At most `maxPoints` points: beyond, every k-th packet is
 * kept (each direction's largest in-flight value of the stride kept with it) and the detail
 * says it was cut.
 */
export function flightSeries(data: SessionData, reader: PacketReader, connectionId: number, maxPoints = 20_000): { flight: ConnectionDetail['flight']; truncated: boolean } {
  const ix = data.index;
  let total = 0;
  for (let i = 0; i < ix.length; i++) if (ix.connId[i] === connectionId) total++;
  const stride = Math.max(1, Math.ceil(total / maxPoints));
  const tcp = new TcpFlight();
  const flight: ConnectionDetail['flight'] = [];
  let k = 0;
  let peak: ConnectionDetail['flight'][number] | null = null;
  for (let i = 0; i < ix.length; i++) {
    if (ix.connId[i] !== connectionId) continue;
    const f = reader.decode(i);
    if (f.l4 !== L4.Tcp) continue;
    const d = ix.dir[i] === 2 ? 1 : 0;
    const p = tcp.feed(f, d);
    const point = { packet: i + 1, ts: ix.ts[i], dir: d === 0 ? ('c2s' as const) : ('s2c' as const), window: p.window, inFlight: p.inFlight };
    if (stride === 1) flight.push(point);
    else {
      if (point.inFlight !== null && (!peak || (peak.inFlight ?? -1) < point.inFlight)) peak = point;
      if (++k % stride === 0) {
        flight.push(peak && peak !== point ? peak : point);
        peak = null;
      }
    }
  }
  return { flight, truncated: stride > 1 };
}
