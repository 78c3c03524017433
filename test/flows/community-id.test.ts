import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { runAnalyze } from '../../main/cli/analyze.js';
import { join, resolve } from 'node:path';
import { addressBytes, communityId, connectionCommunityId, frameFlowTuple } from '../../main/flows/community-id.js';
import { Decoder } from '../../main/decode/decoder.js';
import { openCapture } from '../../main/pcap/reader.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { REPO_ROOT, tsharkFields } from '../helpers/captures.js';

/** The spec's reference data (corelight/community-id-spec), beside the corpus. */
const CID_DIR = resolve(REPO_ROOT, '..', 'shared', 'community-id');
const cid = (n: string) => join(CID_DIR, n);

interface Baseline { proto: number; saddr: string; daddr: string; sport?: number; dport?: number; communityid: string }
const baseline = (n: string): Baseline[] => JSON.parse(readFileSync(cid(`community-id-baseline-${n}.json`), 'utf8'));

/** Tapscope's per-packet Community ID of every packet of a file ('' where it has none, as tshark prints). */
function perPacket(file: string, seed: number): string[] {
  const r = openCapture(file);
  const d = new Decoder([]);
  const out: string[] = [];
  try {
    for (let rec = r.next(); rec; rec = r.next()) {
      const t = frameFlowTuple(d.decode(rec));
      out.push(t ? communityId(t, { seed }) ?? '' : '');
    }
  } finally {
    r.close();
  }
  return out;
}

describe('Community ID v1', () => {
  it('parses addresses to network-order bytes', () => {
    expect([...addressBytes('1.2.3.4')!]).toEqual([1, 2, 3, 4]);
    expect([...addressBytes('fe80::1')!]).toEqual([0xfe, 0x80, ...new Array(13).fill(0), 1]);
    expect([...addressBytes('::ffff:10.0.0.1')!].slice(10)).toEqual([0xff, 0xff, 10, 0, 0, 1]);
    expect(addressBytes('1.2.3')).toBeNull();
    expect(addressBytes('1::2::3')).toBeNull();
    expect(addressBytes('12345::')).toBeNull();
  });

  it('matches the spec baselines for the combined pcap: default seed, seed 1, no base64', () => {
    const configs = [['default', {}], ['seed1', { seed: 1 }], ['no-base64', { base64: false }]] as const;
    let n = 0;
    for (const [name, opts] of configs) {
      const rows = baseline(name);
      expect(rows.length).toBeGreaterThan(20);
      for (const b of rows) {
        const got = communityId({ proto: b.proto, srcIp: b.saddr, dstIp: b.daddr, srcPort: b.sport ?? 0, dstPort: b.dport ?? 0 }, opts);
        expect(got, `${name} ${JSON.stringify(b)}`).toBe(b.communityid);
        n++;
      }
    }
    expect(n).toBe(69);
  });

  it('decoding community-id-spec-combined.pcap yields exactly the baseline ids', () => {
    const want = new Set(baseline('default').map((b) => b.communityid));
    const got = new Set(perPacket(cid('community-id-spec-combined.pcap'), 0).filter((x) => x !== ''));
    expect([...got].sort()).toEqual([...want].sort());
  });

  it('agrees with tshark per packet on every spec pcap (seeds 0, 1 and 7)', () => {
    const files = ['community-id-spec-combined.pcap', 'community-id-spec-tcp.pcap', 'community-id-spec-udp.pcap', 'community-id-spec-sctp.pcap',
      'community-id-spec-icmp.pcap', 'community-id-spec-icmp6.pcap', 'community-id-spec-ipv6.pcap', 'community-id-spec-rsvp.pcap',
      'community-id-spec-arp.pcap', 'community-id-ipv4.pcap'];
    let compared = 0;
    // Every file with the default seed; the seeds 1 and 7 on the files that hold every protocol.
    for (const seed of [0, 1, 7]) {
      for (const f of seed === 0 ? files : ['community-id-spec-combined.pcap', 'community-id-ipv4.pcap']) {
        const rows = tsharkFields(cid(f), ['frame.number', 'communityid'], ['--enable-protocol', 'communityid', '-o', `communityid.seed:${seed}`]);
        const ts = rows.map((r) => r[1] ?? '');
        const ours = perPacket(cid(f), seed);
        expect(rows.map((r) => Number(r[0])), f).toEqual(ours.map((_, i) => i + 1));
        expect(ours, `${f} seed ${seed}`).toEqual(ts);
        compared += ts.filter((x) => x !== '').length;
      }
    }
    expect(compared).toBeGreaterThan(250);
  });

  it('connections carry it: the suricata-verify case (seed 7) through tapscope analyze', () => {
    const conns = analyzeFile(cid('community-id-ipv4.pcap')).report.connections as { client: { ip: string; port: number }; server: { ip: string; port: number }; transport: string; communityId: string }[];
    const c = conns.find((x) => x.client.ip === '172.26.0.39' && x.client.port === 35958 && x.server.ip === '172.217.14.206' && x.server.port === 443)!;
    expect(c).toBeDefined();
    expect(connectionCommunityId(c, 7)).toBe('1:IwiTNfuO7aCaamMijl+7/X9uLx0=');
    // Default seed 0 in the JSON, the same as tshark's default.
    expect(c.communityId).toBe(tsharkFields(cid('community-id-ipv4.pcap'), ['communityid'], ['--enable-protocol', 'communityid', '-c', '1'])[0][0]);
    let text = '';
    const w = new Writable({ write: (c, _e, cb) => { text += c; cb(); } });
    expect(runAnalyze([cid('community-id-ipv4.pcap'), '--json', '--community-id-seed', '7'], w, w)).toBe(0);
    const out = JSON.parse(text);
    expect(out.connections.find((x: { server: { port: number } }) => x.server.port === 443).communityId).toBe('1:IwiTNfuO7aCaamMijl+7/X9uLx0=');
  });
});
