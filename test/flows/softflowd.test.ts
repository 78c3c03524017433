import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { runFlows } from '../../main/cli/flows.js';
import { capture, tshark } from '../helpers/captures.js';
import { Nfcapd, byKey, flowKey, have, nfdumpFlows, type Uniflow } from './collector.js';

/*
 * softflowd (Debian) as the peer exporter: the same capture through softflowd and through
 * Tapscope, each into its own nfcapd, read back with nfdump. The differences found are
 * the ones docs/flows.md explains: softflowd counts Ethernet padding in the octets, gives
 * both directions the bidirectional flow's start/end times, and exports tunnels as the
 * outer UDP flow.
 */

async function collect(send: (port: number) => Promise<void> | void): Promise<Map<string, Uniflow>> {
  const nf = new Nfcapd();
  await nf.start();
  try {
    await send(nf.port);
    return byKey(nfdumpFlows(await nf.stop()));
  } finally {
    nf.remove();
  }
}

/** All files through one exporter run (softflowd: one run per file) into one nfcapd. */
const tapscopeFlows = (files: string[]) => collect(async (p) => {
  const w = new Writable({ write: (_c, _e, cb) => cb() });
  expect(await runFlows([...files, '--ipfix', `127.0.0.1:${p}`], w, w)).toBe(0);
});
const softflowdFlows = (files: string[]) => collect((p) => {
  for (const f of files) execFileSync('softflowd', ['-r', f, '-n', `127.0.0.1:${p}`, '-v', '10', '-A', 'milli'], { stdio: 'ignore', timeout: 30_000 });
});

/** Ethernet padding/trailer octets per direction (what softflowd adds to the IP octets). */
function paddingByDirection(file: string): Map<string, number> {
  const out = tshark(['-r', file, '-n', '-Y', 'tcp or udp', '-T', 'fields', '-E', 'occurrence=l', '-e', 'ip.proto', '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'tcp.dstport', '-e', 'udp.dstport', '-e', 'eth.padding', '-e', 'eth.trailer']);
  const m = new Map<string, number>();
  for (const l of out.split('\n').filter(Boolean)) {
    const [proto, src, tsp, usp, dst, tdp, udp, pad, trailer] = l.split('\t');
    const k = flowKey(Number(proto), src, Number(tsp || usp), dst, Number(tdp || udp));
    m.set(k, (m.get(k) ?? 0) + (pad.length + trailer.length) / 2);
  }
  return m;
}

const PLAIN = ['http-get-basic.pcap', 'dns-nxdomain.pcapng', 'tls-sni-multi-hosts.pcap', 'http-dns-ipv6-wikipedia.pcap', 'many-conns-loopback-echo.pcap',
  'http-snaplen96-truncated.pcap', 'tcp-syn-rst-refused.pcapng', 'tcp-zerowindow-recovery.pcapng'];

const MISSING = ['softflowd', 'nfcapd', 'nfdump'].filter((c) => !have(c));

describe.skipIf(MISSING.length > 0)(`softflowd as the peer exporter ${MISSING.length ? `(missing: ${MISSING.join(', ')})` : ''}`, () => {
  it('same flows and packets; octets differ by exactly the Ethernet padding softflowd counts', async () => {
    const files = PLAIN.map(capture);
    const ours = await tapscopeFlows(files);
    const peer = await softflowdFlows(files);
    expect([...peer.keys()].sort()).toEqual([...ours.keys()].sort());
    const pad = new Map<string, number>();
    for (const f of files) for (const [k, n] of paddingByDirection(f)) pad.set(k, (pad.get(k) ?? 0) + n);
    let padded = 0;
    for (const [k, o] of ours) {
      const p = peer.get(k)!;
      expect(p.packets, k).toBe(o.packets);
      expect(p.octets - o.octets, k).toBe(pad.get(k) ?? 0);
      if (pad.get(k)) padded++;
      // softflowd stamps both directions with the bidirectional flow's times.
      expect(p.firstMs).toBeLessThanOrEqual(o.firstMs);
      expect(p.lastMs).toBeGreaterThanOrEqual(o.lastMs);
    }
    expect(ours.size).toBeGreaterThan(1000);
    expect(padded).toBeGreaterThan(0);
  }, 120_000);

  it('tunnels: softflowd exports the outer VXLAN datagrams, Tapscope the inner conversation', async () => {
    const f = [capture('vxlan-http.pcap')];
    const ours = await tapscopeFlows(f);
    const peer = await softflowdFlows(f);
    expect([...peer.keys()].every((k) => k.startsWith('17 ') && k.endsWith(':4789'))).toBe(true);
    expect([...ours.keys()].every((k) => k.startsWith('6 '))).toBe(true);
    const inner = [...ours.values()].reduce((n, x) => n + x.packets, 0);
    expect([...peer.values()].reduce((n, x) => n + x.packets, 0)).toBe(inner);
  }, 60_000);
});
