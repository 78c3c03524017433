import { analyzeFile } from '../engine/analyze-file.js';
import { writeReportJsonBytes } from '../engine/report-json.js';
import { parseDecodeAs, type DecodeAs } from '../decode/decoder.js';
import type { AnalysisReport } from '../engine/report.js';
import { linkTypeName } from '../pcap/link-types.js';
import { parseArgs, UsageError, type ParsedArgs } from './args.js';
import { readFileSync } from 'node:fs';
import { parseCommunityIdSeed, reseedCommunityIds } from '../flows/community-id.js';
import { addAlerts } from '../ids/analyze-alerts.js';
import { filterFile } from './filter-file.js';
import { analyzeFileSplit, appStageWorkerFile, shouldSplit, SplitNotStarted, type SplitOptions } from '../engine/split-analysis.js';
import type { CaptureFormatError } from '../pcap/record.js';

/** `-Y`: a mask of the records the filter keeps, or the exit status of a broken filter or unreadable file. */
function matchingPackets(path: string, filterText: string, decodeAs: string[], err: NodeJS.WritableStream): Uint8Array | number {
  const r = filterFile(path, filterText, decodeAs, err);
  if (typeof r === 'number') return r;
  r.reader.close();
  const mask = new Uint8Array(r.packets);
  for (const i of r.matches) mask[i] = 1;
  return mask;
}

export const ANALYZE_USAGE = `tapscope analyze <file> [--json] [-Y FILTER] [--decode udp:PORT=PROTO]...
  Analyse a pcap/pcapng file. --json prints one JSON document on stdout.
  -Y FILTER  analyse only the packets matching a Wireshark display filter (docs/display-filters.md).
  --decode udp:31337=tzsp decodes that UDP port as the protocol (vxlan, geneve, tzsp, none).
  --community-id-seed N  seed of connections[].communityId (Community ID v1; default 0).
  --alerts eve.json  join Suricata EVE alerts to the connections (JSON "alerts", findings ids.alert).
  --keylog FILE  NSS key log (SSLKEYLOGFILE) to decrypt TLS with; repeatable. Keys in pcapng DSBs are always used.
  Exit status: 0 ok, 1 usage or unreadable file, 2 damaged file (partial results printed).`;

