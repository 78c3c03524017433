import { closeSync, openSync, writeSync } from 'node:fs';
import type { CaptureInterface } from '../pcap/record.js';
import { BT_IDB, BT_SHB, BYTE_ORDER_MAGIC, IF_TSRESOL } from '../pcap/pcapng.js';
import type { PacketReader } from './packets.js';
import { saveCapture, type WriteRecord } from '../pcap/writer.js';
import { decryptionSecretsBlock } from '../decrypt/inject-secrets.js';

/*
 * Saving a subset of a capture (a connection, a filtered view) in the file's own format
 * copies each packet's record byte for byte from the source, so nothing is lost or
 * re-encoded: timestamps, comments and options of pcapng packet blocks stay as they were.
 * pcapng output gets a fresh section header and one interface block per interface of the
 * source (its ids are kept, so the copied packet blocks still point at the right one).
 * Saving in the other format goes through the capture writer (main/pcap/writer.ts).
 */

export class NotAvailableError extends Error {
  override name = 'NotAvailableError';
}

function pcapngHeader(interfaces: CaptureInterface[], le: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  // SHB: type, len=28, magic, major 1, minor 0, section length -1, len.
  const shb = new DataView(new ArrayBuffer(28));
  shb.setUint32(0, BT_SHB, le);
  shb.setUint32(4, 28, le);
  shb.setUint32(8, BYTE_ORDER_MAGIC, le);
  shb.setUint16(12, 1, le);
  shb.setUint16(14, 0, le);
  shb.setInt32(16, -1, le);
  shb.setInt32(20, -1, le);
  shb.setUint32(24, 28, le);
  parts.push(new Uint8Array(shb.buffer));
  for (const i of interfaces) {
    // if_tsresol: 10^-n (bit 7 clear) or 2^-n (bit 7 set); omitted for the default µs.
    let resol = -1;
    if (i.tsUnitsPerSec !== 1e6) {
      const dec = Math.round(Math.log10(i.tsUnitsPerSec));
      resol = 10 ** dec === i.tsUnitsPerSec ? dec : 0x80 | Math.round(Math.log2(i.tsUnitsPerSec));
    }
    const len = 20 + (resol >= 0 ? 8 + 4 : 0);
    const v = new DataView(new ArrayBuffer(len));
    v.setUint32(0, BT_IDB, le);
    v.setUint32(4, len, le);
    v.setUint16(8, i.linkType, le);
    v.setUint32(12, i.snaplen, le);
    if (resol >= 0) {
      v.setUint16(16, IF_TSRESOL, le);
      v.setUint16(18, 1, le);
      v.setUint8(20, resol);
      // option padded to 4 bytes, then opt_endofopt (4 zero bytes)
    }
    v.setUint32(len - 4, len, le);
    parts.push(new Uint8Array(v.buffer));
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Writes the packets at `indices` (0-based packet numbers) to `path`. `secrets`: a TLS key log
 * to embed as a Decryption Secrets Block ahead of the packets (pcapng only; inject-secrets.ts).
 */
export function savePackets(reader: PacketReader, indices: number[], interfaces: CaptureInterface[], format: 'pcap' | 'pcapng', path: string, secrets: string | null = null): { packets: number; bytes: number } {
  if (secrets !== null && format !== 'pcapng') throw new NotAvailableError('keys can be embedded in pcapng files only');
  const src = reader.sourceFile;
  if (src.format !== format) {
    // Another format: decode each record and re-encode it with the capture writer.
    function* records(): Generator<WriteRecord> {
      for (const i of indices) yield reader.record(i);
    }
    const ifaces = interfaces.length ? interfaces : [{ id: 0, linkType: 1, snaplen: 262144, name: null, description: null, tsUnitsPerSec: 1e6 }];
    return saveCapture(path, records(), { format, interfaces: ifaces, decryptionSecrets: secrets ? [decryptionSecretsBlock(secrets, true)] : [] });
  }
  const fd = openSync(path, 'w');
  let bytes = 0;
  try {
    const header = format === 'pcap' ? src.pcapHeader! : pcapngHeader(interfaces, src.littleEndian);
    writeSync(fd, header);
    bytes += header.length;
    if (secrets) {
      const dsb = decryptionSecretsBlock(secrets, src.littleEndian);
      writeSync(fd, dsb);
      bytes += dsb.length;
    }
    for (const i of indices) {
      const rec = reader.raw(i);
      writeSync(fd, rec);
      bytes += rec.length;
    }
  } finally {
    closeSync(fd);
  }
  return { packets: indices.length, bytes };
}
