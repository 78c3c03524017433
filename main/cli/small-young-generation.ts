import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { openCapture } from '../pcap/reader.js';

/*
 * `tapscope analyze` of a big capture runs with a small V8 young generation
 * (--max-semi-space-size=4, in MB). Its live JS heap is small (the analysis lives in typed
 * columns), and V8's default semi-spaces held up to ~35 MB of garbage the scavenger had not
 * yet collected: at 200,000 connections peak RSS 321 -> 286 MB for the same CPU time (README
 * "Performance"). The flag only acts when the process starts, so the CLI starts itself again
 * with it (once: the flag in execArgv stops it) and passes its exit status or signal on.
 * Only for captures of small packets (many short connections, where the memory goes): on a
 * bulk transfer (full-size segments) the memory is small anyway and the smaller young
 * generation cost ~15 % of the time (1.24-1.29 s against 1.06-1.12 s on the 1 GB bench file).
 */

const BIG_CAPTURE_BYTES = 64 * 1024 * 1024;
/** Records looked at to tell many small packets from a bulk transfer. */
const SAMPLE_RECORDS = 20_000;
/** Mean wire length below which a capture counts as small packets (a bulk transfer's is near the MTU). */
const SMALL_PACKET_BYTES = 600;
const FLAG = '--max-semi-space-size=4';

/** The exit status of the re-run, or null to go on in this process (small files, other commands, flag already set). */
export function rerunWithSmallYoungGeneration(argv: string[], script: string | undefined): number | null {
  if (argv[0] !== 'analyze' || !script || process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) return null;
  if (process.env.TAPSCOPE_KEEP_HEAP_DEFAULTS === '1') return null;
  if (!argv.slice(1).some((a) => isBigFile(a) && meanPacketBytes(a) < SMALL_PACKET_BYTES)) return null;
  const r = spawnSync(process.execPath, [...process.execArgv, FLAG, script, ...argv], { stdio: 'inherit' });
  if (r.error) return null; // could not start: analyse here
  if (r.signal) {
    process.kill(process.pid, r.signal);
    return 1;
  }
  return r.status ?? 1;
}

function isBigFile(arg: string): boolean {
  if (arg.startsWith('-')) return false;
  try {
    const st = statSync(arg);
    return st.isFile() && st.size >= BIG_CAPTURE_BYTES;
  } catch {
    return false;
  }
}

/** Mean wire length of the first SAMPLE_RECORDS records (Infinity when the file cannot be read). */
function meanPacketBytes(path: string): number {
  let reader;
  try {
    reader = openCapture(path);
  } catch {
    return Infinity;
  }
  try {
    let n = 0;
    let bytes = 0;
    for (let r = reader.next(); r && n < SAMPLE_RECORDS; r = reader.next()) {
      n++;
      bytes += r.origLen;
    }
    return n === 0 ? Infinity : bytes / n;
  } finally {
    reader.close();
  }
}
