import { CaptureService, CaptureError, helperScript, type LiveSource } from '../capture/service.js';
import type { CaptureEnd, RingOptions, StopConditions } from '../capture/live-sink.js';
import { linkTypeName } from '../pcap/link-types.js';
import { humanSummary } from './analyze.js';
import { parseArgs, UsageError, type ParsedArgs } from './args.js';
import { parseDecodeAs } from '../decode/decoder.js';
import type { AlertJson } from '../ids/eve.js';
import { IDS_OPTIONS, IDS_USAGE, checkStreamOutput, idsDirOptions, keepHours } from './ids-options.js';
import { liveFlowOptions, LIVE_FLOW_OPTIONS, LIVE_FLOW_USAGE, flowSummaryText, analysisBudget } from './live-flows.js';
import { receiverJson, receiverOptions, receiverStartText, receiverSummaryText, RECEIVER_OPTIONS, RECEIVER_USAGE } from './listen-receiver.js';

export const CAPTURE_USAGE = `tapscope capture -i IFACE [-f FILTER] [-w FILE] [-c COUNT] [-a duration:SEC|filesize:KB|packets:N]...
                 [-s SNAPLEN] [-B BUFFER_MB] [-p] [--ring FILES:MB] [--decode udp:PORT=PROTO] [--progress] [--json]
                 [--inline-analysis]
  Capture on an interface (through the privileged capture helper), analyse the packets as they
  arrive and save them to a pcapng file (default: a new file in the spool directory). The
  analysis runs in its own thread (as for listen: skipped batches counted as "not analysed");
  --inline-analysis: on the capturing thread.
  -i N: the Nth interface of tapscope interfaces. -p: not promiscuous.
  Ctrl-C / SIGTERM stop cleanly: the file is complete and a summary is printed.
${LIVE_FLOW_USAGE}
${IDS_USAGE}
  Exit status: 0 ok, 1 usage or the capture could not start, 2 stopped by an error (file kept).`;

export const LISTEN_USAGE = `tapscope listen [--vxlan PORT]... [--geneve PORT]... [--tzsp PORT]... [--address ADDR] [-w FILE] [--inner]
                [-c COUNT] [-a duration:SEC|filesize:KB|packets:N]... [--ring FILES:MB] [--progress] [--json]
                [-B MB] [--queue MB] [-s SNAPLEN] [--inline-analysis]
  Cloud-TAP collector (no privileges needed): receive mirrored traffic over UDP (VXLAN 4789,
  GENEVE 6081, TZSP 37008), analyse the inner traffic and save the datagrams as received (outer
  headers synthesised) or, with --inner, the inner frames only. The analysis runs in its own
  thread: when it falls behind it skips batches (counted as "not analysed"), while the spool,
  the IDS feeds and the flow records keep every datagram. --inline-analysis: on the receiving
  thread instead (nothing skipped; the receive queue drops when it falls behind).
${RECEIVER_USAGE}
${LIVE_FLOW_USAGE}
${IDS_USAGE}`;

export const INTERFACES_USAGE = `tapscope interfaces [--json]
  List the interfaces that can be captured, marking virtual-switch ports (bridges and their
  ports, tap/tun, veth, VXLAN/GENEVE devices).`;

interface Out {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

function num(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`bad ${what} "${v}": expected a positive number`);
  return n;
}

function one(a: ParsedArgs, name: string): string | undefined {
  const v = a.options.get(name);
  return v ? v[v.length - 1] : undefined;
}

function stopConditions(a: ParsedArgs): StopConditions {
  const s: StopConditions = {};
  const c = one(a, 'c');
  if (c !== undefined) s.packets = Math.floor(num(c, '-c count'));
  for (const spec of a.options.get('a') ?? []) {
    const m = /^(duration|filesize|packets):(.+)$/.exec(spec);
    if (!m) throw new UsageError(`bad -a "${spec}": expected duration:SEC, filesize:KB or packets:N`);
    if (m[1] === 'duration') s.durationSec = num(m[2], '-a duration');
    else if (m[1] === 'filesize') s.bytes = num(m[2], '-a filesize') * 1000;
    else s.packets = Math.floor(num(m[2], '-a packets'));
  }
  return s;
}

