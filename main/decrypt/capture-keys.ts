import { readFileSync } from 'node:fs';
import { PcapngReader } from '../pcap/pcapng.js';
import type { CaptureReader } from '../pcap/reader.js';
import type { KeyLog } from './key-log.js';

/** Largest key log file read (a browser session's log is a few hundred KB). */
const MAX_KEY_LOG_BYTES = 64 * 1024 * 1024;

/**
 * The secrets a session decrypts with: the pcapng Decryption Secrets Blocks of the capture
 * (added as the reader reaches them), and key log files. A file that cannot be read is a
 * warning message, returned, never an exception.
 */
export function useCaptureSecrets(reader: CaptureReader, keys: KeyLog): void {
  if (reader instanceof PcapngReader) reader.onDecryptionSecrets = (type, data) => keys.addDecryptionSecrets(type, data);
}

/** Damaged DSBs the reader skipped, as report warnings. */
export function secretsWarnings(reader: CaptureReader): string[] {
  return reader instanceof PcapngReader ? reader.badSecretsBlocks : [];
}

export function loadKeyLogFiles(paths: string[], keys: KeyLog): string[] {
  const problems: string[] = [];
  for (const p of paths) {
    try {
      const buf = readFileSync(p);
      if (buf.length > MAX_KEY_LOG_BYTES) {
        problems.push(`key log ${p} is larger than ${MAX_KEY_LOG_BYTES} bytes; not read`);
        continue;
      }
      keys.addText(buf.toString('utf8'), p);
    } catch (e) {
      problems.push(`cannot read key log ${p}: ${(e as Error).message}`);
    }
  }
  return problems;
}
