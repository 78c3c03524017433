// The listening side of the receiver bench's receive-only rounds (scripts/bench-receiver.mjs;
// its full rounds run `tapscope listen` itself); without --receive-only, CaptureService.listen
// (the receive program when built) -> spool + analysis in this process (the analysis in its own
// thread, as `tapscope listen` runs it, unless --inline-analysis), without the CLI's flow expiry
// and analysis budget. Prints one JSON line when listening, then every 500 ms
//   {"t","packets","received","droppedByKernel","droppedByApp","analysisSkipped","truncated","notTunnel","connections","rss","programRss"}
// and a last one with "end": true after SIGINT or "stop" on stdin. --receive-only runs the
// receive program alone with a sink that only counts its frames (the receive path without
// the analysis and the spool).
//   node receiver-listen.mjs PORT SPOOL.pcapng [--inner] [--receive-only] [--queue-mb N] [--inline-analysis]
import { readFileSync } from 'node:fs';
import { CaptureService, helperScript } from '../main/capture/service.js';
import { ReceiveProgram, receiveProgram } from '../main/capture/receive-program.js';

const [portArg, spool] = process.argv.slice(2);
const qi = process.argv.indexOf('--queue-mb');
const queueBytes = qi > 0 ? Number(process.argv[qi + 1]) * 1048576 : undefined;
const cpuOf = (pid: number | null): number | null => {
  if (!pid) return null;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, seconds (USER_HZ 100)
  } catch {
    return null;
  }
};
const rssOf = (pid: number | null): number | null => {
  if (!pid) return null;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
  } catch {
    return null;
  }
};

if (process.argv.includes('--receive-only')) await receiveOnly();

async function receiveOnly(): Promise<never> {
  const exec = receiveProgram();
  if (!exec) throw new Error('out/native/tapscope-receive is not built');
  const c = { packets: 0, received: 0, droppedByKernel: 0, droppedByApp: 0, truncated: 0 };
  const rp = new ReceiveProgram(exec, { ports: [Number(portArg)], address: '127.0.0.1', receiveBufferSize: 64 << 20, queueBytes }, {
    onReady: () => {},
    packet: () => void c.packets++,
    stats: (s) => Object.assign(c, { received: s.received, droppedByKernel: s.droppedByKernel, droppedByApp: s.droppedByApp, truncated: s.truncated ?? 0 }),
  });
  const ready = await rp.start();
  const t0 = Date.now();
  const line = (end = false): string => JSON.stringify({
    t: (Date.now() - t0) / 1000, ...c, received: c.received + c.droppedByKernel, notTunnel: null, connections: null,
    rss: process.memoryUsage().rss, programRss: rssOf(rp.pid), cpu: cpuOf(process.pid), programCpu: cpuOf(rp.pid), ...(end ? { end: true } : {}),
  }) + '\n';
  process.stdout.write(JSON.stringify({ listening: true, backend: 'tapscope-receive (receive only)', receiveBuffer: ready.receiveBuffer, receiveBufferForced: ready.receiveBufferForced, pid: process.pid, programPid: rp.pid }) + '\n');
  const timer = setInterval(() => process.stdout.write(line()), 500);
  process.on('SIGINT', () => void rp.stop());
  process.stdin.on('data', (d) => { if (String(d).includes('stop')) void rp.stop(); });
  await rp.exited;
  clearInterval(timer);
  process.stdout.write(line(true));
  process.exit(0);
}

const rx = await new CaptureService().listen({
  vxlan: [Number(portArg)], address: '127.0.0.1', output: spool, save: process.argv.includes('--inner') ? 'inner' : 'received', deltaIntervalMs: 500, queueBytes,
  analysisThread: process.argv.includes('--inline-analysis') ? null : { workerFile: helperScript(), exportNice: -5 },
});
const t0 = Date.now();
const line = (end = false): string => {
  const c = rx.counters;
  return JSON.stringify({
    t: (Date.now() - t0) / 1000, packets: c.packets, received: c.received, droppedByKernel: c.droppedByKernel, droppedByApp: c.droppedByApp,
    analysisSkipped: c.analysisSkipped, truncated: rx.truncated, notTunnel: rx.notTunnel,
    connections: rx.sink.thread ? rx.sink.thread.progress.connections : rx.session.connections.count,
    rss: process.memoryUsage().rss, programRss: rssOf(rx.receiverPid), cpu: cpuOf(process.pid), programCpu: cpuOf(rx.receiverPid), ...(end ? { end: true } : {}),
  }) + '\n';
};
process.stdout.write(JSON.stringify({ listening: true, backend: rx.backend, receiveBuffer: rx.receiveBuffer, receiveBufferForced: rx.receiveBufferForced, note: rx.backendNote, pid: process.pid, programPid: rx.receiverPid }) + '\n');
const timer = setInterval(() => process.stdout.write(line()), 500);
const stop = (): void => void rx.stop();
process.on('SIGINT', stop);
process.stdin.on('data', (d) => { if (String(d).includes('stop')) stop(); });
await rx.ended;
rx.sink.closeAnalysis();
clearInterval(timer);
process.stdout.write(line(true));
process.exit(0);