function ring(a: ParsedArgs): RingOptions | undefined {
  const r = one(a, 'ring');
  if (r === undefined) {
    keepHours(a, false);
    return undefined;
  }
  const m = /^(\d+):(\d+(?:\.\d+)?)$/.exec(r);
  if (!m || Number(m[1]) < 1 || Number(m[2]) <= 0) throw new UsageError(`bad --ring "${r}": expected FILES:MB, e.g. 10:100`);
  return { files: Number(m[1]), fileMB: Number(m[2]), keepHours: keepHours(a, true) };
}

function checkFlags(a: ParsedArgs, allowed: string[]): void {
  for (const f of a.flags) if (!allowed.includes(f)) throw new UsageError(`unknown option ${f.length === 1 ? '-' : '--'}${f}`);
  if (a.positionals.length) throw new UsageError(`unexpected argument "${a.positionals[0]}"`);
}

function summaryText(e: CaptureEnd, what: string): string {
  const c = e.counters;
  const lines = [`${c.packets} packet${c.packets === 1 ? '' : 's'} captured${what}`];
  if (c.received !== null) lines.push(`${c.received} packets received by filter`);
  lines.push(`${c.droppedByKernel === null ? 'unknown number of' : c.droppedByKernel} packets dropped by kernel`);
  if (c.droppedByInterface) lines.push(`${c.droppedByInterface} packets dropped by interface`);
  lines.push(`${c.droppedByApp} packets dropped by app`);
  const stream = e.feeds?.stream;
  if (stream) lines.push(`${stream.packets} packets written to the pcap stream on stdout, ${stream.dropped} dropped${stream.dropped ? ' (the reader was behind)' : ''}${stream.skipped ? `, ${stream.skipped} not Ethernet or IP` : ''}${stream.error ? ` (${stream.error})` : ''}`);
  else lines.push(`${c.savedPackets} packets (${c.savedBytes} bytes) saved to ${c.files.join(', ') || '(no file)'}`);
  const dir = e.feeds?.idsDir;
  if (dir) lines.push(`${dir.packets} packets written to IDS files, ${dir.files?.length ?? 0} closed files kept${dir.dropped ? `, ${dir.dropped} dropped` : ''}${dir.error ? ` (${dir.error})` : ''}`);
  return lines.join('\n') + '\n';
}

/** Runs a live source until it ends or a signal arrives; prints the summary. */
async function runLive(src: LiveSource, io: Out, a: ParsedArgs, what: string, describe: () => Record<string, unknown>): Promise<number> {
  const stop = (): void => void src.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  const tty = (io.err as { isTTY?: boolean }).isTTY === true;
  const progress = a.flags.has('progress');
  let lastLine = 0;
  const off = src.onDelta((d) => {
    const c = d.counters;
    const now = Date.now();
    if (progress && now - lastLine >= 1000) {
      lastLine = now;
      io.err.write(`progress: ${c.packets} captured, ${c.savedPackets} saved, ${c.flushedPackets} flushed, ${c.droppedByKernel ?? '?'} dropped by kernel, ${c.droppedByApp} by app${src.sink.thread ? `, ${c.analysisSkipped} not analysed` : ''}\n`);
    } else if (tty && !progress) {
      io.err.write(`\r${c.packets} packets, ${Math.round(c.pps)} pkt/s${c.droppedByKernel ? `, ${c.droppedByKernel} dropped by kernel` : ''}${c.droppedByApp ? `, ${c.droppedByApp} dropped by app` : ''}   `);
    }
  });
  let end: CaptureEnd;
  try {
    end = await src.ended;
  } finally {
    off();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('SIGHUP', stop);
  }
  if (src.sink.flowExport) {
    await src.sink.flowExport.closed();
    end.flows = src.sink.flowExport.stats(); // what was sent once the queue drained
  }
  if (tty && !progress) io.err.write('\n');
  io.err.write(summaryText(end, what));
  if (end.flows) io.err.write(flowSummaryText(end.flows));
  if (end.error) io.err.write(`tapscope: ${end.error.message}\n${end.error.remedy ? end.error.remedy + '\n' : ''}`);
  const eve = src.sink.eve;
  const json = a.flags.has('json');
  let report: Awaited<ReturnType<typeof src.sink.report>> | null = null;
  if (json || a.flags.has('summary') || eve) {
    const files = end.counters.files;
    try {
      report = await src.sink.report({ path: json ? files[files.length - 1] ?? '' : files.join(', '), interfaces: [...src.sink.interfaces] }, end);
    } catch (e) {
      io.err.write(`tapscope: ${(e as Error).message}\n`);
      return 2;
    }
    if (eve) {
      const alerts = report.alerts as AlertJson[];
      io.err.write(`${alerts.length} IDS alerts read from ${eve.path}, ${alerts.filter((x) => x.connectionId !== null).length} joined to a connection\n`);
    }
  }
  else src.sink.closeAnalysis();
  if (end.analysis?.skipped) io.err.write(`${end.analysis.skipped} packets not analysed (${end.analysis.skippedBatches} batches skipped: the analysis thread was behind; spool, IDS feeds and flow records have them)\n`);
  if (end.analysis?.failure) io.err.write(`tapscope: ${end.analysis.failure}: the analysis stopped, the spool and the flow records went on\n`);
  if (json) {
    io.out.write(JSON.stringify({ capture: { ...describe(), reason: end.reason, error: end.error, counters: end.counters, flows: end.flows ?? null, rotated: end.rotated ?? null, analysis: end.analysis ?? null, feeds: end.feeds ?? null }, ...report }) + '\n');
  } else if (a.flags.has('summary')) {
    io.out.write(humanSummary(report!));
  }
  return end.error ? 2 : 0;
}

