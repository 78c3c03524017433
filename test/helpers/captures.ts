import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The shared capture corpus, beside the repository (CI lays it out the same way). */
export const CAPTURES_DIR = resolve(REPO_ROOT, '..', 'shared', 'captures');

export function capture(name: string): string {
  return join(CAPTURES_DIR, name);
}

export function allCaptures(): string[] {
  return readdirSync(CAPTURES_DIR).filter((f) => /\.(pcap|pcapng)$/.test(f)).sort();
}

/** Decode-As settings a capture needs (documented in the corpus MANIFEST). */
export function decodeAsFor(name: string): { tshark: string[]; tapscope: string[] } {
  if (name === 'tzsp-http-udp31337.pcapng') return { tshark: ['-d', 'udp.port==31337,tzsp'], tapscope: ['udp:31337=tzsp'] };
  return { tshark: [], tapscope: [] };
}

/**
 * Runs tshark and returns its stdout. Damaged files make tshark exit non-zero after
 * printing what it could read; that output is still returned.
 */
export function tshark(args: string[]): string {
  try {
    return execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const out = (e as { stdout?: string }).stdout;
    if (typeof out === 'string') return out;
    throw e;
  }
}

/** `tshark -r FILE -T fields -e ...` as rows of columns (tab separated, "" for absent). */
export function tsharkFields(file: string, fields: string[], extra: string[] = []): string[][] {
  const args = ['-r', file, '-n', ...extra, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of fields) args.push('-e', f);
  const out = tshark(args);
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}
