import { parseDecodeAs } from '../decode/decoder.js';
import { parseCommunityIdSeed } from '../flows/community-id.js';
import { flowsOfFile, parseCollector, sendDatagrams, writeMessages, type Collector } from '../flows/flow-export.js';
import type { FlowRecord } from '../flows/flow-records.js';
import { IpfixEncoder } from '../flows/ipfix.js';
import { Netflow9Encoder } from '../flows/netflow9.js';
import { parseArgs, UsageError } from './args.js';

export const FLOWS_USAGE = `tapscope flows <file>... [--ipfix HOST:PORT] [--netflow9 HOST:PORT] [-w OUT.ipfix] [--json]
  Export the TCP/UDP flows of capture files as flow records, one per direction of each
  connection (docs/flows.md): IPFIX (RFC 7011) or NetFlow v9 (RFC 3954) over UDP to a
  collector, or an IPFIX file (RFC 5655). --json prints the records on stdout.
  --community-id-seed N (default 0), --decode udp:PORT=PROTO as for analyze.
  Exit status: 0 ok, 1 usage, unreadable file or export failure, 2 damaged file (its
  records cover the packets before the damage, and were exported).`;

/** Runs `tapscope flows`; returns the exit status. */
export async function runFlows(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const args = parseArgs(argv, ['ipfix', 'netflow9', 'w', 'decode', 'community-id-seed']);
  for (const f of args.flags) if (f !== 'json' && f !== 'help' && f !== 'h') throw new UsageError(`unknown option --${f}`);
  if (args.flags.has('help') || args.flags.has('h')) {
    out.write(FLOWS_USAGE + '\n');
    return 0;
  }
  if (args.positionals.length === 0) throw new UsageError('flows needs at least one capture file');
  const last = (k: string) => args.options.get(k)?.at(-1);
  const ipfix = last('ipfix') !== undefined ? parseCollector(last('ipfix')!, 'ipfix') : null;
  const nf9 = last('netflow9') !== undefined ? parseCollector(last('netflow9')!, 'netflow9') : null;
  const file = last('w') ?? null;
  const json = args.flags.has('json');
  if (!ipfix && !nf9 && !file && !json) throw new UsageError('say where the records go: --ipfix HOST:PORT, --netflow9 HOST:PORT, -w FILE or --json');
  const seed = last('community-id-seed') !== undefined ? parseCommunityIdSeed(last('community-id-seed')!) : 0;
  const decodeAs = (args.options.get('decode') ?? []).map(parseDecodeAs);

  let status = 0;
  const records: FlowRecord[] = [];
  const files: { path: string; packets: number; connections: number; flows: number; warnings: number; error: string | null }[] = [];
  for (const path of args.positionals) {
    let r;
    try {
      r = flowsOfFile(path, { decodeAs, communityIdSeed: seed });
    } catch (e) {
      err.write(`tapscope: cannot read ${path}: ${(e as Error).message}\n`);
      return 1;
    }
    if (r.error) {
      err.write(`tapscope: ${path} is damaged: ${r.error}; its flows cover the ${r.report.file.packets} packet(s) before it\n`);
      status = 2;
    }
    // One push per record: spreading 400,000 records into push() exceeds the call stack.
    for (const rec of r.records) records.push(rec);
    files.push({ path, packets: r.report.file.packets, connections: r.report.connections.length, flows: r.records.length, warnings: r.report.warnings.length, error: r.error });
  }

  const exported: Record<string, unknown> = {};
  const nowSec = Math.floor(Date.now() / 1000);
  try {
    if (file) {
      // A file needs its templates once: no refresh.
      const enc = new IpfixEncoder({ templateRefresh: Infinity, maxMessage: 65535 });
      const msgs = enc.encode(records, nowSec);
      writeMessages(file, msgs);
      exported.file = { path: file, messages: msgs.length, dataRecords: enc.dataRecords };
    }
    if (ipfix) exported.ipfix = await send(ipfix, new IpfixEncoder().encode(records, nowSec));
    if (nf9) exported.netflow9 = await send(nf9, new Netflow9Encoder().encode(records));
  } catch (e) {
    err.write(`tapscope flows: export failed: ${(e as Error).message}\n`);
    return 1;
  }
  if (json) out.write(JSON.stringify({ files, export: exported, flows: records }) + '\n');
  else {
    for (const f of files) out.write(`${f.path}: ${f.packets} packets, ${f.connections} connections, ${f.flows} flow records\n`);
    for (const [k, v] of Object.entries(exported)) out.write(`exported ${k}: ${JSON.stringify(v)}\n`);
  }
  return status;
}

async function send(to: Collector, msgs: Buffer[]): Promise<{ collector: string; messages: number }> {
  const n = await sendDatagrams(msgs, to);
  return { collector: `${to.host}:${to.port}`, messages: n };
}
