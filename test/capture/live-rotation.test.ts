// The app's long live capture is bounded by design (docs/capture.md "Long captures in the app"):
// a cloud-TAP feed of far more connections than the analysis budget, through the API as the
// app runs it (TapscopeService.startListen -> live worker thread -> SessionData), keeps the
// process's RSS flat, holds at most one window of connections, and reports the restarts
// (CaptureStats.analysis) with totals that count every connection of the feed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaptureStats } from '../../preload/api';
import { TapscopeService, defaultWorker } from '../../main/services/service';
import { REPO_ROOT } from '../helpers/captures';
import { buildVxlanSender, VXLAN_SENDER } from '../helpers/vxlan-sender';
import { ensureBuilt } from './lab';

const dir = mkdtempSync(join(tmpdir(), 'tsErot-'));
const SENDER = VXLAN_SENDER;
const BUDGET = 2000;
const FLOWS = 60_000;
/** 4 datagrams per flow (SYN, SYN-ACK, ACK, RST as vxlan-sender makes them), sent at RATE/s. */
const COUNT = FLOWS * 4;
const RATE = 24_000;

const skip = buildVxlanSender();

describe.skipIf(skip !== null)(`app live capture bounded by its analysis budget${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const prev = process.env.TAPSCOPE_LIVE_BUDGET;
  beforeAll(async () => {
    mkdirSync(join(REPO_ROOT, 'out', 'bench'), { recursive: true });
    await ensureBuilt();
    process.env.TAPSCOPE_LIVE_BUDGET = `${BUDGET}:0`; // the worker thread reads it at start
  });
  afterAll(() => {
    if (prev === undefined) delete process.env.TAPSCOPE_LIVE_BUDGET;
    else process.env.TAPSCOPE_LIVE_BUDGET = prev;
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${FLOWS} connections through a ${BUDGET}-connection window: flat RSS, one window held, restarts reported`, async () => {
    const svc = new TapscopeService({
      ...(await defaultWorker(join(REPO_ROOT, 'main', 'services'))), stateDir: join(dir, 'state'), exportDir: join(dir, 'exports'), samplePath: null,
      version: 'test', transport: 'test', allowAnyWritePath: true, spoolDir: join(dir, 'spool'),
    });
    let last: CaptureStats | null = null;
    svc.on('capture', (s) => (last = s));
    const info = await svc.startListen({ feeds: [{ encap: 'vxlan', port: 0 }], address: '127.0.0.1' });
    const port = info.feeds![0].port;
    const samples: { t: number; rssMB: number; connections: number; packets: number }[] = [];
    const t0 = Date.now();
    const timer = setInterval(() => {
      samples.push({ t: (Date.now() - t0) / 1000, rssMB: Math.round(process.memoryUsage().rss / 1e6), connections: 0, packets: last?.packets ?? 0 });
    }, 500);
    let maxHeld = 0;
    const held = setInterval(() => {
      void svc.connections({ sessionId: info.sessionId, offset: 0, limit: 1, sortKey: 'id', sortDir: 'asc' }).then((p) => {
        maxHeld = Math.max(maxHeld, p.total);
        if (samples.length) samples[samples.length - 1].connections = p.total;
      });
    }, 250);
    const sender = spawn(SENDER, ['-p', String(port), '-a', '127.0.0.1', '-n', String(COUNT), '-f', String(FLOWS), '-r', String(RATE)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    sender.stdout.on('data', (d) => (out += d));
    expect(await new Promise((r) => sender.on('close', r))).toBe(0);
    const sent = JSON.parse(out) as { sent: number };
    expect(sent.sent).toBe(COUNT);
    // Until every datagram is analysed or counted as dropped (bounded).
    for (const until = Date.now() + 60_000; Date.now() < until;) {
      const s = last as CaptureStats | null;
      if (s && s.packets + s.droppedKernel + s.droppedApp >= COUNT) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    clearInterval(timer);
    clearInterval(held);
    await svc.stopCapture(info.sessionId);
    await new Promise((r) => setTimeout(r, 300));
    const end = last as unknown as CaptureStats;
    const summary = `RSS over time: ${samples.map((x) => `${x.t.toFixed(1)}s ${x.packets} pkts ${x.connections} held ${x.rssMB} MB`).join('; ')}`;
    console.log(`live rotation: ${summary}; end ${JSON.stringify(end)}`);
    expect(end.running).toBe(false);
    // Everything sent was received and analysed (a loaded machine may drop some: counted).
    expect(end.packets + end.droppedKernel + end.droppedApp).toBe(COUNT);
    expect(end.packets).toBeGreaterThan(COUNT * 0.9);
    const a = end.analysis!;
    expect(a.budget).toEqual({ connections: BUDGET, packets: null });
    // Each window holds BUDGET connections; the totals count all of them, once.
    const flowsSeen = Math.round(end.packets / 4);
    expect(a.rotations).toBeGreaterThanOrEqual(Math.floor(flowsSeen / BUDGET) - 1);
    expect(a.total.packets).toBe(end.packets);
    expect(a.total.connections).toBeGreaterThanOrEqual(flowsSeen * 0.98);
    // A connection in flight at a restart is analysed in two parts (the sender keeps 1,000 open at a time).
    expect(a.total.connections).toBeLessThanOrEqual(FLOWS + a.rotations * 1000);
    expect(a.window.connections).toBeLessThanOrEqual(BUDGET);
    // The service holds one window only (its SessionData is replaced at each restart).
    expect(maxHeld).toBeLessThanOrEqual(BUDGET);
    const page = await svc.connections({ sessionId: info.sessionId, offset: 0, limit: 1, sortKey: 'id', sortDir: 'asc' });
    expect(page.total).toBe(a.window.connections);
    // Flat: the second half's peak RSS within 40 MB of the first half's (no growth with the connections seen).
    const steady = samples.filter((x) => x.t >= 2 && x.packets < COUNT);
    expect(steady.length).toBeGreaterThan(6);
    const half = Math.floor(steady.length / 2);
    const peak = (xs: typeof steady) => Math.max(...xs.map((x) => x.rssMB));
    expect(peak(steady.slice(half)), summary).toBeLessThanOrEqual(peak(steady.slice(0, half)) + 40);
    await svc.closeSession(info.sessionId);
  }, 120_000);
});
