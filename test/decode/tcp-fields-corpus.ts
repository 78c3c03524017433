import { describe, expect, it } from 'vitest';
// Shared body of tcp-fields-vs-tshark-{1,2}.test.ts (the corpus is split so each file stays short).
import { allCaptures, capture, decodeAsFor } from '../helpers/captures.js';
import { pool, tsharkRows } from '../pcap/oracle.js';
import { openCapture } from '../../main/pcap/reader.js';
import { Decoder, parseDecodeAs } from '../../main/decode/decoder.js';
import { L4 } from '../../main/decode/frame.js';

/*
 * TCP header fields and options of every TCP packet in the corpus against tshark: raw
 * sequence and acknowledgement numbers, flags, window, header length, segment length (from
 * the IP lengths, so snaplen-cut packets keep their sequence space), MSS, window scale,
 * SACK-permitted, SACK blocks (raw), timestamps.
 */
const FIELDS = [
  'frame.encap_type', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.flags', 'tcp.window_size_value', 'tcp.hdr_len', 'tcp.len',
  'tcp.options.mss_val', 'tcp.options.wscale.shift', 'tcp.options.sack_perm', 'tcp.options.sack_le', 'tcp.options.sack_re',
  'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr',
];
const first = (s: string) => (s === '' ? '' : s.split(',')[0]);

export function tcpFieldsVsTshark(part: number, parts: number): void {
describe(`TCP fields vs tshark, corpus part ${part + 1}/${parts}`, () => {
  it('same header fields and options', async () => {
    const failures: string[] = [];
    let compared = 0;
    await pool(allCaptures().filter((n, i) => i % parts === part && n !== 'malformed-garbage-record-header.pcap'), 2, async (name) => {
      const da = decodeAsFor(name);
      const rows = (await tsharkRows(capture(name), FIELDS, ['-o', 'tcp.relative_sequence_numbers:FALSE', ...da.tshark])).filter((r) => r[0] !== '');
      const dec = new Decoder(da.tapscope.map(parseDecodeAs));
      const r = openCapture(capture(name));
      let i = 0;
      let bad = 0;
      for (let p = r.next(); p; p = r.next(), i++) {
        const f = dec.decode(p);
        const t = rows[i].slice(1).map(first);
        if (f.l4 !== L4.Tcp || f.malformed || t[0] === '') continue;
        // SACK edges: every block, raw.
        const all = rows[i].slice(1);
        const sackL = all[9] ? all[9].split(',') : [];
        const sackR = all[10] ? all[10].split(',') : [];
        const want = [
          t[0], (f.tcpFlags & 0x10) ? t[1] : '-', String(Number(t[2]) & 0x1ff), t[3], t[4], t[5],
          t[6], t[7], t[8] === '' ? 'no' : 'yes', sackL.join(','), sackR.join(','), t[11], t[12],
        ];
        const sl: string[] = [];
        const sr: string[] = [];
        for (let k = 0; k < f.sackCount; k++) { sl.push(String(f.sackLeft[k])); sr.push(String(f.sackRight[k])); }
        const ours = [
          String(f.tcpSeq), (f.tcpFlags & 0x10) ? String(f.tcpAck) : '-', String(f.tcpFlags), String(f.tcpWindow), String(f.tcpHdrLen), String(f.payloadLen),
          f.tcpMss < 0 ? '' : String(f.tcpMss), f.tcpWscale < 0 ? '' : String(f.tcpWscale), f.tcpSackPerm ? 'yes' : 'no', sl.join(','), sr.join(','),
          f.tcpHasTs ? String(f.tcpTsVal) : '', f.tcpHasTs ? String(f.tcpTsEcr) : '',
        ];
        compared++;
        if (ours.join(' ') !== want.join(' ') && bad++ < 3) failures.push(`${name} packet ${i + 1}:\n  ours   ${ours.join(' ')}\n  tshark ${want.join(' ')}`);
      }
      r.close();
    });
    expect(failures).toEqual([]);
    expect(compared).toBeGreaterThan(100);
  });
});
}
