/*
 * Tapscope's TCP connection analysis against tshark's on every capture of the corpus
 * that carries TCP: per connection packets, bytes, state, handshake RTT, ACK RTT
 * (samples, min, median, max) and the count of every tcp.analysis mark; per packet the
 * marks themselves (for a readable failure). tshark streams are matched to Tapscope
 * connections by their first packet. Differences Tapscope keeps on purpose are listed in
 * docs/analysis.md and in KNOWN below, each with its reason.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { allCaptures, capture, decodeAsFor, REPO_ROOT } from '../helpers/captures.js';
import { compareStream, oraclePackets, oracleStreams, tapscopeSession, tapscopeSummary } from './tcp-oracle.js';
import { DUPACK_SHIFT, TcpA } from '../../main/analysis/tcp-flags.js';

/** Capture -> differences accepted (see docs/analysis.md "Differences from tshark"). */
const KNOWN: Record<string, { reason: string; accept: (line: string) => boolean }> = {};

/**
 * tshark options per capture where Tapscope deliberately differs (docs/analysis.md):
 * Tapscope does not reassemble IP fragments, so a TCP segment inside a tunnel datagram
 * fragmented in transit is analysed at its first fragment; tshark with reassembly off
 * does the same, and everything else must then agree.
 */
const TSHARK_OPTIONS: Record<string, string[]> = {
  'gre-teb-http-dns.pcap': ['-o', 'ip.defragment:FALSE'],
};

const ALL_BITS = Object.values(TcpA).reduce((a, b) => a | b, 0);

/** Every packet's marks and every connection's figures, Tapscope vs tshark; the differences. */
function differences(name: string, path: string, tsharkArgs: string[], decodeAs: string[]): string[] {
  const pk = oraclePackets(path, tsharkArgs);
  const streams = oracleStreams(pk);
  const session = tapscopeSession(path, decodeAs);
  const index = session.index!;
  const diffs: string[] = [];
  const matched = new Set<number>();
  for (const [id, st] of streams) {
    const connId = st.first - 1 < index.length ? index.connId[st.first - 1] : -1;
    const conn = connId >= 0 ? session.connections.all[connId] : undefined;
    if (!conn || conn.transport !== 'tcp') {
      diffs.push(`${name} stream ${id}: frame ${st.first} is in no Tapscope TCP connection`);
      continue;
    }
    matched.add(connId);
    for (const p of st.packets) {
      const i = p.frame - 1;
      if (index.connId[i] !== connId) {
        diffs.push(`${name} stream ${id}: frame ${p.frame} is in connection ${index.connId[i]}, not ${connId}`);
        continue;
      }
      const got = index.flags[i] & ALL_BITS;
      if (got !== p.flags) diffs.push(`${name} frame ${p.frame}: flags 0x${got.toString(16)} != tshark 0x${p.flags.toString(16)}`);
      const dup = index.flags[i] >>> DUPACK_SHIFT;
      if (p.flags & TcpA.DuplicateAck && dup !== p.dupAckNum) diffs.push(`${name} frame ${p.frame}: dup ACK #${dup} != tshark #${p.dupAckNum}`);
    }
    diffs.push(...compareStream(name, id, st.summary, tapscopeSummary(session, connId)));
  }
  for (const c of session.connections.all) {
    if (c.transport === 'tcp' && !matched.has(c.id)) diffs.push(`${name}: Tapscope connection ${c.id} (${c.client.ip}:${c.client.port} -> ${c.server.ip}:${c.server.port}) has no tshark stream`);
  }
  const known = KNOWN[name];
  return known ? diffs.filter((d) => !known.accept(d)) : diffs;
}

describe('TCP analysis agrees with tshark', () => {
  for (const name of allCaptures()) {
    it(name, () => {
      const da = decodeAsFor(name);
      expect(differences(name, capture(name), [...da.tshark, ...(TSHARK_OPTIONS[name] ?? [])], da.tapscope).slice(0, 40)).toEqual([]);
    });
  }

  // The app's sample capture (made in namespaces: errors, a reset, a refused port, retransmissions).
  const sample = join(REPO_ROOT, 'resources', 'sample', 'tapscope-sample.pcapng');
  it.skipIf(!existsSync(sample))('resources/sample/tapscope-sample.pcapng', () => {
    expect(differences('tapscope-sample.pcapng', sample, [], []).slice(0, 40)).toEqual([]);
  });
});
