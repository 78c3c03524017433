import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, tshark, tsharkFields } from './captures.js';
import { tsharkRows } from '../pcap/oracle.js';
import { saveCapture } from '../../main/pcap/writer.js';

/*
 * The tshark oracle must fail loudly: a mistyped option, field or filter used to give zero
 * rows, and every comparison with zero rows passed. Only damaged files (tshark's exit 2 with
 * its "damaged or corrupt" / "cut short" message) return what tshark read before the damage.
 */
const tmp = mkdtempSync(join(tmpdir(), 'tapscope-tshark-helper-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const file = capture('http-get-basic.pcap');

describe('tshark() and tsharkFields(): only damaged files are tolerated', () => {
  it('reads a good file', () => {
    expect(tsharkFields(file, ['frame.number']).map((r) => r[0])).toEqual(Array.from({ length: 14 }, (_, i) => String(i + 1)));
  });

  it('throws on an unknown field, preference, bad filter or missing file, with tshark\'s message', async () => {
    expect(() => tsharkFields(file, ['tcp.no_such_field'])).toThrow(/exited 1: tshark: Some fields aren't valid:\s+tcp\.no_such_field/);
    expect(() => tsharkFields(file, ['frame.number'], ['-o', 'tcp.no_such_pref:TRUE'])).toThrow(/unknown preference/);
    expect(() => tsharkFields(file, ['frame.number'], ['-Y', 'tcp.port =='])).toThrow(/exited 2: .*filter/s);
    expect(() => tshark(['-r', join(tmp, 'missing.pcap'), '-T', 'fields', '-e', 'frame.number'])).toThrow(/doesn't exist/);
    await expect(tsharkRows(file, ['tcp.no_such_field'])).rejects.toThrow(/Some fields aren't valid/);
  });

  it('a file cut in the middle of a packet returns the packets before the cut', async () => {
    const buf = readFileSync(capture('http-206-zerowindow-retx-ooo.pcap'));
    let off = 24;
    for (let i = 0; i < 9; i++) off += 16 + buf.readUInt32LE(off + 8);
    const cut = join(tmp, 'cut.pcap');
    writeFileSync(cut, buf.subarray(0, off + 30));
    expect(tsharkFields(cut, ['frame.number']).length).toBe(9);
    expect((await tsharkRows(cut, ['frame.number'])).length).toBe(9);
    // A damaged record header (the corpus's garbage record length): the two packets before it.
    expect(tsharkFields(capture('malformed-garbage-record-header.pcap'), ['frame.number']).length).toBe(2);
  });

  it('a file with no packet is an error unless listed in TSHARK_EMPTY; a display filter may match nothing', () => {
    const empty = join(tmp, 'no-packets.pcap');
    saveCapture(empty, [], { format: 'pcap', interfaces: [{ id: 0, linkType: 1, snaplen: 65535, name: null, description: null, tsUnitsPerSec: 1e6 }] });
    expect(() => tsharkFields(empty, ['frame.number'])).toThrow(/printed no packet for .*no-packets\.pcap: add it to TSHARK_EMPTY/);
    expect(tsharkFields(file, ['frame.number'], ['-Y', 'dns'])).toEqual([]);
  });
});
