import { openCapture } from '../pcap/reader.js';
import { PcapngReader } from '../pcap/pcapng.js';
import { CaptureFormatError } from '../pcap/record.js';
import { AnalysisSession, type FileOfReport, type SessionOptions } from './session.js';
import type { CaptureReader } from '../pcap/reader.js';
import type { AnalysisReport } from './report.js';

export interface AnalyzeFileOptions extends SessionOptions {
  /** Called now and then with bytes read and file size. */
  onProgress?: (bytesRead: number, size: number) => void;
  /** Checked between packets; reading stops (with partial results) when it aborts. */
  signal?: AbortSignal;
  /** False: `report.connections` left empty, for a writer that streams them (engine/report-json.ts). */
  withConnections?: boolean;
  /** False: `report.http` left empty, for a writer that streams it from the exchange store. */
  withHttp?: boolean;
  /** NSS key logs (SSLKEYLOGFILE text) for TLS decryption; `source` names each in warnings. */
  keyLogs?: { text: string; source: string }[];
  /** Analyse only the records (0-based, in file order) this keeps (`analyze -Y`); the others are read and skipped. */
  keep?: (record: number) => boolean;
}

export interface AnalyzeFileResult {
  report: AnalysisReport;
  session: AnalysisSession;
  /** Set when the file is damaged: everything before the damage was analysed. */
  error: CaptureFormatError | null;
  cancelled: boolean;
}

const PROGRESS_EVERY = 8192;

/** Reads a capture file start to end through an AnalysisSession. Throws only when the file cannot be opened at all. */
export function analyzeFile(path: string, opts: AnalyzeFileOptions = {}): AnalyzeFileResult {
  const reader = openCapture(path);
  const session = new AnalysisSession(opts);
  useKeys(session, reader, opts.keyLogs ?? []);
  let cancelled = false;
  try {
    let n = 0;
    const keep = opts.keep;
    for (let r = reader.next(); r; r = reader.next()) {
      if (!keep || keep(n)) session.feed(r);
      if (++n % PROGRESS_EVERY === 0) {
        opts.onProgress?.(reader.bytesRead, reader.size);
        if (opts.signal?.aborted) {
          cancelled = true;
          break;
        }
      }
    }
    finishFile(session, reader);
    opts.onProgress?.(reader.bytesRead, reader.size);
    if (cancelled) session.warnings.push({ packet: null, offset: reader.bytesRead, message: 'reading was cancelled; results cover the part read' });
    const report = session.report(fileOfReport(path, reader), opts.withConnections ?? true, opts.withHttp ?? true);
    return { report, session, error: reader.error, cancelled };
  } finally {
    reader.close();
  }
}

/** The key logs, and the pcapng Decryption Secrets Blocks as the reader reaches them, for the session's TLS and QUIC decryption. */
export function useKeys(session: AnalysisSession, reader: CaptureReader, keyLogs: { text: string; source: string }[]): void {
  for (const k of keyLogs) session.app.keys.addText(k.text, k.source);
  if (reader instanceof PcapngReader) reader.onDecryptionSecrets = (type, data) => session.app.keys.addDecryptionSecrets(type, data);
}

/** End of the file: the session's last steps, then `warnings` (key log problems), then the reader's (bad secrets blocks, damage). */
export function finishFile(session: AnalysisSession, reader: CaptureReader, warnings: string[] = []): void {
  session.finish();
  for (const message of warnings) session.warnings.push({ packet: null, offset: null, message });
  if (reader instanceof PcapngReader) for (const message of reader.badSecretsBlocks) session.warnings.push({ packet: null, offset: null, message });
  if (reader.error) session.warnings.push({ packet: reader.error.packet + 1, offset: reader.error.offset, message: reader.error.message });
}

export function fileOfReport(path: string, reader: CaptureReader): FileOfReport {
  return { path, format: reader.format, interfaces: reader.interfaces, comments: reader.comments };
}