/**
 * The analysis in its own thread, off the export path (capture/analysis-thread.ts), unless
 * --inline-analysis (the analysis on the receiving thread: nothing skipped, the receive
 * program's queue drops instead when it falls behind).
 */
function analysisThread(a: ParsedArgs): { workerFile: string; exportNice: number } | null {
  return a.flags.has('inline-analysis') ? null : { workerFile: helperScript(), exportNice: EXPORT_NICE };
}

/** The receiving thread's nice value with the analysis in its own thread (below the receive program's -10). */
const EXPORT_NICE = -5;

function startError(io: Out, e: unknown): number {
  if (e instanceof CaptureError) {
    io.err.write(`tapscope: ${e.message}\n`);
    return 1;
  }
  throw e;
}

export async function runCaptureCli(argv: string[], io: Out): Promise<number> {
  const a = parseArgs(argv, ['i', 'f', 'w', 'c', 'a', 's', 'B', 'ring', 'decode', ...LIVE_FLOW_OPTIONS, ...IDS_OPTIONS, 'alerts']);
  if (a.flags.has('help') || a.flags.has('h')) {
    io.out.write(CAPTURE_USAGE + '\n');
    return 0;
  }
  checkFlags(a, ['p', 'json', 'progress', 'summary', 'inline-analysis']);
  checkStreamOutput(a);
  let device = one(a, 'i');
  if (!device) throw new UsageError('capture needs an interface: -i IFACE (see tapscope interfaces)');
  const svc = new CaptureService();
  if (/^\d+$/.test(device)) {
    // tcpdump -i N: the Nth interface of the list (tapscope interfaces numbers them).
    const list = svc.listInterfaces();
    if (!list.some((d) => d.name === device)) {
      const d = list[Number(device) - 1];
      if (!d) throw new UsageError(`there is no interface number ${device} (tapscope interfaces lists ${list.length})`);
      device = d.name;
    }
  }
  const filter = one(a, 'f') ?? '';
  if (filter) {
    const bad = await svc.validateFilter(filter);
    if (bad) {
      io.err.write(`tapscope: bad capture filter "${filter}": ${bad}\n`);
      return 1;
    }
  }
  const flows = await liveFlowOptions(a);
  const snap = one(a, 's');
  const bufMB = one(a, 'B');
  let src;
  try {
    src = await svc.start({
      device,
      filter,
      snaplen: snap ? Math.floor(num(snap, '-s snaplen')) : undefined,
      bufferSize: bufMB ? Math.floor(num(bufMB, '-B buffer') * 1024 * 1024) : undefined,
      promisc: !a.flags.has('p'),
      output: one(a, 'w'),
      stop: stopConditions(a),
      ring: ring(a),
      decodeAs: (a.options.get('decode') ?? []).map(parseDecodeAs),
      flows,
      analysisBudget: analysisBudget(a),
      analysisThread: analysisThread(a),
      idsDir: idsDirOptions(a),
      alertsPath: one(a, 'alerts') ?? null,
    });
  } catch (e) {
    return startError(io, e);
  }
  const r = src.ready!;
  io.err.write(`tapscope: capturing on ${device}${filter ? ` (filter: ${filter})` : ''}, link type ${linkTypeName(r.linkType)}, snaplen ${r.snaplen}, saving to ${src.path}${r.backend === 'cap' ? ' [cap backend: delivery-time timestamps, kernel drops unknown]' : ''}\n`);
  return runLive(src, io, a, ` on ${device}`, () => ({ device, filter, backend: r.backend, linkType: r.linkType }));
}

