// Receiver bench (issue 13; `npm run bench -- --only receiver`): a bounded VXLAN feed on
// loopback into the cloud-TAP receiver, one round per rate and mode. The feed:
// bench/vxlan-sender.c (sendmmsg, paced) sending --count datagrams (default 1,000,000) of
// --flows short TCP connections (default 250,000), at each of --rates (datagrams/s; 0 = as fast
// as the sender can; default 200000,0). Modes: the receive path alone (bench/receiver-listen.ts
// --receive-only: the receive program into a sink that only counts frames) and `tapscope
// listen` itself as a user runs it (its defaults: flow expiry, analysis budget; spool to a
// temporary file). Reported per round: the rate achieved, datagrams received, kernel drops,
// app drops, how long after the last datagram everything was analysed or counted, CPU per
// datagram and the RSS of the listening process and of the receive program over time (from
// /proc every 500 ms). The machine's load average is printed: other people share the 2 cores.
//   node scripts/bench-receiver.mjs [--rates 200000,0] [--count N] [--flows N] [--queue-mb N]
//                                   [--receive-only | --full-only] [--worktree] [--json]
// --queue-mb N sets the receive program's queue (`listen --queue`; default 256 MiB).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const rates = opt('rates', '200000,0').split(',').map(Number);
const count = Number(opt('count', '1000000'));
const flows = Number(opt('flows', '250000'));
const asJson = args.includes('--json');
const PORT = Number(opt('port', '47989'));
const log = (s) => process.stderr.write(`bench receiver: ${s}\n`);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const mb = (b) => (b == null ? 'n/a' : `${Math.round(b / 1e6)} MB`);

if (process.platform !== 'linux') {
  console.log('receiver bench skipped: Linux only (recvmmsg, /proc)');
  process.exit(0);
}
const outDir = join(root, 'out', 'bench');
mkdirSync(outDir, { recursive: true });
const sender = join(outDir, 'vxlan-sender');
const cc = spawnSync(process.env.CC || 'cc', ['-O2', '-Wall', join(root, 'bench', 'vxlan-sender.c'), '-o', sender], { encoding: 'utf8' });
if (cc.status !== 0) {
  console.log(`receiver bench skipped: cannot compile bench/vxlan-sender.c (${(cc.stderr || cc.error?.message || '').trim().split('\n')[0]})`);
  process.exit(0);
}
const { buildReceiveBinary } = await import('./build-tapcap.mjs');
if (!buildReceiveBinary()) log('WARNING: out/native/tapscope-receive not built: measuring the Node dgram fallback');

