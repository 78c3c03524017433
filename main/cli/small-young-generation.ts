import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';

/*
 * `tapscope analyze` of a big capture runs with a small V8 young generation
 * (--max-semi-space-size=4, in MB). Its live JS heap is small (the analysis lives in typed
 * columns), and V8's default semi-spaces held up to ~35 MB of garbage the scavenger had not
 * yet collected: at 200,000 connections peak RSS 321 -> 286 MB for the same CPU time (README
 * "Performance"). The flag only acts when the process starts, so the CLI starts itself again
 * with it (once: the flag in execArgv stops it) and passes its exit status or signal on.
 */

const BIG_CAPTURE_BYTES = 64 * 1024 * 1024;
const FLAG = '--max-semi-space-size=4';

/** The exit status of the re-run, or null to go on in this process (small files, other commands, flag already set). */
export function rerunWithSmallYoungGeneration(argv: string[], script: string | undefined): number | null {
  if (argv[0] !== 'analyze' || !script || process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) return null;
  if (process.env.TAPSCOPE_KEEP_HEAP_DEFAULTS === '1') return null;
  if (!argv.slice(1).some(isBigFile)) return null;
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
