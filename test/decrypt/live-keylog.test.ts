import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LiveSink } from '../../main/capture/live-sink.js';
import { openCapture } from '../../main/pcap/reader.js';
import { capture } from '../helpers/captures.js';

/*
 * A live capture following a key log (SinkOptions.keyLogPath, CaptureRequest.keylogPath): the
 * sink re-reads the file at each flush, so keys the browser writes while the capture runs
 * decrypt the sessions that follow. The corpus TLS 1.3 capture is replayed into the sink; the
 * key log appears only after the first ClientHello.
 */
describe('live capture with a growing key log', () => {
  it('decrypts with keys written during the capture; a key log that never appears is one warning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapscope-live-keys-'));
    const keys = join(dir, 'sslkeys.log');
    const run = (write: boolean) => {
      const sink = new LiveSink({ output: join(dir, `live-${write}.pcapng`), keyLogPath: keys, keepIndex: false, flushIntervalMs: 60_000, deltaIntervalMs: 60_000 });
      const r = openCapture(capture('tls13-rfc8446-early-data-keylog.pcap'));
      sink.addInterface({ linkType: r.interfaces[0].linkType, snaplen: r.interfaces[0].snaplen, name: null, description: null, tsUnitsPerSec: 1e6 });
      let n = 0;
      for (let rec = r.next(); rec; rec = r.next()) {
        sink.packet(rec);
        if (++n === 1 && write) writeFileSync(keys, readFileSync(capture('tls13-rfc8446-early-data.keys')));
        sink.flush();
      }
      r.close();
      sink.finish('stopped', null);
      return sink.session;
    };
    const missing = run(false);
    expect(missing.app.http.exchanges).toEqual([]);
    expect(missing.warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(/^cannot read key log .*sslkeys\.log/));
    const s = run(true);
    expect(s.app.http.exchanges.map((x) => x.uri)).toEqual(['/first', '/early', '/second']);
    expect(s.app.tls.handshakes.every((h) => h.decrypted)).toBe(true);
  });
});