export async function runListenCli(argv: string[], io: Out): Promise<number> {
  const a = parseArgs(argv, ['vxlan', 'geneve', 'tzsp', 'address', 'w', 'c', 'a', 'ring', 'decode', ...LIVE_FLOW_OPTIONS, ...RECEIVER_OPTIONS, ...IDS_OPTIONS, 'alerts']);
  if (a.flags.has('help') || a.flags.has('h')) {
    io.out.write(LISTEN_USAGE + '\n');
    return 0;
  }
  checkFlags(a, ['inner', 'json', 'progress', 'summary', 'inline-analysis']);
  checkStreamOutput(a);
  const ports = (name: string) => (a.options.get(name) ?? []).map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`bad --${name} port "${v}"`);
    return n;
  });
  const vxlan = ports('vxlan');
  const geneve = ports('geneve');
  const tzsp = ports('tzsp');
  if (!vxlan.length && !geneve.length && !tzsp.length) throw new UsageError('listen needs at least one feed: --vxlan 4789, --geneve 6081 or --tzsp 37008');
  const flows = await liveFlowOptions(a);
  const svc = new CaptureService();
  let src;
  try {
    src = await svc.listen({
      vxlan, geneve, tzsp,
      address: one(a, 'address'),
      save: a.flags.has('inner') ? 'inner' : 'received',
      output: one(a, 'w'),
      stop: stopConditions(a),
      ring: ring(a),
      decodeAs: (a.options.get('decode') ?? []).map(parseDecodeAs),
      flows,
      analysisBudget: analysisBudget(a),
      analysisThread: analysisThread(a),
      idsDir: idsDirOptions(a),
      alertsPath: one(a, 'alerts') ?? null,
      ...receiverOptions(a),
    });
  } catch (e) {
    return startError(io, e);
  }
  const desc = src.ports.map((p) => `${p.encap} on udp/${p.port}`).join(', ');
  const th = src.sink.thread;
  const analysisText = `\ntapscope: ${th ? `analysis in its own thread${th.exportNice !== null ? ` (export path at nice ${th.exportNice})` : ''}` : 'analysis on the receiving thread (--inline-analysis)'}`;
  io.err.write(`tapscope: listening for ${desc}${a.flags.has('inner') ? ', saving inner frames' : ''} to ${src.path === '-' ? 'stdout (pcap stream)' : src.path}\ntapscope: ${receiverStartText(src)}${analysisText}\n`);
  const status = await runLive(src, io, a, ` from ${desc}`, () => ({ feeds: src.ports, save: a.flags.has('inner') ? 'inner' : 'received', ...receiverJson(src) }));
  io.err.write(receiverSummaryText(src));
  return status;
}

export function runInterfacesCli(argv: string[], io: Out): number {
  const a = parseArgs(argv, []);
  if (a.flags.has('help') || a.flags.has('h')) {
    io.out.write(INTERFACES_USAGE + '\n');
    return 0;
  }
  checkFlags(a, ['json']);
  const list = new CaptureService().listInterfaces();
  if (a.flags.has('json')) {
    io.out.write(JSON.stringify(list, null, 1) + '\n');
    return 0;
  }
  const w = Math.max(4, ...list.map((d) => d.name.length));
  list.forEach((d, i) => io.out.write(`${String(i + 1).padStart(2)}. ${d.name.padEnd(w)}  ${d.summary}\n`));
  return 0;
}
