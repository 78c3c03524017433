import { describe, expect, it } from 'vitest';
import { fieldDef } from '../../main/filter/fields.js';
import { openCorpus } from './filter-oracle.js';
import { allCaptures, capture, decodeAsFor, tsharkFields } from '../helpers/captures.js';

/*
 * tcp.stream and udp.stream of every packet of the corpus against tshark's, so a stream
 * number copied from Wireshark selects the same conversation (port reuse included:
 * tcp-syn-retransmit-http.pcap, many-conns-loopback-echo.pcap). Differences allowed only
 * where docs/display-filters.md says why: IP fragments (tshark shows TCP on the last
 * fragment), the outer UDP flow of VXLAN/GENEVE/TZSP (its ports are not kept), and pcapng
 * Custom Blocks (tshark counts them as frames whose only protocol is "data": left out here).
 */
describe('tcp.stream and udp.stream number conversations as tshark does', () => {
  it.each(allCaptures())('%s', (name) => {
    const da = decodeAsFor(name);
    const { data, reader, ctx } = openCorpus(name);
    try {
      const rows = tsharkFields(capture(name), ['frame.protocols', 'tcp.stream', 'udp.stream', 'ip.flags.mf', 'ip.frag_offset'], da.tshark).filter((r) => r[0] !== 'data');
      // A damaged file: tshark may show a record past the damage that the reader refuses.
      expect(rows.length).toBe(data.state === 'damaged' ? Math.max(rows.length, data.index.length) : data.index.length);
      rows.length = Math.min(rows.length, data.index.length);
      let compared = 0;
      rows.forEach(([protocols, tcp, udp, mf, frag], i) => {
        ctx.at(i);
        const read = (f: string): string => {
          const out: (number | string)[] = [];
          fieldDef(f)!.get(ctx, out);
          return out.join(',');
        };
        const fragment = mf.split(',').includes('1') || frag.split(',').some((x) => x !== '' && x !== '0');
        const tunnel = /:(vxlan|geneve|tzsp):/.test(`${protocols}:`);
        if (!fragment) expect(read('tcp.stream'), `packet ${i + 1} tcp.stream`).toBe(tcp);
        if (!tunnel) expect(read('udp.stream'), `packet ${i + 1} udp.stream`).toBe(udp);
        if (tcp || udp) compared++;
      });
      if (/^(http|tcp|tls|many|quic|dns-n)/.test(name)) expect(compared).toBeGreaterThan(0);
    } finally {
      reader.close();
    }
  });
});
