import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCapture } from '../../main/pcap/reader.js';
import { Decoder } from '../../main/decode/decoder.js';
import { tsharkRows } from '../pcap/oracle.js';
import { tapscopeViews, tsharkViews } from './tshark-stack.js';
import { FRAGMENTS, PACKETS, LINK_CAPTURES, writeCrafted } from './craft.js';

/*
 * Encapsulations the corpus lacks, built around real packets (craft.ts) and written with
 * Tapscope's writer; tshark decodes the same file as the oracle:
 *   IP-in-IP, IPv6-in-IPv4 (sit), IPv4-in-IPv6, GENEVE carrying bare IPv4/IPv6 (AWS GWLB)
 *   and Ethernet, ERSPAN III with and without the platform sub-header, VXLAN on 8472,
 *   GRE with key+seq, ICMP/ICMPv6 errors quoting UDP/TCP, IPv6 extension headers, IPv4 and
 *   IPv6 fragments.
 */

let dir: string;
let path: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapscope-crafted-'));
  path = writeCrafted(dir)[0];
});
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe('crafted encapsulations vs tshark', () => {
  it('tunnel stacks, inner addresses, ports and ICMP quotes agree', async () => {
    const theirs = await tsharkViews(path, ['-d', 'udp.port==8472,vxlan']);
    const ours = tapscopeViews(path);
    for (let i = 0; i < PACKETS.length; i++) {
      const label = PACKETS[i][0];
      expect(ours[i].malformed ?? null, label).toBeNull();
      const { malformed: _m, ...o } = ours[i];
      const { tsharkMalformed, ...t } = theirs[i];
      expect(tsharkMalformed, `${label}: tshark flags it malformed`).toBe(false);
      expect(o, label).toEqual(t);
    }
    // The interesting parts are really there (not two empty views agreeing).
    expect(ours[0].stack).toBe('ipip:null 192.0.2.1>192.0.2.2');
    expect(ours[3].stack).toBe(`geneve:${0x123456} 10.0.0.1>10.0.0.2`);
    expect(ours[3].l4).toMatch(/^tcp \d+>80$/);
    expect(ours[6].stack).toBe('erspan3:777 10.1.0.1>10.1.0.2');
    expect(ours[11].quoted).toMatch(/^\S+>\S+ \d+>53$/);
    const hbh = PACKETS.findIndex(([label]) => label.startsWith('ICMPv6 too big'));
    expect(ours[hbh].quoted).toBe('2001:db8::1>2001:db8::9 4444>53'); // through the quoted hop-by-hop header
  });

  it('fragments are flagged with tshark\'s offset and more-fragments bit', async () => {
    const rows = await tsharkRows(path, ['ip.flags.mf', 'ip.frag_offset', 'ipv6.fraghdr.more', 'ipv6.fraghdr.offset', 'ip.id', 'ipv6.fraghdr.ident']);
    const r = openCapture(path);
    const dec = new Decoder();
    let i = 0;
    for (let p = r.next(); p; p = r.next(), i++) {
      if (i < PACKETS.length) continue;
      const f = dec.decode(p);
      const t = rows[i];
      const label = FRAGMENTS[i - PACKETS.length][0];
      expect(f.isFragment, label).toBe(true);
      const [mf, off] = f.ipVersion === 4 ? [t[0], t[1]] : [t[2], t[3]];
      expect(f.moreFragments ? '1' : '0', label).toBe(mf === 'True' ? '1' : mf);
      expect(String(f.fragOffset / 8), label).toBe(off); // tshark counts 8-byte units; Tapscope bytes
      expect(String(f.ipId), label).toBe(String(Number(f.ipVersion === 4 ? t[4] : t[5])));
      // Only a first fragment has an L4 header; later fragments stop at IP.
      if (f.fragOffset > 0) expect(f.l4, label).toBe(0);
    }
    r.close();
    expect(i).toBe(PACKETS.length + FRAGMENTS.length);
  });

  it('raw IP and BSD loopback link types (both byte orders) decode like tshark', async () => {
    const files = writeCrafted(dir).slice(1);
    expect(files.length).toBe(LINK_CAPTURES.length);
    for (const f of files) {
      const theirs = (await tsharkViews(f)).map(({ tsharkMalformed, ...t }) => {
        expect(tsharkMalformed, `${f}: tshark flags a packet malformed`).toBe(false);
        return t;
      });
      const ours = tapscopeViews(f).map(({ malformed: _m, ...o }) => o);
      expect(ours.length, f).toBeGreaterThan(0);
      expect(ours, f).toEqual(theirs);
      for (const o of ours) expect(o.l4, f).toMatch(/^tcp \d+>80$/);
    }
  });
});