/** Runs `tapscope analyze`; returns the exit status. */
export function runAnalyze(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): number | Promise<number> {
  const args = parseArgs(argv, ['decode', 'community-id-seed', 'keylog', 'alerts', 'Y']);
  for (const f of args.flags) if (f !== 'json' && f !== 'help' && f !== 'h') throw new UsageError(`unknown option --${f}`);
  if (args.flags.has('help') || args.flags.has('h')) {
    out.write(ANALYZE_USAGE + '\n');
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError('analyze needs exactly one capture file');
  const decodeAs = (args.options.get('decode') ?? []).map(parseDecodeAs);
  const path = args.positionals[0];
  const seedArg = args.options.get('community-id-seed');
  const seed = seedArg ? parseCommunityIdSeed(seedArg[seedArg.length - 1]) : 0;
  const keyLogs: { text: string; source: string }[] = [];
  for (const k of args.options.get('keylog') ?? []) {
    try {
      keyLogs.push({ text: readFileSync(k, 'utf8'), source: k });
    } catch (e) {
      err.write(`tapscope: cannot read key log ${k}: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const filterText = args.options.get('Y')?.at(-1) ?? null;
  let keep: ((record: number) => boolean) | undefined;
  if (filterText !== null) {
    const m = matchingPackets(path, filterText, args.options.get('decode') ?? [], err);
    if (typeof m === 'number') return m;
    keep = (n) => n < m.length && m[n] === 1;
  }
  const oneThread = (): number => analyzeOneThread(path, args, { decodeAs, keyLogs, keep, seed }, out, err);
  if (args.flags.has('json') && !keep && !args.options.has('alerts')) {
    const workerFile = appStageWorkerFile(import.meta.url);
    if (workerFile && shouldSplit(path)) {
      const eachConnection = seed !== 0 ? (c: Record<string, unknown>) => reseedCommunityIds([c], seed) : undefined;
      return analyzeSplit(path, { decodeAs, decodeAsText: args.options.get('decode') ?? [], keyLogs, workerFile, eachConnection }, out, err, oneThread);
    }
  }
  return oneThread();
}

function analyzeOneThread(
  path: string,
  args: ParsedArgs,
  o: { decodeAs: DecodeAs[]; keyLogs: { text: string; source: string }[]; keep?: (record: number) => boolean; seed: number },
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): number {
  const { decodeAs, keyLogs, keep, seed } = o;
  let result;
  try {
    // --json streams the connections from the columns (engine/report-json.ts) unless a step below needs them as objects.
    const asObjects = !args.flags.has('json') || args.options.has('alerts');
    result = analyzeFile(path, { decodeAs, keyLogs, keep, withConnections: asObjects, withHttp: asObjects });
  } catch (e) {
    err.write(`tapscope: cannot read ${path}: ${(e as Error).message}\n`);
    return 1;
  }
  if (seed !== 0) reseedCommunityIds(result.report.connections, seed);
  const eve = args.options.get('alerts')?.at(-1);
  if (!addAlerts(result.report, eve ?? null, err, result.session)) return 1;
  if (args.flags.has('json')) {
    writeReportJsonBytes(result.report, result.session.connections, (chunk) => out.write(chunk), seed !== 0 ? (c) => reseedCommunityIds([c], seed) : undefined, result.session.app.http);
  } else out.write(humanSummary(result.report));
  return damageStatus(path, result.error, result.report.file.packets, err);
}

function damageStatus(path: string, error: CaptureFormatError | null, packets: number, err: NodeJS.WritableStream): number {
  if (!error) return 0;
  err.write(`tapscope: ${path} is damaged: ${error.message}; the results cover the ${packets} packet(s) before it\n`);
  return 2;
}

/** `analyze --json` on two threads (engine/split-analysis.ts); in one thread when the second could not start. */
async function analyzeSplit(path: string, opts: SplitOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream, oneThread: () => number): Promise<number> {
  try {
    const r = await analyzeFileSplit(path, opts, (chunk) => out.write(chunk));
    return damageStatus(path, r.error, r.packets, err);
  } catch (e) {
    if (!(e instanceof SplitNotStarted)) {
      err.write(`tapscope: cannot read ${path}: ${(e as Error).message}\n`);
      return 1;
    }
    err.write(`tapscope: the two-thread analysis could not run (${e.message.split('\n')[0]}); analysing in one thread\n`);
    return oneThread();
  }
}

function fmtTime(ts: number | null): string {
  return ts === null ? '-' : new Date(ts * 1000).toISOString();
}

export function humanSummary(r: AnalysisReport): string {
  const f = r.file;
  const lines: string[] = [];
  const dur = f.firstTs !== null && f.lastTs !== null ? (f.lastTs - f.firstTs).toFixed(3) : '0';
  lines.push(`${f.path} (${f.format}, ${f.linkTypes.map(linkTypeName).join(', ') || 'no packets'})`);
  lines.push(`  ${f.packets} packets, ${f.bytes} bytes, ${fmtTime(f.firstTs)} .. ${fmtTime(f.lastTs)} (${dur} s)`);
  for (const t of r.tunnels) {
    lines.push(`  tunnel ${t.type}${t.id !== null ? ` id ${t.id}` : ''}${t.outerSrc ? ` ${t.outerSrc} -> ${t.outerDst}` : ''}: ${t.packets} packets`);
  }
  lines.push(`  ${r.connections.length} connections, ${r.http.length} HTTP exchanges, ${r.dns.length} DNS transactions, ${r.tls.length} TLS handshakes`);
  for (const x of r.findings as { severity: string; summary: string }[]) lines.push(`  [${x.severity}] ${x.summary}`);
  for (const w of r.warnings.slice(0, 20)) lines.push(`  warning: ${w.packet !== null ? `packet ${w.packet}: ` : ''}${w.message}`);
  if (r.warnings.length > 20) lines.push(`  (${r.warnings.length - 20} more warnings; see --json)`);
  return lines.join('\n') + '\n';
}
