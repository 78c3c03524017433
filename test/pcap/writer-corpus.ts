import { describe, expect, it, beforeAll, afterAll } from 'vitest';
// Shared body of writer-vs-tshark-{1,2}.test.ts (the corpus is split so each file stays short).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readSummary } from './blocks.js';
import { openCapture } from '../../main/pcap/reader.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allCaptures, capture } from '../helpers/captures.js';
import { FRAME_FIELDS, MD5, packetRows, pool, tsharkRows } from './oracle.js';
import { convertCapture } from '../../main/pcap/convert.js';

// Files Tapscope writes, checked by tshark and capinfos against the source file.
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tapscope-writer-tshark-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

function capinfosCount(path: string): number {
  const out = execFileSync('capinfos', ['-T', '-r', '-c', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return Number(out.trim().split('\t')[1]);
}

const GARBAGE = 'malformed-garbage-record-header.pcap';
const multiLinkType = (name: string): boolean => name === 'pcapng-bigendian-all-blocks.pcapng';

export function writerVsTshark(part: number, parts: number): void {
describe(`writer output opens in tshark with the same packets (corpus part ${part + 1}/${parts})`, () => {
  it('pcap and pcapng copies: same count, timestamps, lengths and MD5 of the bytes', async () => {
    const failures: string[] = [];
    await pool(allCaptures().filter((_, i) => i % parts === part), 2, async (name) => {
      const src = capture(name);
      const ng = join(dir, `${name}.out.pcapng`);
      const pc = join(dir, `${name}.out.pcap`);
      convertCapture(src, ng, 'pcapng');
      const outs = [ng];
      if (multiLinkType(name)) {
        expect(() => convertCapture(src, pc, 'pcap')).toThrow(/one link type/);
        expect(existsSync(pc)).toBe(false);
        expect(existsSync(pc + '.tmp')).toBe(false);
      } else {
        convertCapture(src, pc, 'pcap');
        // A little-endian pcap copy is the source's records byte for byte (writer.test.ts
        // checks that); tshark reading it again would add time, not coverage.
        const magic = readFileSync(src).readUInt32LE(0);
        if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) outs.push(pc);
        else expect(capinfosCount(pc)).toBe(readSummary(src).packets.length);
      }
      let want = packetRows(await tsharkRows(src, FRAME_FIELDS, MD5));
      if (name === GARBAGE) {
        // tshark reads this source as a "modified pcap" (corpus-vs-tshark.test.ts); libpcap and
        // Tapscope read one packet. The copy must hold that packet as Tapscope read it.
        const r = openCapture(src);
        const p = r.next()!;
        const md5 = createHash('md5').update(p.data.subarray(p.offset, p.offset + p.caplen)).digest('hex');
        want = [['1', `${p.tsSec}.${String(p.tsNsec).padStart(9, '0')}`, String(p.origLen), String(p.caplen), md5]];
        r.close();
      }
      for (const out of outs) {
        const got = packetRows(await tsharkRows(out, FRAME_FIELDS, MD5));
        if (got.length !== want.length) { failures.push(`${name} -> ${out}: ${got.length} packets, tshark read ${want.length} from the source`); continue; }
        for (let i = 0; i < want.length; i++) {
          // A Simple Packet Block has no timestamp (tshark prints none); ours must still be a time.
          const w = want[i][1] === '' ? [want[i][0], got[i][1], ...want[i].slice(2)] : want[i];
          if (got[i].join('\t') !== w.join('\t')) { failures.push(`${name} -> ${out} packet ${i + 1}: ${got[i].join(' ')} != ${w.join(' ')}`); break; }
        }
        expect(capinfosCount(out)).toBe(want.length);
      }
    });
    expect(failures).toEqual([]);
  });
});
}
