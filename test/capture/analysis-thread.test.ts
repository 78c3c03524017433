// The analysis off the export path (main/capture/analysis-thread.ts): a VXLAN feed faster than
// the analysis thread can take (its queue cut to one batch) into CaptureService.listen. The
// primary outputs keep every datagram — the spool (tshark counts it), the flow cache (every
// connection of the feed ended, once) — while the analysis skips whole batches and says so:
// analysed + skipped = received, in the counters, the end and a report warning. And the
// default queue on a feed it can take: nothing skipped, the report's connections = the feed's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureService } from '../../main/capture/service';
import type { UdpTapReceiver } from '../../main/capture/udp-receiver';
import type { CaptureEnd } from '../../main/capture/live-sink';
import { buildVxlanSender, VXLAN_SENDER } from '../helpers/vxlan-sender';
import { HELPER, ensureBuilt, skipReason, tsharkCount } from './lab';

const dir = mkdtempSync(join(tmpdir(), 'tsEath-'));
const SENDER = VXLAN_SENDER;
const skip = skipReason(['tshark']) ?? buildVxlanSender();

/** vxlan-sender: COUNT datagrams of FLOWS TCP connections (4 packets each) at RATE/s (0: as fast as it can). */
async function send(port: number, count: number, flows: number, rate: number): Promise<number> {
  const s = spawn(SENDER, ['-p', String(port), '-a', '127.0.0.1', '-n', String(count), '-f', String(flows), '-r', String(rate)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  s.stdout.on('data', (d) => (out += d));
  expect(await new Promise((r) => s.on('close', r))).toBe(0);
  return (JSON.parse(out) as { sent: number }).sent;
}

/** Until every datagram sent is taken or counted as dropped, then stop. */
async function settle(rx: UdpTapReceiver, sent: number): Promise<CaptureEnd> {
  for (const until = Date.now() + 60_000; Date.now() < until;) {
    const c = rx.counters;
    if (c.packets + c.droppedByApp + (c.droppedByKernel ?? 0) >= sent) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return rx.stop();
}

describe.skipIf(skip !== null)(`analysis in its own thread${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    await ensureBuilt();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an analysis that falls behind skips whole batches, counted; spool and flow records keep every datagram', async () => {
    const rx = await new CaptureService().listen({
      vxlan: [0], address: '127.0.0.1', output: join(dir, 'behind.pcapng'), flows: { idleSec: 60 }, analysisBudget: 50_000,
      analysisThread: { workerFile: HELPER, maxInFlight: 1 },
    });
    const flows = 40_000;
    const sent = await send(rx.ports[0].port, flows * 4, flows, 0);
    const end = await settle(rx, sent);
    const c = end.counters;
    expect(end.error).toBeNull();
    // The primary outputs drop nothing the socket delivered.
    expect(c.droppedByApp).toBe(0);
    expect(c.packets + (c.droppedByKernel ?? 0)).toBe(sent);
    expect(tsharkCount(c.files[0])).toBe(c.packets);
    await rx.sink.flowExport!.closed();
    const f = rx.sink.flowExport!.stats();
    const ended = f.ended.idle + f.ended.active + f.ended.endOfFlow + f.ended.forced + f.ended.lackOfResources;
    if (c.droppedByKernel === 0) expect(ended).toBe(flows);
    expect(f.packets).toBe(c.packets);
    // The analysis was behind (one batch in flight): it skipped batches and counted every packet.
    const report = await rx.sink.report({ path: c.files[0], interfaces: [...rx.sink.interfaces] }, end);
    const a = end.analysis!;
    console.log(`analysis thread behind: ${JSON.stringify(a)}; received ${c.packets}`);
    expect(a.thread).toBe(true);
    expect(a.failure).toBeNull();
    expect(a.skipped).toBeGreaterThan(0);
    expect(a.skippedBatches).toBeGreaterThan(0);
    expect(a.analysed + a.skipped).toBe(c.packets);
    expect(c.analysisSkipped).toBe(a.skipped);
    expect(report.file.packets).toBe(a.analysed);
    expect(report.warnings.some((w) => w.message === `${a.skipped} packets were not analysed (${a.skippedBatches} batches skipped: the analysis was behind); the spool, the IDS feeds and the flow records have them`)).toBe(true);
  }, 120_000);

  it('with its queue, a feed it can take is analysed whole: the report as the inline analysis gives it', async () => {
    const results: { packets: number; connections: number; analysed: number | null; skipped: number }[] = [];
    for (const thread of [true, false]) {
      const rx = await new CaptureService().listen({
        vxlan: [0], address: '127.0.0.1', output: join(dir, `whole-${thread}.pcapng`), flows: { idleSec: 60 },
        analysisThread: thread ? { workerFile: HELPER } : null,
      });
      const sent = await send(rx.ports[0].port, 20_000, 5_000, 20_000);
      const end = await settle(rx, sent);
      expect(end.counters.packets).toBe(sent);
      const report = await rx.sink.report({ path: end.counters.files[0], interfaces: [...rx.sink.interfaces] }, end);
      results.push({ packets: report.file.packets, connections: report.connections.length, analysed: end.analysis?.analysed ?? null, skipped: end.counters.analysisSkipped });
    }
    expect(results[0]).toEqual({ packets: 20_000, connections: results[1].connections, analysed: 20_000, skipped: 0 });
    expect(results[1]).toMatchObject({ packets: 20_000, analysed: null, skipped: 0 });
    expect(results[1].connections).toBeGreaterThanOrEqual(5_000);
  }, 120_000);
});
