import { spawnSync } from 'node:child_process';
import { runAnalysis } from '../../main/engine/analyze-worker.js';
import { SessionData } from '../../main/services/session-data.js';
import { PacketReader } from '../../main/services/packets.js';
import { PacketFilter } from '../../main/services/packet-filter.js';
import { capture, decodeAsFor, tsharkOutput } from '../helpers/captures.js';
import { FilterContext } from '../../main/filter/index.js';
import { sessionKeyLog } from '../../main/decrypt/inject-secrets.js';
import type { KeyLog } from '../../main/decrypt/key-log.js';

/*
 * Both sides of a display-filter comparison: the packet numbers tshark -Y prints, and the
 * ones Tapscope's filter keeps over the same capture (analysed once per file, in-process).
 */

/** A corpus capture analysed in-process, with its reader and a prepared filter context (close the reader). */
export function openCorpus(name: string): { data: SessionData; reader: PacketReader; ctx: FilterContext } {
  const path = capture(name);
  const decodeAs = decodeAsFor(name).tapscope;
  const data = new SessionData(name, path);
  runAnalysis({ kind: 'tapscope-analyze', path, decodeAs, cancel: new SharedArrayBuffer(4) }, (m) => data.apply(m));
  const reader = new PacketReader(data, decodeAs);
  // The capture's own TLS keys (pcapng DSBs), which tshark reads too; read once, when a TLS connection needs them.
  let keys: KeyLog | null | undefined;
  reader.keys = () => (keys ??= data.format === 'pcapng' ? sessionKeyLog(path, []).keys : null);
  const ctx = new FilterContext({
    index: data.index, decode: (i) => reader.decode(i), interfaceId: (i) => (data.format === 'pcapng' ? reader.record(i).interfaceId : -1),
    keys: () => reader.keys?.() ?? null,
  }).prepare();
  return { data, reader, ctx };
}

const loaded = new Map<string, { data: SessionData; filter: PacketFilter; all: number[] }>();

function load(name: string): { data: SessionData; filter: PacketFilter; all: number[] } {
  let l = loaded.get(name);
  if (!l) {
    const { data, reader } = openCorpus(name);
    l = { data, filter: new PacketFilter(data, reader), all: Array.from({ length: data.index.length }, (_, i) => i) };
    loaded.set(name, l);
  }
  return l;
}

/** 1-based numbers of the packets Tapscope's display filter keeps. */
export function tapscopeMatches(name: string, filter: string): number[] {
  const l = load(name);
  return l.filter.apply(l.all, filter).map((i) => i + 1);
}

/** 1-based numbers tshark -Y prints (Decode As as the corpus needs; two passes so analysis flags are final). */
export function tsharkMatches(name: string, filter: string): number[] {
  const args = ['-r', capture(name), '-n', ...decodeAsFor(name).tshark, '-Y', filter, '-T', 'fields', '-e', 'frame.number'];
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  return tsharkOutput(args, r.status, r.stdout, r.stderr).split('\n').filter(Boolean).map(Number);
}
