import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture, tsharkFields } from '../helpers/captures';
import { inProcess, openAndWait, type Transport } from './harness';

/*
 * The connection detail's window / bytes-in-flight series against tshark: for every TCP
 * packet of each capture, the window equals tcp.window_size and the bytes in flight equal
 * tcp.analysis.bytes_in_flight (absent where tshark has none).
 */

const FILES = [
  'http-retx-fastretx-dupack-ooo.pcap', 'http-206-zerowindow-retx-ooo.pcap', 'http-post-retx-dupack.pcap',
  'tcp-zerowindow-recovery.pcapng', 'sll-http-retx-rst.pcap', 'http-get-basic.pcap', 'many-conns-loopback-echo.pcap',
];

describe('connection detail flight series equal tshark', () => {
  let t: Transport;
  beforeAll(async () => {
    t = await inProcess();
  });
  afterAll(async () => t.close());

  for (const name of FILES) {
    it(name, async () => {
      const file = capture(name);
      const { info } = await openAndWait(t.api, file);
      const sid = info.sessionId;
      const conns = await t.api.connections({ sessionId: sid, offset: 0, limit: 5000 });
      const ours = new Map<number, { window: number; inFlight: number | null }>();
      for (const c of conns.rows.filter((r) => r.transport === 'tcp')) {
        const d = await t.api.connectionDetail(sid, c.id);
        for (const p of d.flight) ours.set(p.packet, { window: p.window, inFlight: p.inFlight });
      }
      const rows = tsharkFields(file, ['frame.number', 'tcp.window_size', 'tcp.analysis.bytes_in_flight'], ['-Y', 'tcp']);
      expect(rows.length).toBeGreaterThan(0);
      const diffs: string[] = [];
      let inFlightSeen = 0;
      for (const [num, win, bif] of rows) {
        const o = ours.get(Number(num));
        const want = { window: Number(win), inFlight: bif === '' ? null : Number(bif) };
        if (want.inFlight !== null) inFlightSeen++;
        if (!o || o.window !== want.window || o.inFlight !== want.inFlight) diffs.push(`#${num}: tshark ${JSON.stringify(want)} ours ${JSON.stringify(o ?? null)}`);
      }
      expect(diffs.slice(0, 10)).toEqual([]);
      expect(ours.size).toBe(rows.length);
      expect(inFlightSeen).toBeGreaterThan(0);
      await t.api.closeSession(sid);
    });
  }
});
