import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../helpers/captures.js';
import { tsharkRows } from './oracle.js';
import { walkBlocks } from './blocks.js';
import { openCapture } from '../../main/pcap/reader.js';

/*
 * pcapng files with several sections (byte order changing between them) and obsolete
 * Packet Blocks, which the corpus lacks: made by concatenating real pcapng files (a valid
 * pcapng file is a sequence of sections) and by retyping EPBs as OPBs, then read by
 * tshark and by Tapscope.
 */
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tapscope-sections-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const FIELDS = ['frame.encap_type', 'frame.interface_id', 'frame.time_epoch', 'frame.len', 'frame.cap_len', 'frame.md5_hash', 'frame.interface_name', 'frame.comment'];

/**
 * `sectionBases`: first global interface id of each section. tshark 4.0 prints
 * frame.interface_id numbered within the packet's section and then looks the name up in the
 * file-wide list (so names are wrong after the first section); Tapscope numbers interfaces
 * across the file, as capinfos lists them. Ids are compared section-local, names per section
 * against capinfos (docs/engine-vs-tshark.md).
 */
async function compare(path: string, sectionBases: number[] = [0]): Promise<number> {
  const theirs = (await tsharkRows(path, FIELDS, ['-o', 'frame.generate_md5_hash:TRUE'])).filter((r) => r[0] !== '').map((r) => r.slice(1));
  const r = openCapture(path);
  const ours: string[][] = [];
  let prev = '';
  for (let p = r.next(); p; p = r.next()) {
    const name = r.interfaces[p.interfaceId].name;
    const base = Math.max(...sectionBases.filter((b) => b <= p.interfaceId));
    ours.push([
      String(p.interfaceId - base), `${p.tsSec}.${String(p.tsNsec).padStart(9, '0')}`, String(p.origLen), String(p.caplen),
      createHash('md5').update(p.data.subarray(p.offset, p.offset + p.caplen)).digest('hex'),
      (name ?? 'unknown').replace(/\r/g, '\\r').replace(/\n/g, '\\n'), p.comment ?? '',
    ]);
    prev = ours[ours.length - 1][1];
  }
  r.close();
  expect(r.error).toBeNull();
  // A Simple Packet Block has no time in tshark; Tapscope repeats the previous packet's.
  const want = theirs.map((t, i) => (t[1] === '' ? [t[0], ours[i]?.[1] ?? '', ...t.slice(2)] : t));
  if (sectionBases.length > 1) for (const [i, w] of want.entries()) w[5] = ours[i]?.[5] ?? '';
  expect(ours).toEqual(want);
  expect(prev).not.toBe('');
  return ours.length;
}

describe('pcapng sections and obsolete packet blocks', () => {
  it('three sections, little- and big-endian, interfaces numbered across the file (as capinfos lists them)', async () => {
    const parts = ['pcapng-comments-2if-rtp.pcapng', 'pcapng-bigendian-all-blocks.pcapng', 'pcapng-2if-ns-and-us.pcapng'].map((n) => readFileSync(capture(n)));
    const p = join(dir, 'three-sections.pcapng');
    writeFileSync(p, Buffer.concat(parts));
    expect(await compare(p, [0, 2, 5])).toBe(112 + 5 + 6);
    const r = openCapture(p);
    while (r.next());
    r.close();
    // The interfaces, numbered across the file, are capinfos' list.
    const info = execFileSync('capinfos', [p], { encoding: 'utf8' });
    const names = [...info.matchAll(/^Interface #(\d+) info:\r?\n\s+Name = ([^\r\n]*)/gm)].map((m) => [Number(m[1]), m[2]] as [number, string]);
    const capinfosNames = [...new Map(names).values()];
    expect(r.interfaces.map((i) => (i.name ?? '').split(/\r?\n/)[0])).toEqual(capinfosNames);
    expect(r.comments.filter((c) => c.packet === null).length).toBeGreaterThanOrEqual(1);
  });

  it('obsolete Packet Blocks (type 2) read like tshark reads them', async () => {
    const buf = Buffer.from(readFileSync(capture('pcapng-2if-ns-and-us.pcapng')));
    let n = 0;
    for (const b of walkBlocks(buf).blocks) {
      if (b.isPacket && buf.readUInt32LE(b.start) === 6) {
        // EPB interface_id(32) becomes OPB interface_id(16) + drops_count(16): same bytes when LE and < 65536.
        buf.writeUInt32LE(2, b.start);
        n++;
      }
    }
    expect(n).toBe(6);
    const p = join(dir, 'opb.pcapng');
    writeFileSync(p, buf);
    expect(await compare(p)).toBe(6);
  });
});
