/*
 * A sensor soak for the bounded-memory test and the bench: N distinct flows (SYN then
 * RST-ACK, in VXLAN VNI 42: flow-feed.ts) fed at a steady rate through the live path a
 * cloud-TAP receiver feeds (LiveSink.packet: analysis with its connection budget, flow
 * cache with expiry, live IPFIX export), stamped with the wall clock as a receiver does.
 * Prints one JSON line: RSS samples over time, the flow and analysis totals, the exporter's.
 *   node --import tsx test/flows/sensor-soak.ts FLOWS RATE_PER_SEC IPFIX_PORT [IDLE_SEC]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LiveSink } from '../../main/capture/live-sink.js';
import { DEFAULT_ANALYSIS_BUDGET } from '../../main/cli/live-flows.js';
import { LINKTYPE_ETHERNET } from '../../main/pcap/link-types.js';
import { ACK, RST, SYN, feedRecord, writeFrame } from './flow-feed.js';

const [flows, rate, port, idle] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'tapscope-soak-'));
const sink = new LiveSink({
  output: join(dir, 'spool.pcapng'),
  flows: { idleSec: idle || 1, activeSec: 1800, ipfix: { host: '127.0.0.1', port } },
  analysisBudget: DEFAULT_ANALYSIS_BUDGET,
});
sink.addInterface({ linkType: LINKTYPE_ETHERNET, snaplen: 65535, name: 'soak', description: null, tsUnitsPerSec: 1e9 });
const buf = new Uint8Array(256);
const samples: { t: number; flows: number; rssMB: number; heapMB: number; externalMB: number; active: number }[] = [];
const t0 = Date.now();
const sample = (): void => {
  samples.push({ t: (Date.now() - t0) / 1000, flows: next, rssMB: Math.round(process.memoryUsage().rss / 1e5) / 10, heapMB: Math.round(process.memoryUsage().heapUsed / 1e5) / 10, externalMB: Math.round(process.memoryUsage().external / 1e5) / 10, active: sink.flowExport!.cache.activeFlows });
};
const sampler = setInterval(sample, 250);
let next = 0;
const TICK_MS = 10;
const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
let packets = 0;
const timer = setInterval(() => {
  // Steady: as many flows as the elapsed time calls for, catching up at most 4 ticks' worth
  // at once (the event loop stays free for the exporter; a slower machine just runs longer).
  const due = Math.min(flows, Math.floor(((Date.now() - t0) * rate) / 1000) + perTick, next + perTick * 4);
  for (; next < due; next++) {
    for (const [toServer, flags] of [[true, SYN], [false, RST | ACK]] as const) {
      const len = writeFrame(buf, next, toServer, flags, 42);
      sink.packet(feedRecord(buf, len, Date.now(), packets++), null);
    }
  }
  if (next >= flows) {
    clearInterval(timer);
    void end();
  }
}, TICK_MS);

async function end(): Promise<void> {
  const feedSec = (Date.now() - t0) / 1000;
  const e = sink.finish('stopped', null);
  await sink.flowExport!.closed();
  sample();
  clearInterval(sampler);
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ flows, packets, feedSec, samples, flowStats: sink.flowExport!.stats(), rotated: e.rotated, analysisErrors: sink.analysisErrors }) + '\n');
}
