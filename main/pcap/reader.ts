import { ChunkedFile } from './chunked-file.js';
import { PcapReader, PCAP_MAGIC_NS, PCAP_MAGIC_US } from './pcap.js';
import { PcapngReader, BT_SHB } from './pcapng.js';
import { CaptureFormatError, type CaptureComment, type CaptureInterface, type PacketRecord } from './record.js';

/** A pull reader over a capture file: `next()` until null, then look at `error`. */
export interface CaptureReader {
  readonly format: 'pcap' | 'pcapng';
  readonly interfaces: CaptureInterface[];
  readonly comments: CaptureComment[];
  /** Set when reading stopped at damage; every complete packet before it was returned. */
  error: CaptureFormatError | null;
  readonly bytesRead: number;
  readonly size: number;
  next(): PacketRecord | null;
  close(): void;
}

/** Opens a pcap or pcapng file by its magic number. Throws CaptureFormatError or an fs error. */
export function openCapture(path: string, chunkSize?: number): CaptureReader {
  const file = new ChunkedFile(path, chunkSize);
  try {
    if (!file.ensure(4)) throw new CaptureFormatError('file is empty or too short to be a capture', 0, 0);
    const le = file.view.getUint32(0, true);
    const be = file.view.getUint32(0, false);
    if (le === BT_SHB) return new PcapngReader(file);
    if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS || be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) return new PcapReader(file);
    throw new CaptureFormatError(`not a pcap or pcapng file (magic 0x${be.toString(16).padStart(8, '0')})`, 0, 0);
  } catch (e) {
    file.close();
    throw e;
  }
}
