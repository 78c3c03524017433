/*
 * Bounded memory on a 24/7 feed: 300,000 distinct flows (600,000 packets) at a steady
 * 20,000 flows/s through the live path (test/flows/sensor-soak.ts: LiveSink with the
 * CLI's analysis budget, the flow cache with a 1 s idle timeout, live IPFIX export) into a
 * real nfcapd. The RSS stays flat once the cache is in its steady state (no growth with the
 * flows ever seen) and under the stated bound, and no flow record is lost: nfcapd counts
 * every record, packet and octet sent, with 0 sequence errors. The 1,000,000-flow run is
 * the bench's `sensor` row (scripts/bench.mjs), as it takes about a minute.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { skipUnlessRequired } from '../helpers/privileged.js';
import { Nfcapd, have } from './collector.js';
import { FEED_IP_LEN, flowEndpoints } from './flow-feed.js';

const FLOWS = 300_000;
const RATE = 20_000;
/**
 * The stated bounds (docs/flows.md): the whole process, Node and the TypeScript loader
 * included; the JS heap alone. Typed-array columns live outside the heap and are freed at
 * V8's next major GC, hence the RSS margin.
 */
const RSS_BOUND_MB = 300;
const HEAP_BOUND_MB = 80;
/** Allowed rise of the steady-state RSS between the first and second half of the run (GC noise). */
const FLAT_SLACK_MB = 40;

const skip = skipUnlessRequired('sensor memory', have('nfcapd') && have('nfdump') ? null : 'nfcapd/nfdump (Debian nfdump) missing');

interface Soak {
  feedSec: number;
  samples: { t: number; flows: number; rssMB: number; heapMB: number; active: number }[];
  flowStats: { records: number; packets: number; octets: number; active: number; maxFlows: number; exporters: { messages: number; dropped: number; error: string | null }[] };
  rotated: { rotations: number; connections: number };
  analysisErrors: number;
}

function soak(port: number): Promise<Soak> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'sensor-soak.ts'), String(FLOWS), String(RATE), String(port), '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`soak exited ${code}: ${err}`))));
  });
}

describe.skipIf(skip !== null)('sensor memory', () => {
  it(`${FLOWS} flows at ${RATE}/s: RSS flat and under ${RSS_BOUND_MB} MB, every flow record reaches nfcapd`, async () => {
    const nf = new Nfcapd();
    await nf.start();
    let s: Soak;
    try {
      s = await soak(nf.port);
      await nf.terminate();
      // No record lost: one record per direction of every flow, as nfcapd counts them.
      expect(s.flowStats.exporters[0]).toMatchObject({ dropped: 0, error: null });
      expect(s.flowStats.records).toBe(FLOWS * 2);
      expect(nf.summary()).toEqual({ flows: FLOWS * 2, packets: FLOWS * 2, bytes: FLOWS * 2 * FEED_IP_LEN, sequenceErrors: 0, badPackets: 0 });
      // Spot checks: a flow near the start, the middle and the end, each direction once.
      for (const i of [7, FLOWS / 2 + 3, FLOWS - 1]) {
        const e = flowEndpoints(i);
        const recs = nf.read(`src ip ${e.client} and src port ${e.cport} and dst ip ${e.server}`);
        expect(recs.map((r) => [r.in_packets, r.in_bytes, r.dst_port])).toEqual([[1, FEED_IP_LEN, 80]]);
      }
    } finally {
      nf.remove();
    }
    // Bounded: the analysis started afresh at its budget; the cache never held more than the flows of one idle timeout.
    expect(s.rotated.rotations).toBeGreaterThanOrEqual(Math.floor(FLOWS / 50_000) - 1);
    expect(s.analysisErrors).toBe(0);
    const steady = s.samples.filter((x) => x.t >= 2 && x.flows < FLOWS);
    expect(steady.length).toBeGreaterThan(8);
    const half = Math.floor(steady.length / 2);
    const maxOf = (xs: typeof steady) => Math.max(...xs.map((x) => x.rssMB));
    const summary = `RSS over time: ${s.samples.map((x) => `${x.t.toFixed(1)}s ${x.flows} flows ${x.rssMB} MB (heap ${x.heapMB})`).join('; ')}`;
    expect(maxOf(steady.slice(half)), summary).toBeLessThanOrEqual(maxOf(steady.slice(0, half)) + FLAT_SLACK_MB);
    expect(Math.max(...s.samples.map((x) => x.rssMB)), summary).toBeLessThanOrEqual(RSS_BOUND_MB);
    expect(Math.max(...s.samples.map((x) => x.heapMB)), summary).toBeLessThanOrEqual(HEAP_BOUND_MB);
    // The cache holds about one idle timeout's worth of flows, far under its budget.
    expect(Math.max(...steady.map((x) => x.active))).toBeLessThan(s.flowStats.maxFlows);
    console.log(`sensor memory: ${FLOWS} flows in ${s.feedSec.toFixed(1)} s; ${summary}`);
  }, 90_000);
});
