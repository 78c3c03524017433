import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../helpers/captures.js';
import { tsharkRows } from './oracle.js';
import { readSummary, walkBlocks, type Block } from './blocks.js';
import { CaptureFormatError } from '../../main/pcap/record.js';
import { rngUnit } from '../helpers/rng';

/*
 * Real captures cut at every block boundary, one byte either side, and at random offsets:
 * every complete packet before the cut is read (same bytes as from the whole file), the
 * error names the damaged block's byte offset and the next packet number, nothing throws
 * and nothing hangs. Then corrupt length fields: huge, zero, unaligned, mismatched.
 */

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tapscope-trunc-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const FILES = [
  'http-get-basic.pcap',
  'pcap-bigendian-pptp-gre.pcap',
  'pcap-nsec-tcp-handshake-sll.pcap',
  'pcapng-bigendian-all-blocks.pcapng',
  'pcapng-2if-ns-and-us.pcapng',
  'pcapng-comments-2if-rtp.pcapng',
  'tzsp-http-udp31337.pcapng',
];

const rng = rngUnit;

function expectCut(name: string, whole: string[], blocks: Block[], header: number, cutPath: string, cut: number, chunk: number | undefined): void {
  const res = readSummary(cutPath, chunk);
  const where = `${name} cut at ${cut} (chunk ${chunk ?? 'default'})`;
  if (cut < Math.max(header, 12)) {
    // Not even a file header: opening fails with a format error (the CLI's exit 1), never anything else.
    expect(res.openError, where).toBeInstanceOf(CaptureFormatError);
    return;
  }
  expect(res.openError, where).toBeNull();
  const complete = blocks.filter((b) => b.isPacket && b.end <= cut).length;
  expect(res.packets.length, where).toBe(complete);
  expect(res.packets, where).toEqual(whole.slice(0, complete));
  const atBoundary = cut === header || blocks.some((b) => b.end === cut);
  if (atBoundary) {
    expect(res.error, where).toBeNull();
  } else {
    const damaged = blocks.find((b) => b.start < cut && b.end > cut) ?? blocks.find((b) => b.start >= cut);
    const start = damaged ? damaged.start : cut;
    expect(res.error, where).toBeInstanceOf(CaptureFormatError);
    expect(res.error!.offset, where).toBe(start);
    expect(res.error!.packet, where).toBe(complete);
    expect(res.error!.message, where).toContain(`at byte offset ${start}, packet ${complete + 1})`);
  }
}

describe('captures cut short', () => {
  for (const name of FILES) {
    it(`${name}: every block boundary ±1 and 40 random offsets`, () => {
      const buf = readFileSync(capture(name));
      const { header, blocks } = walkBlocks(buf);
      const whole = readSummary(capture(name)).packets;
      expect(whole.length).toBe(blocks.filter((b) => b.isPacket).length);
      const cuts = new Set<number>();
      for (const b of [{ start: 0, end: header }, ...blocks]) for (const d of [-1, 0, 1]) cuts.add(b.end + d);
      const rand = rng(name.length * 7919);
      for (let i = 0; i < 40; i++) cuts.add(Math.floor(rand() * buf.length));
      let i = 0;
      for (const cut of [...cuts].filter((c) => c >= 0 && c < buf.length).sort((a, b) => a - b)) {
        const p = join(dir, `${name}.${cut}`);
        writeFileSync(p, buf.subarray(0, cut));
        expectCut(name, whole, blocks, header, p, cut, i++ % 2 ? 64 : undefined);
        rmSync(p);
      }
    });
  }

  it('tshark reads the same number of packets from cut files', async () => {
    const rand = rng(42);
    for (const name of ['http-get-basic.pcap', 'pcapng-comments-2if-rtp.pcapng', 'pcap-bigendian-pptp-gre.pcap']) {
      const buf = readFileSync(capture(name));
      for (let k = 0; k < 3; k++) {
        const cut = 200 + Math.floor(rand() * (buf.length - 200));
        const p = join(dir, `tshark-${name}.${cut}`);
        writeFileSync(p, buf.subarray(0, cut));
        const theirs = (await tsharkRows(p, ['frame.encap_type'])).filter((r) => r[0] !== '');
        expect(readSummary(p).packets.length, `${name} cut at ${cut}`).toBe(theirs.length);
      }
    }
  });
});