// The listening side from the last commit (as scripts/bench.mjs does; --worktree: the work
// tree), bundled into out/bench so that it finds out/native/tapscope-receive.
let srcRoot = root;
if (!args.includes('--worktree')) {
  srcRoot = join(outDir, 'src-receiver');
  rmSync(srcRoot, { recursive: true, force: true });
  mkdirSync(srcRoot, { recursive: true });
  const r = spawnSync('sh', ['-c', `git archive HEAD main preload bench package.json tsconfig.json | tar -x -C '${srcRoot}'`], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git archive failed: ${r.stderr}`);
}
const listener = join(outDir, 'receiver-listen.mjs');
const cli = join(outDir, 'receiver-tapscope.mjs');
for (const [entry, outfile] of [['bench/receiver-listen.ts', listener], ['main/cli/tapscope.ts', cli]]) {
  await build({
    absWorkingDir: srcRoot, nodePaths: [join(root, 'node_modules')], entryPoints: [entry], outfile,
    bundle: true, platform: 'node', target: 'node20', format: 'esm', logLevel: 'error', external: ['cap', 'ws', 'electron', 'bufferutil', 'utf-8-validate'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}

/** RSS (bytes) and CPU seconds of a process, null when it is gone. */
function proc(pid) {
  try {
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return { rss, cpu: (Number(f[11]) + Number(f[12])) / 100 };
  } catch {
    return null;
  }
}
const childOf = (pid) => { try { return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]) || null; } catch { return null; } };
const num = (re, text) => { const m = re.exec(text); return m ? Number(m[1]) : null; };

/**
 * One round. receiveOnly: bench/receiver-listen.ts --receive-only (the program into a counting
 * sink; counters as JSON lines). Otherwise `tapscope listen` itself, with its defaults (flow
 * expiry, analysis budget), counters from its --progress lines and its summary.
 */
async function round(rate, receiveOnly) {
  const tmp = mkdtempSync(join(tmpdir(), 'tsErxb-'));
  const load0 = loadavg();
  const queue = opt('queue-mb', null);
  const argv = receiveOnly
    ? [listener, String(PORT), join(tmp, 'spool.pcapng'), '--receive-only', ...(queue ? ['--queue-mb', queue] : [])]
    : [cli, 'listen', '--vxlan', String(PORT), '--address', '127.0.0.1', '-w', join(tmp, 'spool.pcapng'), '--progress', ...(queue ? ['--queue', queue] : [])];
  const p = spawn(process.execPath, ['--max-old-space-size=6000', ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let c = { packets: 0, droppedByKernel: 0, droppedByApp: 0, received: 0 };
  let ready = { backend: 'tapscope-receive', receiveBuffer: null, receiveBufferForced: null };
  const ended = new Promise((res) => p.on('close', res));
  let listening;
  const started = new Promise((res) => (listening = res));
  p.stdout.on('data', (d) => {
    out += d;
    if (!receiveOnly) { out = out.slice(-4096); return; }
    for (let i; (i = out.indexOf('\n')) >= 0;) {
      const m = JSON.parse(out.slice(0, i));
      out = out.slice(i + 1);
      if (m.listening) { ready = m; listening(); } else c = m;
    }
  });
  p.stderr.on('data', (d) => {
    err += d;
    if (receiveOnly) return;
    if (/listening for/.test(err)) {
      const buf = /socket buffer (\d+) MiB( \(forced)?/.exec(err);
      if (buf) ready = { backend: /receive program tapscope-receive/.test(err) ? 'tapscope-receive' : 'dgram', receiveBuffer: Number(buf[1]) * 1048576, receiveBufferForced: !!buf[2] };
      listening();
    }
    const lines = err.split('\n').filter((l) => l.startsWith('progress:'));
    const l = lines.at(-1);
    if (l) {
      c = { packets: num(/(\d+) captured/, l), droppedByKernel: num(/(\d+) dropped by kernel/, l) ?? 0, droppedByApp: num(/(\d+) by app/, l) ?? 0, skipped: num(/(\d+) not analysed/, l) ?? 0 };
      c.received = c.packets + c.droppedByApp + c.droppedByKernel;
    }
    if (err.length > 1 << 20) err = err.slice(-65536);
  });
  await Promise.race([started, ended.then(() => { throw new Error(`the listener ended before listening: ${err.slice(-500)}`); })]);
  // RSS and CPU of the listener and of its receive program, every 500 ms.
  const t0 = Date.now();
  const samples = [];
  let programPid = null;
  const sample = () => {
    programPid ??= childOf(p.pid);
    const l = proc(p.pid);
    const r = programPid ? proc(programPid) : null;
    if (l) samples.push({ t: (Date.now() - t0) / 1000, rss: l.rss, cpu: l.cpu, programRss: r?.rss ?? null, programCpu: r?.cpu ?? null, packets: c.packets, skipped: c.skipped ?? 0, total: c.packets + c.droppedByApp + (c.droppedByKernel ?? 0) });
  };
  const timer = setInterval(sample, 500);
  // The sender stands for the network: in a session (so a scheduler autogroup) of its own, it
  // neither takes the collector's share of the CPU nor gets it (within one autogroup a
  // reniced sender starved the receive program: 2.4 M kernel drops on the 4 M-datagram feed).
  const s = spawn(sender, ['-p', String(PORT), '-n', String(count), '-f', String(flows), '-r', String(rate)], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  let sOut = '';
  s.stdout.on('data', (d) => (sOut += d));
  const sStatus = await new Promise((res) => s.on('close', res)); // bounded: COUNT datagrams
  if (sStatus !== 0) throw new Error(`sender exited ${sStatus}`);
  const sent = JSON.parse(sOut);
  const sentAt = (Date.now() - t0) / 1000;
  // Until everything received is analysed or counted (bounded: 180 s).
  for (const until = Date.now() + 180000; c.packets + c.droppedByApp + (c.droppedByKernel ?? 0) < sent.sent;) {
    if (Date.now() > until) { log('gave up waiting for the analysis after 180 s'); break; }
    await new Promise((r) => setTimeout(r, 250));
  }
  const doneAt = (Date.now() - t0) / 1000;
  sample();
  clearInterval(timer);
  if (receiveOnly) p.stdin.end('stop\n');
  else p.kill('SIGINT');
  await ended;
  rmSync(tmp, { recursive: true, force: true });
  if (!receiveOnly) {
    // The summary's totals (stderr) are the final word.
    c = {
      packets: num(/(\d+) packets? captured/, err), received: num(/(\d+) packets received by filter/, err),
      droppedByKernel: num(/(\d+) packets dropped by kernel/, err), droppedByApp: num(/(\d+) packets dropped by app/, err),
      skipped: num(/(\d+) packets not analysed/, err) ?? 0,
    };
  }
  const peak = (k) => Math.max(0, ...samples.map((x) => x[k] ?? 0));
  const us = (k) => (peak(k) ? Number(((peak(k) * 1e6) / Math.max(1, c.received)).toFixed(2)) : null);
  return {
    receiveOnly,
    targetRate: rate, sent: sent.sent, sendSeconds: sent.seconds, sendRate: sent.rate,
    backend: ready.backend, receiveBuffer: ready.receiveBuffer, receiveBufferForced: ready.receiveBufferForced,
    received: c.received, analysed: c.packets, analysisSkipped: receiveOnly ? null : c.skipped ?? 0, droppedByKernel: c.droppedByKernel, droppedByApp: c.droppedByApp,
    flowsEnded: receiveOnly ? null : num(/(\d+) flows ended/, err), analysisCatchUpSeconds: Number(Math.max(0, doneAt - sentAt).toFixed(1)),
    peakRss: peak('rss'), peakProgramRss: peak('programRss'),
    listenerCpuUsPerDatagram: us('cpu'), programCpuUsPerDatagram: us('programCpu'),
    rssOverTime: samples.filter((_, i) => i % 2 === 0).map((x) => [x.t, Math.round(x.rss / 1e6), x.programRss ? Math.round(x.programRss / 1e6) : null, x.packets, x.skipped]),
    loadBefore: load0, loadAfter: loadavg(),
  };
}

// Each rate twice: the receive path alone (program -> a counting sink), then the whole of
// `listen` (program -> spool + analysis).
const modes = args.includes('--full-only') ? [false] : args.includes('--receive-only') ? [true] : [true, false];
const results = [];
for (const rate of rates) for (const receiveOnly of modes) {
  log(`round: ${count} datagrams, ${flows} flows, ${rate ? `${rate}/s` : 'as fast as the sender can'}, ${receiveOnly ? 'receive path only' : 'receive + spool + analysis'} (load ${loadavg()})`);
  const r = await round(rate, receiveOnly);
  results.push(r);
  if (!asJson) {
    console.log(`receiver ${r.backend} (socket buffer ${mb(r.receiveBuffer)}${r.receiveBufferForced ? ', forced' : ''}): target ${rate || 'max'}/s, sent ${r.sent} at ${r.sendRate}/s; ` +
      `received ${r.received}, kernel drops ${r.droppedByKernel}, app drops ${r.droppedByApp}, ${receiveOnly ? `delivered ${r.analysed}` : `taken ${r.analysed} (${r.flowsEnded} flows ended), analysis skipped ${r.analysisSkipped}`}, all delivered ${r.analysisCatchUpSeconds} s after the last datagram was sent; ` +
      `CPU per datagram: receive program ${r.programCpuUsPerDatagram} us, listener ${r.listenerCpuUsPerDatagram} us; ` +
      `peak RSS listener ${mb(r.peakRss)}, receive program ${mb(r.peakProgramRss)}; load ${r.loadBefore} -> ${r.loadAfter}`);
    console.log(`  RSS over time [s, listener MB, program MB, packets taken, analysis skipped]: ${r.rssOverTime.map((x) => `[${x.join(', ')}]`).join(' ')}`);
  }
}
if (asJson) process.stdout.write(JSON.stringify({ bench: 'receiver-loopback', count, flows, rounds: results }) + '\n');
