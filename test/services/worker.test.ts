import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file';
import { capture } from '../helpers/captures';
import { inProcess, makeService, openAndWait } from './harness';
import { validatedApi } from '../../main/services/validate';
import { parseDecodeAs } from '../../main/decode/decoder';

/*
 * File analysis in a worker thread: progress arrives as a few batched deltas (never one
 * message per packet), partial results are queryable while reading, cancel stops early
 * with partial results, and damaged or unreadable files give a clear state and message.
 */
describe('analysis worker', () => {
  it('reports progress in batches and serves partial results while reading', async () => {
    // The hold makes the first batch (a partial result) certain whatever the machine's speed:
    // the worker posts it at its first cancel check and pauses 300 ms there.
    const service = await makeService({ batchMs: 50, holdForCancel: { file: 'many-conns-loopback-echo.pcap', ms: 300 } });
    const api = validatedApi(service);
    try {
      const file = capture('many-conns-loopback-echo.pcap');
      const expected = analyzeFile(file).report;
      let partialSeen = 0;
      let partialConnections = -1;
      const off = api.on('progress', (p) => {
        if (p.state === 'opening' && p.packets > 0 && partialSeen === 0) {
          partialSeen = p.packets;
          void api.connections({ sessionId: p.sessionId, offset: 0, limit: 1 }).then((page) => (partialConnections = page.total));
        }
      });
      const started = Date.now();
      const { final, events, info } = await openAndWait(api, file);
      const elapsedMs = Date.now() - started;
      off();
      expect(final.state).toBe('ready');
      expect(final.packets).toBe(expected.file.packets);
      // Batches, not packets: the service emits progress at most every 100 ms (plus the opening,
      // the first batch and the end), so the bound scales with the time reading took, not a
      // fixed count a slow machine could exceed; and always far fewer messages than packets.
      expect(events.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 100) + 3);
      expect(events.length).toBeLessThan(expected.file.packets / 1000);
      expect(events.map((e) => e.packets)).toEqual([...events.map((e) => e.packets)].sort((a, b) => a - b));
      expect(partialSeen).toBeGreaterThan(0);
      expect(partialSeen).toBeLessThan(expected.file.packets);
      await expect.poll(() => partialConnections).toBeGreaterThan(0);
      const page = await api.connections({ sessionId: info.sessionId, offset: 0, limit: 1 });
      expect(page.total).toBe(expected.connections.length);
    } finally {
      await service.dispose();
    }
  });

  it('cancel stops reading and keeps the part read', async () => {
    // Deterministic: after its first batch the worker waits (up to 20 s) for the cancel flag,
    // so the cancel sent on that batch's progress always lands mid-file, on any machine.
    const service = await makeService({ batchMs: 10, holdForCancel: { file: 'many-conns-loopback-echo.pcap', ms: 20_000 } });
    const api = validatedApi(service);
    try {
      const file = capture('many-conns-loopback-echo.pcap');
      const total = analyzeFile(file).report.file.packets;
      let sid = '';
      let pending: { sessionId: string; packets: number } | null = null;
      let cancelledAt = 0;
      const cancel = (id: string, packets: number): void => {
        if (cancelledAt) return;
        cancelledAt = packets;
        void api.cancelOpen(id);
      };
      const off = api.on('progress', (p) => {
        if (p.state !== 'opening' || p.packets === 0) return;
        // The first batch may arrive before openFile has returned the session id.
        if (p.sessionId === sid) cancel(sid, p.packets);
        else pending = { sessionId: p.sessionId, packets: p.packets };
      });
      const info = await api.openFile({ path: file });
      sid = info.sessionId;
      const early = pending as { sessionId: string; packets: number } | null;
      if (early && early.sessionId === sid) cancel(sid, early.packets);
      await service.whenDone(sid);
      off();
      const s = await api.summary(sid);
      expect(s.state).toBe('cancelled');
      expect(cancelledAt).toBeGreaterThan(0);
      // Reading stopped where the cancel arrived: the packets of the batch it answered.
      expect(s.file.packets).toBe(cancelledAt);
      expect(s.file.packets).toBeLessThan(total);
      expect(s.progress.message).toMatch(/cancelled/);
      expect(s.warnings.some((w) => /cancelled/.test(w.message))).toBe(true);
      const conns = await api.connections({ sessionId: sid, offset: 0, limit: 10 });
      expect(conns.total).toBeGreaterThan(0);
    } finally {
      await service.dispose();
    }
  });

  it('a damaged file gives partial results and says where it is damaged', async () => {
    const t = await inProcess();
    try {
      const file = capture('malformed-garbage-record-header.pcap');
      const expected = analyzeFile(file);
      const { final, info } = await openAndWait(t.api, file);
      expect(final.state).toBe('damaged');
      expect(final.message).toContain(expected.error!.message);
      expect((await t.api.summary(info.sessionId)).file.packets).toBe(expected.report.file.packets);
    } finally {
      await t.close();
    }
  });

  it('a file that is not a capture fails with a clear message, not a crash', async () => {
    const t = await inProcess();
    try {
      const { final } = await openAndWait(t.api, new URL(import.meta.url).pathname);
      expect(final.state).toBe('failed');
      expect(final.message).toMatch(/not a pcap or pcapng file/);
    } finally {
      await t.close();
    }
  });
});

describe('the worker delivers exactly the engine report', () => {
  it('on every corpus capture: connections, http, dns, tls, findings, tunnels', async () => {
    const { allCaptures, decodeAsFor } = await import('../helpers/captures');
    const service = await makeService({ batchMs: 5 });
    try {
      for (const name of allCaptures()) {
        const file = capture(name);
        const decodeAs = decodeAsFor(name).tapscope;
        const expected = analyzeFile(file, { decodeAs: decodeAs.map((d) => parseDecodeAs(d)) }).report;
        const { info } = await openAndWait(service, file, decodeAs);
        const data = (service as unknown as { sessions: Map<string, { data: { report: typeof expected } }> }).sessions.get(info.sessionId)!.data;
        const got = data.report;
        expect(got.connections, name).toEqual(expected.connections);
        expect({ http: got.http, dns: got.dns, tls: got.tls, findings: got.findings, tunnels: got.tunnels, file: got.file }, name)
          .toEqual({ http: expected.http, dns: expected.dns, tls: expected.tls, findings: expected.findings, tunnels: expected.tunnels, file: expected.file });
        await service.closeSession(info.sessionId);
      }
    } finally {
      await service.dispose();
    }
  });
});
