import { parseArgs, UsageError } from './args.js';
import { filterFile } from './filter-file.js';

export const PACKETS_USAGE = `tapscope packets <file> [-Y FILTER] [-c N] [--json] [--decode udp:PORT=PROTO]...
  One line per packet in tshark's default layout (number, time, source, destination, protocol, length, info).
  -Y FILTER  Wireshark display filter (docs/display-filters.md), e.g. 'tcp.analysis.retransmission && ip.addr == 10.0.0.0/8'.
  -c N       read only the first N packets of the file (as tshark -c).
  --json     an array of { number, ts, src, dst, protocol, length, info }.
  Exit status: 0 ok, 1 usage or unreadable file, 2 a broken filter (message and caret on stderr) or a damaged file.`;

const PAGE = 2000;

/** Address without the port the packet list appends ("10.0.0.1:80" -> "10.0.0.1", "[::1]:80" -> "::1"). */
function hostOf(a: string): string {
  const v6 = /^\[(.*)\]:\d+$/.exec(a);
  if (v6) return v6[1];
  const v4 = /^([^:]+):\d+$/.exec(a);
  return v4 ? v4[1] : a;
}

/** Runs `tapscope packets`; returns the exit status. */
export function runPackets(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  const args = parseArgs(argv, ['Y', 'c', 'decode']);
  for (const f of args.flags) if (f !== 'json' && f !== 'help' && f !== 'h') throw new UsageError(`unknown option --${f}`);
  if (args.flags.has('help') || args.flags.has('h')) {
    out.write(PACKETS_USAGE + '\n');
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError('packets needs exactly one capture file');
  const path = args.positionals[0];
  const filterText = args.options.get('Y')?.at(-1) ?? null;
  const countArg = args.options.get('c')?.at(-1);
  if (countArg !== undefined && !/^\d+$/.test(countArg)) throw new UsageError(`-c needs a packet count, not "${countArg}"`);
  const limit = countArg === undefined ? Infinity : Number(countArg);
  const f = filterFile(path, filterText, args.options.get('decode') ?? [], err, limit);
  if (typeof f === 'number') return f;
  const { data, reader, matches: ids } = f;
  try {
    const json = args.flags.has('json');
    const firstTs = data.index.length ? data.index.ts[0] : 0;
    if (json) out.write('[');
    for (let p = 0; p < ids.length; p += PAGE) {
      const rows = reader.rows(ids.slice(p, p + PAGE));
      let text = '';
      rows.forEach((r, k) => {
        if (json) {
          text += `${p + k ? ',' : ''}\n${JSON.stringify({ number: r.number, ts: r.ts, src: r.src, dst: r.dst, protocol: r.protocol, length: r.length, info: r.info })}`;
        } else {
          const src = hostOf(r.src);
          const dst = hostOf(r.dst);
          const ends = src || dst ? `${src} \u2192 ${dst}` : '';
          text += `${String(r.number).padStart(5)} ${(r.ts - firstTs).toFixed(6).padStart(10)} ${ends} ${r.protocol} ${r.length} ${r.info}\n`;
        }
      });
      out.write(text);
    }
    if (json) out.write(ids.length ? '\n]\n' : ']\n');
  } finally {
    reader.close();
  }
  if (data.state === 'damaged') {
    err.write(`tapscope: ${path} is damaged: ${data.message}\n`);
    return 2;
  }
  return 0;
}
