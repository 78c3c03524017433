/*
 * A live capture as the same batched messages the file-analysis worker sends
 * (engine/analyze-worker.ts: opened, batch*, done), so the service's SessionData can show a
 * capture growing exactly as it shows a file being read: at each throttled delta, the
 * connections that changed and the new slice of the packet index (whose file offsets point
 * into the spool file, flushed before each delta).
 *
 *   const cap = await captureService.start({ device, filter, keepIndex: true });
 *   const stop = liveWorkerMessages(cap, (m, transfer) => data.apply(m));
 */
import { connectionJson } from '../analysis/connection-json.js';
import type { IndexSlice, WorkerMessage } from '../engine/analyze-worker.js';
import type { LiveSource } from './service.js';

export function liveWorkerMessages(src: LiveSource, post: (m: WorkerMessage, transfer?: ArrayBuffer[]) => void): () => void {
  let sentIndex = 0;
  let sentPackets = new Uint32Array(1024);
  let done = false;
  post({ type: 'opened', format: 'pcapng', size: 0 });

  const batch = (): void => {
    const session = src.session;
    const all = session.connections.all;
    if (all.length > sentPackets.length) {
      const g = new Uint32Array(Math.max(all.length, sentPackets.length * 2));
      g.set(sentPackets);
      sentPackets = g;
    }
    const changed: Record<string, unknown>[] = [];
    for (let i = 0; i < all.length; i++) {
      const c = all[i];
      if (sentPackets[i] !== c.packets) {
        sentPackets[i] = c.packets;
        changed.push(connectionJson(c));
      }
    }
    const index = session.index;
    const from = sentIndex;
    const to = index ? index.length : 0;
    sentIndex = to;
    const slice: IndexSlice = index
      ? {
        fileOffset: index.fileOffset.slice(from, to), ts: index.ts.slice(from, to), connId: index.connId.slice(from, to),
        flags: index.flags.slice(from, to), wireLen: index.wireLen.slice(from, to), dir: index.dir.slice(from, to),
      }
      : { fileOffset: new Float64Array(0), ts: new Float64Array(0), connId: new Int32Array(0), flags: new Uint32Array(0), wireLen: new Uint32Array(0), dir: new Uint8Array(0) };
    const bytes = src.counters.savedBytes;
    post(
      { type: 'batch', bytesRead: bytes, size: bytes, packets: session.packets, connections: changed, index: slice, interfaces: [...src.sink.interfaces] },
      [slice.fileOffset.buffer, slice.ts.buffer, slice.connId.buffer, slice.flags.buffer, slice.wireLen.buffer, slice.dir.buffer] as ArrayBuffer[],
    );
  };

  const offDelta = src.onDelta(() => {
    if (!done) batch();
  });
  const offEnd = src.onEnd((e) => {
    if (done) return;
    done = true;
    batch();
    const file = e.counters.files[e.counters.files.length - 1] ?? src.path;
    const report = src.session.report({ path: file, format: 'pcapng', interfaces: [...src.sink.interfaces], comments: [] });
    if (e.error) report.warnings.push({ packet: null, offset: null, message: e.error.message });
    post({ type: 'done', report, cancelled: false, damaged: e.error ? e.error.message : null, interfaces: [...src.sink.interfaces] });
  });
  return () => {
    offDelta();
    offEnd();
  };
}