/** A copy of `name` with a 32-bit field of the k-th packet block (or record) overwritten. */
function corrupt(name: string, k: number, field: 'len' | 'caplen' | 'trailer', value: number): { path: string; start: number } {
  const buf = Buffer.from(readFileSync(capture(name)));
  const { blocks } = walkBlocks(buf);
  const b = blocks.filter((x) => x.isPacket)[k];
  const le = buf.readUInt32LE(0) === 0x0a0d0d0a ? buf.readUInt32LE(8) === 0x1a2b3c4d : buf.readUInt32LE(0) === 0xa1b2c3d4;
  const at = field === 'len' ? b.start + 4 : field === 'caplen' ? b.start + (name.endsWith('.pcapng') ? 20 : 8) : b.end - 4;
  if (le) buf.writeUInt32LE(value >>> 0, at);
  else buf.writeUInt32BE(value >>> 0, at);
  const path = join(dir, `${name}.${k}.${field}.${value}`);
  writeFileSync(path, buf);
  return { path, start: b.start };
}

describe('corrupt length fields', () => {
  const cases: [string, 'len' | 'caplen' | 'trailer', number, RegExp][] = [
    ['pcapng-comments-2if-rtp.pcapng', 'len', 0xfffffff0, /block length 4294967280 exceeds|truncated block/],
    ['pcapng-comments-2if-rtp.pcapng', 'len', 0x0f000000, /truncated block/],
    ['pcapng-comments-2if-rtp.pcapng', 'len', 0, /block length 0 is invalid/],
    ['pcapng-comments-2if-rtp.pcapng', 'len', 8, /block length 8 is invalid/],
    ['pcapng-comments-2if-rtp.pcapng', 'len', 130, /block length 130 is invalid/],
    ['pcapng-comments-2if-rtp.pcapng', 'trailer', 12, /trailing length does not match/],
    ['pcapng-comments-2if-rtp.pcapng', 'caplen', 0x7fffffff, /claims 2147483647 captured bytes/],
    ['pcapng-bigendian-all-blocks.pcapng', 'len', 0xfffffff0, /exceeds|truncated block/],
    ['pcapng-bigendian-all-blocks.pcapng', 'len', 14, /block length 14 is invalid/],
    ['http-get-basic.pcap', 'caplen', 0xffffffff, /record claims 4294967295 captured bytes/],
    ['http-get-basic.pcap', 'caplen', 200000, /truncated packet/],
    ['pcap-bigendian-pptp-gre.pcap', 'caplen', 0x10000000, /record claims 268435456 captured bytes|truncated packet/],
  ];
  for (const [name, field, value, why] of cases) {
    it(`${name}: ${field} = ${value} on packet 4`, () => {
      const whole = readSummary(capture(name)).packets;
      const { path, start } = corrupt(name, 3, field, value);
      const before = process.memoryUsage().arrayBuffers;
      for (const chunk of [undefined, 64]) {
        const res = readSummary(path, chunk);
        expect(res.openError).toBeNull();
        expect(res.packets).toEqual(whole.slice(0, 3));
        expect(res.error).toBeInstanceOf(CaptureFormatError);
        expect(res.error!.message).toMatch(why);
        expect(res.error!.message).toContain(`at byte offset ${start}, packet 4)`);
      }
      // The length field did not make the reader allocate it.
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024);
    });
  }

  it('a µs fraction of a second or more is carried into the seconds, not an error (tshark reads on too)', async () => {
    const buf = Buffer.from(readFileSync(capture('http-get-basic.pcap')));
    const second = 24 + 16 + buf.readUInt32LE(24 + 8);
    const sec = buf.readUInt32LE(second);
    buf.writeUInt32LE(1500000, second + 4);
    const p = join(dir, 'usec-overflow.pcap');
    writeFileSync(p, buf);
    const res = readSummary(p);
    expect(res.error).toBeNull();
    expect(res.packets.length).toBe((await tsharkRows(p, ['frame.number'])).length);
    expect(res.packets[1]).toContain(` ${sec + 1}.500000000 `);
  });

  it('an interface block with a bad length stops before any packet', () => {
    const buf = Buffer.from(readFileSync(capture('pcapng-2if-ns-and-us.pcapng')));
    const { blocks } = walkBlocks(buf);
    const idb = blocks[1]; // SHB, then the first IDB
    expect(buf.readUInt32LE(idb.start)).toBe(1);
    buf.writeUInt32LE(6, idb.start + 4);
    const p = join(dir, 'bad-idb.pcapng');
    writeFileSync(p, buf);
    const res = readSummary(p);
    expect(res.packets).toEqual([]);
    expect(res.error!.message).toBe(`block length 6 is invalid (at byte offset ${idb.start}, packet 1)`);
  });
});
