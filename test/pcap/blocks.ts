import { createHash } from 'node:crypto';
import { openCapture } from '../../main/pcap/reader.js';
import { CaptureFormatError } from '../../main/pcap/record.js';

/** One record (pcap) or block (pcapng) of a file, found by walking its length fields independently of the reader. */
export interface Block {
  start: number;
  end: number;
  isPacket: boolean;
}

/** The file header size (pcap) and every record/block after it. */
export function walkBlocks(buf: Buffer): { header: number; blocks: Block[] } {
  const blocks: Block[] = [];
  const magicLe = buf.readUInt32LE(0);
  if (magicLe === 0x0a0d0d0a) {
    let le = true;
    for (let p = 0; p + 12 <= buf.length;) {
      if (buf.readUInt32LE(p) === 0x0a0d0d0a) le = buf.readUInt32LE(p + 8) === 0x1a2b3c4d;
      const type = le ? buf.readUInt32LE(p) : buf.readUInt32BE(p);
      const len = le ? buf.readUInt32LE(p + 4) : buf.readUInt32BE(p + 4);
      blocks.push({ start: p, end: p + len, isPacket: type === 2 || type === 3 || type === 6 });
      p += len;
    }
    return { header: 0, blocks };
  }
  const le = magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d;
  for (let p = 24; p + 16 <= buf.length;) {
    const caplen = le ? buf.readUInt32LE(p + 8) : buf.readUInt32BE(p + 8);
    blocks.push({ start: p, end: p + 16 + caplen, isPacket: true });
    p += 16 + caplen;
  }
  return { header: 24, blocks };
}

export interface ReadResult {
  /** Per packet: seconds.nanoseconds, lengths, MD5 of the bytes, interface, comment. */
  packets: string[];
  error: CaptureFormatError | null;
  /** Thrown by openCapture (file too short for its header). */
  openError: Error | null;
}

/** Reads a whole file with the given chunk size. Never throws: opening errors are returned. */
export function readSummary(path: string, chunk?: number): ReadResult {
  let r;
  try {
    r = openCapture(path, chunk);
  } catch (e) {
    return { packets: [], error: null, openError: e as Error };
  }
  const packets: string[] = [];
  try {
    for (let p = r.next(); p; p = r.next()) {
      const md5 = createHash('md5').update(p.data.subarray(p.offset, p.offset + p.caplen)).digest('hex');
      packets.push(`${p.index} ${p.tsSec}.${p.tsNsec} ${p.caplen}/${p.origLen} ${md5} if${p.interfaceId} lt${p.linkType} @${p.fileOffset} ${p.comment ?? ''}`);
    }
  } finally {
    r.close();
  }
  return { packets, error: r.error, openError: null };
}
