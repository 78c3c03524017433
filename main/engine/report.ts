import type { CaptureComment, CaptureInterface } from '../pcap/record.js';
import type { TunnelType } from '../decode/frame.js';

/** The `tapscope analyze --json` document. Stable: scripts depend on it (README "JSON output"). */
export interface AnalysisReport {
  file: FileSummary;
  warnings: Warning[];
  tunnels: TunnelSummary[];
  connections: unknown[];
  http: unknown[];
  dns: unknown[];
  tls: unknown[];
  /** One entry per QUIC connection (README "JSON output", docs/quic.md). */
  quic: unknown[];
  findings: unknown[];
  /** IDS alerts joined to the connections (main/ids/eve.ts); `analyze` always sets it ([] without --alerts). */
  alerts?: unknown[];
}

export interface FileSummary {
  path: string;
  format: 'pcap' | 'pcapng';
  linkTypes: number[];
  packets: number;
  /** Sum of original (wire) lengths. */
  bytes: number;
  firstTs: number | null;
  lastTs: number | null;
  interfaces: CaptureInterface[];
  comments: CaptureComment[];
}

export interface Warning {
  packet: number | null;
  offset: number | null;
  message: string;
}

export interface TunnelSummary {
  type: TunnelType;
  id: number | null;
  outerSrc: string | null;
  outerDst: string | null;
  packets: number;
}
