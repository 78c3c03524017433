/*
 * The TCP analyser's pooled heavy state (flows/tcp-state.ts): unacknowledged segments as
 * records in typed arrays (SEG_INLINE per pooled flow, then the flow's own spill array)
 * and ACK RTT samples waiting (RTT_INLINE per pooled flow) before they reach the flow's
 * RttSamples. On corpus captures that take every path (a flow with more segments in
 * flight than the inline region, flows with more samples than wait inline, connections
 * released with all samples still waiting), the marks and RTTs agree with tshark, and a
 * detail session (which never releases heavy state and reads the samples through
 * HeavyFlow.rtt) gives every connection the same ACK RTT summary as the normal session.
 */
import { describe, expect, it } from 'vitest';
import { capture } from '../helpers/captures.js';
import { oracleDifferences, oraclePackets, tapscopeSession } from './tcp-oracle.js';
import { ackRtt } from '../../main/analysis/tcp-report.js';
import { CONN_I32, K_HEAVY, K_RTT_N_C2S, K_RTT_N_S2C, RTT_INLINE, SEG_INLINE } from '../../main/flows/tcp-state.js';

const CAPTURES = ['http-206-zerowindow-retx-ooo.pcap', 'tcp-syn-retransmit-http.pcap', 'http-retx-fastretx-dupack-ooo.pcap', 'http-get-basic.pcap', 'tls-sni-multi-hosts.pcap', 'http-dns-ipv6-wikipedia.pcap'];

describe('pooled TCP heavy state', () => {
  it('the corpus takes the spill, flush and released-from-pending paths', () => {
    let spilled = 0;
    let flushed = 0;
    let pendingOnly = 0;
    for (const name of CAPTURES) {
      const s = tapscopeSession(capture(name));
      const t = s.connections.tcp!.table;
      for (const a of t.segSpill) if (a) spilled++;
      for (let c = 0; c < s.connections.flows.count; c++) {
        if (!s.connections.flows.isTcp[c]) continue;
        const ko = c * CONN_I32;
        const n1 = t.ci[ko + K_RTT_N_C2S];
        const n2 = t.ci[ko + K_RTT_N_S2C];
        if (t.ci[ko + K_HEAVY] !== 0) continue;
        if (n1 > RTT_INLINE || n2 > RTT_INLINE) flushed++;
        else if (n1 + n2 > 0) pendingOnly++;
      }
    }
    // Each path at least once, or the agreement below says nothing about it.
    expect(spilled, `flows with more than ${SEG_INLINE} segments unacknowledged`).toBeGreaterThan(0);
    expect(flushed, `released connections with more than ${RTT_INLINE} samples a side`).toBeGreaterThan(0);
    expect(pendingOnly, 'connections released with every sample still pending').toBeGreaterThan(0);
  });

  for (const name of CAPTURES) {
    it(`${name}: marks and RTTs as tshark; a detail session's ACK RTT equals the normal one`, () => {
      const path = capture(name);
      const normal = tapscopeSession(path);
      const detail = tapscopeSession(path, [], true);
      const pk = oraclePackets(path);
      expect(oracleDifferences(name, pk, normal).slice(0, 20)).toEqual([]);
      expect(oracleDifferences(name, pk, detail).slice(0, 20)).toEqual([]);
      const flows = normal.connections.flows;
      expect(detail.connections.flows.count).toBe(flows.count);
      let withRtt = 0;
      for (let c = 0; c < flows.count; c++) {
        if (!flows.isTcp[c]) continue;
        const a = ackRtt(normal.connections.tcp!.table, c);
        const b = ackRtt(detail.connections.tcp!.table, c);
        expect(b, `connection ${c}`).toEqual(a);
        if (a) withRtt++;
      }
      expect(withRtt).toBeGreaterThan(0);
    });
  }
});
