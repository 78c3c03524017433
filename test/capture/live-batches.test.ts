// A live capture as the file worker's batch messages: the packet index it streams points at
// the packets' blocks in the spool file, and the connections match a file analysis of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureService, liveWorkerMessages } from '../../main/capture/service.js';
import type { WorkerMessage } from '../../main/engine/analyze-worker.js';
import { openCapture } from '../../main/pcap/reader.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { ConnectionStore } from '../../main/engine/connection-columns.js';
import { connectionJson } from '../../main/analysis/connection-json.js';
import { ensureBuilt, skipReason } from './lab.js';

const skip = skipReason(['tshark']);

/** n short TCP exchanges on loopback (bounded, all awaited). */
async function exchanges(port: number, n: number): Promise<void> {
  const server = createServer((s) => s.on('data', (d) => s.end(Buffer.concat([d, d]))));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  try {
    for (let i = 0; i < n; i++) {
      await new Promise<void>((res, rej) => {
        const c = connect(port, '127.0.0.1', () => c.write(`hello ${i}`));
        c.on('data', () => {});
        c.on('end', () => { c.end(); res(); });
        c.on('error', rej);
      });
    }
  } finally {
    await new Promise((r) => server.close(r));
  }
}

describe.skipIf(skip !== null)(`live capture as worker batches${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsElive-'));
  beforeAll(async () => {
    await ensureBuilt();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('streams index slices pointing into the spool and the connections of a file analysis', async () => {
    const port = 47101;
    const out = join(dir, 'live.pcapng');
    const cap = await new CaptureService().start({ device: 'lo', filter: `tcp port ${port}`, output: out, keepIndex: true, deltaIntervalMs: 100 });
    const msgs: WorkerMessage[] = [];
    liveWorkerMessages(cap, (m) => { if (m.type !== 'rotated') msgs.push(m); });
    await exchanges(port, 5);
    await new Promise((r) => setTimeout(r, 300));
    await cap.stop();

    expect(msgs[0].type).toBe('opened');
    const batches = msgs.filter((m): m is Extract<WorkerMessage, { type: 'batch' }> => m.type === 'batch');
    const done = msgs[msgs.length - 1];
    expect(done.type).toBe('done');
    expect(batches.length).toBeGreaterThan(1);
    const offsets = batches.flatMap((b) => [...b.index.fileOffset]);
    const times = batches.flatMap((b) => [...b.index.ts]);

    // The index, in order, is the spool's packet blocks.
    const reader = openCapture(out);
    const fileOffsets: number[] = [];
    const fileTimes: number[] = [];
    for (let r = reader.next(); r; r = reader.next()) {
      fileOffsets.push(r.fileOffset);
      fileTimes.push(r.ts);
    }
    reader.close();
    expect(fileOffsets.length).toBe(cap.counters.savedPackets);
    expect(offsets).toEqual(fileOffsets);
    expect(times).toEqual(fileTimes);

    // Connections: the last row of each equals what a file analysis of the spool gives.
    const store = new ConnectionStore();
    for (const b of batches) store.apply(b.connections);
    const file = analyzeFile(out).report.connections as Record<string, unknown>[];
    expect(store.count).toBe(5);
    expect(Array.from({ length: store.count }, (_, i) => connectionJson(store.connection(i)!))).toEqual(file);
    if (done.type === 'done') {
      expect(done.report.file.packets).toBe(fileOffsets.length);
      expect(done.interfaces.map((i) => i.name)).toEqual(['lo']);
    }
  });
});
