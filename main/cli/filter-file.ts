import { runAnalysis } from '../engine/analyze-worker.js';
import { SessionData } from '../services/session-data.js';
import { PacketReader } from '../services/packets.js';
import { PacketFilter } from '../services/packet-filter.js';
import { compileDisplayFilter, describeFilterError } from '../filter/index.js';
import { sessionKeyLog } from '../decrypt/inject-secrets.js';
import type { KeyLog } from '../decrypt/key-log.js';

/**
 * A display filter over a whole file, for the CLI (`packets -Y`, `analyze -Y`): the file is
 * indexed in-process, the filter runs over the index. Returns the session (its reader open:
 * close it) and the 0-based indices kept, or an exit status after writing why to `err`:
 * 2 for a broken filter (message and caret), 1 for a file that cannot be read.
 */
export function filterFile(path: string, filterText: string | null, decodeAs: string[], err: NodeJS.WritableStream, firstN = Infinity):
  { data: SessionData; reader: PacketReader; matches: number[]; packets: number } | number {
  if (filterText !== null) {
    const r = compileDisplayFilter(filterText);
    if (!r.ok) {
      err.write(`tapscope: ${describeFilterError(filterText, r.error)}\n`);
      return 2;
    }
  }
  const data = new SessionData('cli', path);
  try {
    runAnalysis({ kind: 'tapscope-analyze', path, decodeAs, cancel: new SharedArrayBuffer(4) }, (m) => data.apply(m));
  } catch (e) {
    err.write(`tapscope: cannot read ${path}: ${(e as Error).message}\n`);
    return 1;
  }
  if (data.state === 'failed') {
    err.write(`tapscope: cannot read ${path}: ${data.message}\n`);
    return 1;
  }
  const reader = new PacketReader(data, decodeAs);
  // The capture's own TLS keys (pcapng DSBs) label decrypted HTTP/HTTP2 rows, as in the app; read once, when a TLS connection needs them.
  let keys: KeyLog | null | undefined;
  reader.keys = () => (keys ??= data.format === 'pcapng' ? sessionKeyLog(path, []).keys : null);
  const all: number[] = [];
  for (let i = 0; i < Math.min(data.index.length, firstN); i++) all.push(i);
  return { data, reader, matches: new PacketFilter(data, reader).apply(all, filterText), packets: data.index.length };
}
