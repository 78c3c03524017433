import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
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
  // Tapscope recognises h2c by its preface; tshark needs the port.
  if (name === 'http2-cleartext-hpack-headers-port3000.pcapng') return { tshark: ['-d', 'tcp.port==3000,http2'], tapscope: [] };
  return { tshark: [], tapscope: [] };
}

/**
 * tshark's messages for a damaged capture (wiretap's "bad file" and "short read" errors):
 * it prints every packet it could read, then exits with status 2 and one of these.
 */
const DAMAGED_FILE = /appears to be damaged or corrupt|appears to have been cut short in the middle of a packet/;

/**
 * Files (by name) on which tshark prints no packet at all, each with the reason. Reading any
 * other file without a display filter must print at least one packet: zero rows from a
 * mistyped option or an unreadable file would make every comparison with them pass.
 */
export const TSHARK_EMPTY: Record<string, string> = {};

/**
 * The one policy for a finished tshark run: its stdout when it exited 0, or exited 2 on a
 * damaged file (what it read before the damage still counts); anything else (a bad option,
 * an unknown field, a missing file, a bad filter) throws with tshark's message. A run that
 * reads a file without a display filter and prints nothing throws unless TSHARK_EMPTY lists it.
 */
export function tsharkOutput(args: string[], status: number | null, stdout: string, stderr: string): string {
  const damaged = status === 2 && DAMAGED_FILE.test(stderr);
  if (status !== 0 && !damaged) throw new Error(`tshark ${args.join(' ')} exited ${status}: ${stderr.replace(/^Running as user.*\n/m, '').trim()}`);
  const file = args[args.indexOf('-r') + 1];
  const filtered = args.includes('-Y') || args.includes('-R');
  if (args.includes('-r') && !filtered && stdout === '' && !TSHARK_EMPTY[basename(file)]) {
    throw new Error(`tshark printed no packet for ${file}${damaged ? ' (damaged file)' : ''}: add it to TSHARK_EMPTY with the reason if that is expected`);
  }
  return stdout;
}

/** Runs tshark and returns its stdout, under the tsharkOutput policy. */
export function tshark(args: string[]): string {
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  return tsharkOutput(args, r.status, r.stdout, r.stderr);
}

/** `tshark -r FILE -T fields -e ...` as rows of columns (tab separated, "" for absent). */
export function tsharkFields(file: string, fields: string[], extra: string[] = []): string[][] {
  const args = ['-r', file, '-n', ...extra, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of fields) args.push('-e', f);
  const out = tshark(args);
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}
