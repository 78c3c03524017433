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
import { oracleDifferences, oraclePackets, tapscopeSession } from './tcp-oracle.js';

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

/** Every packet's marks and every connection's figures, Tapscope vs tshark; the differences. */
function differences(name: string, path: string, tsharkArgs: string[], decodeAs: string[]): string[] {
  const diffs = oracleDifferences(name, oraclePackets(path, tsharkArgs), tapscopeSession(path, decodeAs));
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
