/*
 * One engine measurement in its own process (so peak RSS is the measurement's own):
 *   read     pull every record (pcap/pcapng reader only)
 *   decode   read + decode every packet into the reused Frame
 *   session  read + decode + every analyser (what `tapscope analyze` does, minus the JSON)
 * Prints one JSON line: { mode, packets, bytes, fileBytes, seconds, cpuSeconds, maxRssMB }.
 * Bundled and run by scripts/bench.mjs.
 */
import { statSync } from 'node:fs';
import { openCapture } from '../main/pcap/reader.js';
import { Decoder } from '../main/decode/decoder.js';
import { AnalysisSession } from '../main/engine/session.js';

const [mode, path] = process.argv.slice(2);
if (!path || !['read', 'decode', 'session'].includes(mode)) {
  process.stderr.write('usage: engine-bench read|decode|session FILE\n');
  process.exit(1);
}
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
const reader = openCapture(path);
const decoder = mode === 'decode' ? new Decoder() : null;
const session = mode === 'session' ? new AnalysisSession() : null;
let packets = 0;
let bytes = 0;
let sink = 0;
for (let r = reader.next(); r; r = reader.next()) {
  packets++;
  bytes += r.origLen;
  if (decoder) sink += decoder.decode(r).srcPort;
  else if (session) session.feed(r);
}
session?.finish();
if (session) sink += session.report({ path, format: reader.format, interfaces: reader.interfaces, comments: reader.comments }).connections.length;
reader.close();
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(c0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(JSON.stringify({ mode, packets, bytes, fileBytes: statSync(path).size, seconds, cpuSeconds, maxRssMB: process.resourceUsage().maxRSS / 1024, sink: sink > -1 }) + '\n');
