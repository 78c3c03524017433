import { describe, expect, it } from 'vitest';
import { tapscopeMatches, tsharkMatches } from './filter-oracle.js';

/*
 * The deliberate differences from tshark (docs/display-filters.md), each checked as its rule:
 * the packets on which Tapscope and tshark disagree must be exactly the ones the rule names.
 */

function split(name: string, filter: string): { onlyTshark: number[]; onlyTapscope: number[] } {
  const ours = new Set(tapscopeMatches(name, filter));
  const theirs = new Set(tsharkMatches(name, filter));
  return { onlyTshark: [...theirs].filter((n) => !ours.has(n)), onlyTapscope: [...ours].filter((n) => !theirs.has(n)) };
}

/** Numbers of tshark's packets matching `rule`. */
const where = (name: string, rule: string): Set<number> => new Set(tsharkMatches(name, rule));

describe('documented differences from tshark', () => {
  it('IP fragments: inner fields on the first fragment (Tapscope), on the last one (tshark)', () => {
    const name = 'gre-teb-http-dns.pcap';
    const fragments = where(name, 'ip.flags.mf == 1 || ip.frag_offset > 0');
    for (const filter of ['ip.addr == 192.168.69.10', 'tcp.stream == 3', 'gre']) {
      const d = split(name, filter);
      expect(d.onlyTshark.length + d.onlyTapscope.length).toBeGreaterThan(0);
      for (const n of [...d.onlyTshark, ...d.onlyTapscope]) expect(fragments.has(n), `${filter}: packet ${n} is not a fragment`).toBe(true);
    }
  });

  it('outer UDP ports of a VXLAN tunnel are not kept: udp.port == 4789 keeps nothing, udp and vxlan keep every packet', () => {
    const name = 'vxlan-http.pcap';
    expect(tsharkMatches(name, 'udp.port == 4789')).toHaveLength(12);
    expect(tapscopeMatches(name, 'udp.port == 4789')).toEqual([]);
    expect(tapscopeMatches(name, 'udp && vxlan')).toEqual(tsharkMatches(name, 'udp && vxlan'));
  });

  it('snaplen-truncated segments: HTTP in a cut segment is not read (tshark reads the head that was captured)', () => {
    const name = 'http-snaplen96-truncated.pcap';
    const cut = where(name, 'frame.cap_len < frame.len');
    const d = split(name, 'http');
    expect(d.onlyTapscope).toEqual([]);
    expect(d.onlyTshark.length).toBeGreaterThan(0);
    for (const n of d.onlyTshark) expect(cut.has(n)).toBe(true);
  });
});
