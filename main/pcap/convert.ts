import { openCapture } from './reader.js';
import { openCaptureWriter, type CaptureFormat } from './writer.js';
import type { CaptureFormatError } from './record.js';

export interface ConvertResult {
  packets: number;
  bytes: number;
  /** The source was damaged: every packet before the damage was written. */
  error: CaptureFormatError | null;
}

/**
 * Copies a capture into another format (or the same one), atomically: packet bytes,
 * lengths, timestamps, interfaces (names, descriptions, resolutions) and comments (pcapng)
 * carry over. pcap output keeps timestamps to its resolution (ns when any source interface
 * is finer than µs, unless `nanos` says otherwise).
 */
export function convertCapture(src: string, dst: string, format: CaptureFormat, nanos?: boolean): ConvertResult {
  const reader = openCapture(src);
  try {
    // The first packet brings the first section's header and interfaces with it.
    let r = reader.next();
    const w = openCaptureWriter(dst, {
      format,
      atomic: true,
      nanos,
      interfaces: reader.interfaces,
      sectionComments: reader.comments.filter((c) => c.packet === null).map((c) => c.text),
    });
    let known = reader.interfaces.length;
    try {
      for (; r; r = reader.next()) {
        while (known < reader.interfaces.length) w.addInterface(reader.interfaces[known++]);
        w.write(r);
      }
      while (known < reader.interfaces.length) w.addInterface(reader.interfaces[known++]);
      w.close();
    } catch (e) {
      w.abort();
      throw e;
    }
    return { packets: w.packets, bytes: w.bytesWritten, error: reader.error };
  } finally {
    reader.close();
  }
}
