// A live capture in a worker thread: the main thread gets only throttled messages, the same
// batches as a file analysis, and the spool is complete when stop() resolves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLiveWorker, type LiveWorkerEvent } from '../../main/capture/live-worker.js';
import { CaptureError } from '../../main/capture/errors.js';
import { HELPER, ensureBuilt, skipReason, tsharkCount } from './lab.js';

const skip = skipReason(['tshark']);

describe.skipIf(skip !== null)(`live capture in a worker thread${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsEwrk-'));
  beforeAll(async () => {
    await ensureBuilt();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('captures, analyses and spools off the main thread', async () => {
    const port = 47301;
    const out = join(dir, 'worker.pcapng');
    const msgs: LiveWorkerEvent[] = [];
    const w = await startLiveWorker({ mode: 'capture', options: { device: 'lo', filter: `udp dst port ${port}`, output: out, deltaIntervalMs: 100 } }, (m) => msgs.push(m), HELPER);
    expect(w.ready?.device).toBe('lo');
    expect(w.path).toBe(out);
    const s = createSocket('udp4');
    for (let i = 0; i < 200; i++) await new Promise<void>((r) => s.send(Buffer.alloc(100, i), port, '127.0.0.1', () => r()));
    s.close();
    await new Promise((r) => setTimeout(r, 400));
    const end = await w.stop();
    expect(end.error).toBeNull();
    expect(end.counters.packets).toBe(200 - (end.counters.droppedByKernel ?? 0));
    expect(tsharkCount(out)).toBe(end.counters.savedPackets);
    const types = msgs.map((m) => m.type);
    expect(types[0]).toBe('started');
    expect(types).toContain('opened');
    expect(types.filter((t) => t === 'batch').length).toBeGreaterThan(1);
    expect(types.slice(-2)).toEqual(['done', 'end']);
    const indexed = msgs.reduce((n, m) => n + (m.type === 'batch' ? m.index.ts.length : 0), 0);
    expect(indexed).toBe(end.counters.packets);
  });

  it('reports a start failure as a CaptureError', async () => {
    const err = await startLiveWorker({ mode: 'capture', options: { device: 'tsEnosuch1', output: join(dir, 'x.pcapng') } }, () => {}, HELPER).catch((e) => e);
    expect(err).toBeInstanceOf(CaptureError);
    expect((err as CaptureError).code).toBe('ENODEV');
  });
});
