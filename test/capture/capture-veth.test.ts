// Live capture through the helper on a veth port while tcpdump captures the same port:
// an HTTP workload with random loss (iptables statistic), compared packet for packet, and
// the saved file run through the full per-flag TCP oracle (test/analysis/tcp-oracle.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { CaptureService } from '../../main/capture/service.js';
import { connectionJson } from '../../main/analysis/connection-json.js';
import { tsharkFields } from '../helpers/captures.js';
import { oracleDifferences, oraclePackets, tapscopeSession } from '../analysis/tcp-oracle.js';
import { Lab, ensureBuilt, skipReason, stopChild, tcpdumpStats, tsharkCount, waitFor } from './lab.js';

const skip = skipReason();
const PORT = 8080;

describe.skipIf(skip !== null)(`capture on a veth port with loss${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const lab = new Lab(1);
  beforeAll(async () => {
    await ensureBuilt();
    lab.up();
    // Drop ~4% of the segments in both directions after the capture point on b's side,
    // so the data the server sends is captured and then retransmitted.
    lab.exec(lab.b, `iptables -A INPUT -p tcp --dport ${PORT} -m statistic --mode random --probability 0.04 -j DROP`);
    lab.exec(lab.a, `iptables -A INPUT -p tcp --sport ${PORT} -m statistic --mode random --probability 0.04 -j DROP`);
    lab.httpServer(PORT, { 'big.bin': 300_000 });
  });
  afterAll(() => lab.cleanup());

  it('saves what tcpdump saw (within the reported drops) and finds the retransmissions tshark finds', async () => {
    const svc = new CaptureService();
    const out = join(lab.dir, 'tapscope.pcapng');
    const ref = join(lab.dir, 'tcpdump.pcap');
    const filter = `tcp port ${PORT}`;
    const deltas: number[] = [];
    const cap = await svc.start({
      device: lab.vb,
      filter,
      output: out,
      deltaIntervalMs: 200,
      wrap: (cmd, args) => ['ip', ['netns', 'exec', lab.b, cmd, ...args]],
    });
    cap.onDelta((d) => deltas.push(d.counters.packets));
    expect(cap.ready?.backend).toBe('tapscope-capture');
    // --immediate-mode: without it, libpcap's TPACKET_V3 block still open when tcpdump gets
    // SIGINT is never read, and the reference misses the workload's last packets.
    const td = lab.spawn(lab.b, ['tcpdump', '-i', lab.vb, '-n', '-U', '--immediate-mode', '-w', ref, filter]);
    await waitFor(td.stderr!, /listening on/);

    const ok = lab.fetch(PORT, 'big.bin', 12);
    expect(ok).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1500)); // let the last segments reach both captures (past a 1 s block timeout)

    // tcpdump started after Tapscope and stops before it, so Tapscope's window holds
    // tcpdump's: a late retransmitted FIN may reach only Tapscope, never the reverse.
    const tdEnd = await stopChild(td, 'SIGINT');
    const end = await cap.stop();
    const tds = tcpdumpStats(tdEnd.stderr);

    expect(end.error).toBeNull();
    expect(end.reason).toBe('stopped');
    const c = end.counters;
    // The spool is complete and readable: tshark reads every saved packet.
    expect(tsharkCount(out)).toBe(c.savedPackets);
    expect(c.savedPackets).toBe(c.packets);
    expect(c.droppedByApp).toBe(0);
    expect(c.droppedByKernel).not.toBeNull();
    // Everything tcpdump saw, up to what either side reports as dropped by the kernel.
    const refCount = tsharkCount(ref);
    expect(refCount).toBe(tds.captured);
    expect(c.savedPackets).toBeGreaterThanOrEqual(refCount - ((c.droppedByKernel ?? 0) + tds.dropped));
    // Deltas arrived while the capture ran and never went backwards.
    expect(deltas.length).toBeGreaterThan(2);
    for (let i = 1; i < deltas.length; i++) expect(deltas[i]).toBeGreaterThanOrEqual(deltas[i - 1]);

    // Where neither side dropped (the usual case), every packet tcpdump saw is in Tapscope's
    // file. Two packet sockets may interleave send and receive paths, so compare as multisets.
    if ((c.droppedByKernel ?? 0) + tds.dropped === 0) {
      const fields = ['frame.len', 'ip.src', 'tcp.srcport', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.flags', 'ip.id'];
      const key = (rows: string[][]) => rows.map((r) => r.join(' ')).sort();
      const ours = new Map<string, number>();
      for (const k of key(tsharkFields(out, fields))) ours.set(k, (ours.get(k) ?? 0) + 1);
      const missing = key(tsharkFields(ref, fields)).filter((k) => {
        const n = ours.get(k) ?? 0;
        ours.set(k, n - 1);
        return n <= 0;
      });
      expect(missing).toEqual([]);
    }

    // Live analysis = tshark on Tapscope's own file.
    const retrans = tsharkFields(out, ['frame.number'], ['-Y', 'tcp.analysis.retransmission']).length;
    expect(retrans).toBeGreaterThan(0);
    const conns = cap.session.connections.all.map(connectionJson) as { retransmissions: number; server: { port: number } }[];
    expect(conns.length).toBe(tsharkFields(out, ['tcp.stream']).map((r) => r[0]).filter((v, i, a) => a.indexOf(v) === i).length);
    expect(conns.reduce((s, x) => s + x.retransmissions, 0)).toBe(retrans);
    expect(conns.every((x) => x.server.port === PORT)).toBe(true);
    // The pcapng names the interface, and every packet in it passes the capture filter.
    const idb = tsharkFields(out, ['frame.interface_name'])[0][0];
    expect(idb).toBe(lab.vb);
    expect(tsharkFields(out, ['frame.number'], ['-Y', `!(tcp.port == ${PORT})`])).toEqual([]);

    // The full per-flag TCP oracle on the live capture file: every packet's tcp.analysis
    // marks and every connection's figures, Tapscope's analysis of its own file vs tshark's.
    const pk = oraclePackets(out);
    expect(pk.length).toBe(c.savedPackets);
    expect(oracleDifferences('live capture', pk, tapscopeSession(out)).slice(0, 30)).toEqual([]);
    // And the live session (fed while capturing) reached the same per-connection figures as
    // the file's analysis afterwards.
    const fileConns = tapscopeSession(out).connections.all.map(connectionJson);
    expect(cap.session.connections.all.map(connectionJson)).toEqual(fileConns);
  });
});
