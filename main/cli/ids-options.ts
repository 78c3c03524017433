import type { DirFeedOptions } from '../capture/ids-feeds.js';
import { UsageError, type ParsedArgs } from './args.js';

/*
 * The IDS feed options of `tapscope capture` and `tapscope listen` (docs/flows.md "IDS feeds").
 */

export const IDS_OPTIONS = ['ids-dir', 'ids-file-mb', 'ids-file-sec', 'ids-keep', 'keep-hours'] as const;

export const IDS_USAGE = `  IDS feeds: -w - writes the saved packets (with listen --inner: the inner frames, tunnel headers
  removed) as a pcap stream on stdout (status on stderr); a slow reader costs app drops, never
  blocks. --ids-dir DIR: closed pcap files for suricata -r DIR --pcap-file-continuous, a new one
  every --ids-file-mb MB (default 100) or --ids-file-sec SEC (default 60), --ids-keep N files
  kept (default 60). --keep-hours H with --ring: spool files older than H hours are deleted.
  --alerts eve.json: follow Suricata's growing eve.json; its alerts are joined to the connections
  at the end as analyze --alerts does (JSON "alerts", findings ids.alert).`;

const last = (a: ParsedArgs, k: string) => a.options.get(k)?.at(-1);

function positive(a: ParsedArgs, k: string, def: number): number {
  const v = last(a, k);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`bad --${k} "${v}": expected a positive number`);
  return n;
}

export function idsDirOptions(a: ParsedArgs): DirFeedOptions | null {
  const dir = last(a, 'ids-dir');
  for (const k of ['ids-file-mb', 'ids-file-sec', 'ids-keep']) if (!dir && last(a, k) !== undefined) throw new UsageError(`--${k} needs --ids-dir DIR`);
  if (!dir) return null;
  const keep = positive(a, 'ids-keep', 60);
  if (!Number.isInteger(keep)) throw new UsageError(`bad --ids-keep "${last(a, 'ids-keep')}": expected a whole number of files`);
  return { dir, fileMB: positive(a, 'ids-file-mb', 100), fileSec: positive(a, 'ids-file-sec', 60), keep };
}

/** --keep-hours (only with a ring: the spool must be in files to drop the old ones). */
export function keepHours(a: ParsedArgs, hasRing: boolean): number | undefined {
  const v = last(a, 'keep-hours');
  if (v === undefined) return undefined;
  if (!hasRing) throw new UsageError('--keep-hours needs --ring FILES:MB (the spool is deleted a whole file at a time)');
  return positive(a, 'keep-hours', 0);
}

/** `-w -` streams pcap to stdout: nothing else may go there. */
export function checkStreamOutput(a: ParsedArgs): boolean {
  if (last(a, 'w') !== '-') return false;
  for (const f of ['json', 'summary']) if (a.flags.has(f)) throw new UsageError(`--${f} prints to stdout, which -w - uses for the pcap stream`);
  if (last(a, 'ring') !== undefined) throw new UsageError('--ring rotates files; -w - is a stream (use --ids-dir for rotating files)');
  return true;
}
