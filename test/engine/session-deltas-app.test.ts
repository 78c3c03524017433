/*
 * Live application-layer deltas (engine/session-deltas.ts): a capture fed packet by packet
 * with a delta every few packets, each applied to the receiver's arrays (applyItemsDelta),
 * ends with exactly the arrays a whole snapshot gives (http, dns, tls, quic JSON), while
 * the elements sent are about the new and changed ones only, not every element at every delta.
 */
import { describe, expect, it } from 'vitest';
import { AnalysisSession } from '../../main/engine/session.js';
import { SessionDeltas, applyItemsDelta } from '../../main/engine/session-deltas.js';
import { openCapture } from '../../main/pcap/reader.js';
import { capture } from '../helpers/captures.js';

const FILES = ['http-dns-ipv6-wikipedia.pcap', 'tls-sni-multi-hosts.pcap', 'gre-teb-http-dns.pcap', 'dns-queries-no-response.pcap', 'quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng',
  'quic-v2-http3-keys-in-pcapng-dsb.pcapng', 'http2-cleartext-hpack-headers-port3000.pcapng', 'tls12-http-keys-in-pcapng-dsb.pcapng'];
const NAMES = ['http', 'dns', 'tls', 'quic'] as const;

describe('incremental application-layer snapshot', () => {
  for (const file of FILES) {
    it(file, () => {
      const reader = openCapture(capture(file));
      const session = new AnalysisSession();
      const deltas = new SessionDeltas(session);
      const got: Record<string, unknown[]> = { http: [], dns: [], tls: [], quic: [] };
      let sent = 0;
      let whole = 0;
      let n = 0;
      const snapshot = () => {
        deltas.next();
        const d = deltas.app();
        for (const k of NAMES) {
          applyItemsDelta(got[k], d[k], (j) => j);
          sent += d[k].items.length;
          whole += d[k].length;
        }
      };
      for (let r = reader.next(); r; r = reader.next()) {
        session.feed(r);
        if (++n % 7 === 0) snapshot();
      }
      snapshot();
      const want = { http: session.app.http.json(), dns: session.app.dns.json(), tls: session.app.tls.json(), quic: session.app.quic.json() };
      for (const k of NAMES) for (let i = 0; i < want[k].length; i++) expect([k, i, got[k][i]]).toEqual([k, i, want[k][i]]);
      expect(got).toEqual(want);
      expect(NAMES.reduce((a, k) => a + want[k].length, 0)).toBeGreaterThan(0);
      // Sending the whole arrays every time would cost `whole`; the deltas cost far less.
      if (whole > 100) expect(sent).toBeLessThan(whole / 2);
      console.log(`${file}: ${n} packets, ${sent} elements sent in deltas vs ${whole} in whole snapshots`);
    });
  }
});
