import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tsharkOutput } from '../helpers/captures.js';

const run = promisify(execFile);

/**
 * `tshark -T fields` run asynchronously (so a test can keep two tshark processes busy),
 * under the same exit policy as tshark() (test/helpers/captures.ts: damaged files count, any
 * other failure throws).
 */
export async function tsharkRows(file: string, fields: string[], extra: string[] = []): Promise<string[][]> {
  const args = ['-r', file, '-n', ...extra, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of fields) args.push('-e', f);
  let out: string;
  try {
    const r = await run('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
    out = tsharkOutput(args, 0, r.stdout, r.stderr);
  } catch (e) {
    const x = e as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof x.code !== 'number' || typeof x.stdout !== 'string') throw e;
    out = tsharkOutput(args, x.code, x.stdout, x.stderr ?? '');
  }
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}

/** Per-record facts tshark sees in a file: time, lengths, MD5 of the captured bytes, interface. */
export const FRAME_FIELDS = ['frame.encap_type', 'frame.time_epoch', 'frame.len', 'frame.cap_len', 'frame.md5_hash'];
export const MD5 = ['-o', 'frame.generate_md5_hash:TRUE'];

/**
 * tshark also lists pcapng Custom Blocks (and other non-packet records it keeps, e.g. in
 * pcapng-bigendian-all-blocks.pcapng) as frames: they have no encapsulation type (and no
 * interface). Packets always have one, so that is the filter (docs/engine-vs-tshark.md).
 * Column 0 must be frame.encap_type.
 */
export function packetRows(rows: string[][]): string[][] {
  return rows.filter((r) => r[0] !== '');
}

/** Runs jobs with at most `n` in flight. */
export async function pool<T>(items: T[], n: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await job(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}
