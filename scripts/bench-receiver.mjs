// Receiver bench (issue 13; `npm run bench -- --only receiver`): a bounded VXLAN feed on
// loopback into the cloud-TAP receiver as `tapscope listen` runs it (bench/receiver-listen.ts:
// the receive program -> spool + analysis), one round per rate. The feed: bench/vxlan-sender.c
// (sendmmsg, paced) sending --count datagrams (default 1,000,000) of --flows short TCP
// connections (default 250,000), at each of --rates (datagrams/s; 0 = as fast as the sender
// can; default 200000,0). Reported per round: the rate achieved, datagrams received by the
// receive program, kernel drops, app drops, how long the analysis took to catch up after the
// last datagram, connections analysed, and the RSS of the listening process and of the receive
// program over time. The machine's load average is printed: other people share the 2 cores.
// --queue-mb N sets the receive program's queue (default 64 MiB, as `listen --queue`).
//   node scripts/bench-receiver.mjs [--rates 200000,0] [--count N] [--flows N] [--queue-mb N]
//                                   [--receive-only | --full-only] [--worktree] [--json]
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
await build({
  absWorkingDir: srcRoot, nodePaths: [join(root, 'node_modules')], entryPoints: ['bench/receiver-listen.ts'], outfile: listener,
  bundle: true, platform: 'node', target: 'node20', format: 'esm', logLevel: 'error', external: ['cap', 'ws', 'electron'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});

async function round(rate, receiveOnly) {
  const tmp = mkdtempSync(join(tmpdir(), 'tsErxb-'));
  const load0 = loadavg();
  const p = spawn(process.execPath, ['--max-old-space-size=6000', listener, String(PORT), join(tmp, 'spool.pcapng'), ...(receiveOnly ? ['--receive-only'] : []), ...(opt('queue-mb', null) ? ['--queue-mb', opt('queue-mb', null)] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const samples = [];
  let ready = null;
  let last = null;
  let buf = '';
  let listeningAt = 0;
  const ended = new Promise((res) => p.on('close', res));
  await new Promise((resolve, reject) => {
    p.stdout.on('data', (d) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0;) {
        const m = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (m.listening) { ready = m; listeningAt = Date.now(); resolve(); } else { samples.push(m); last = m; }
      }
    });
    p.on('close', () => reject(new Error('the listener ended before listening')));
  });
  const s = spawnSync(sender, ['-p', String(PORT), '-n', String(count), '-f', String(flows), '-r', String(rate)], { encoding: 'utf8' });
  if (s.status !== 0) throw new Error(`sender failed: ${s.stderr}`);
  const sent = JSON.parse(s.stdout);
  const sentAt = (Date.now() - listeningAt) / 1000; // on the listener's clock (t from listening)
  // Until everything the program received is analysed or counted (bounded: 120 s).
  const t0 = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const c = last;
    if (c && c.packets + c.droppedByApp + (c.droppedByKernel ?? 0) >= sent.sent) break;
    if (Date.now() - t0 > 120000) { log('gave up waiting for the analysis after 120 s'); break; }
  }
  const all = samples.find((x) => x.packets + x.droppedByApp + (x.droppedByKernel ?? 0) >= sent.sent);
  const caughtUp = Math.max(0, (all?.t ?? last?.t ?? 0) - sentAt);
  p.stdin.end('stop\n');
  await ended;
  rmSync(tmp, { recursive: true, force: true });
  const c = last;
  const peak = (k) => Math.max(0, ...samples.map((x) => x[k] ?? 0));
  const us = (k) => (peak(k) ? Number(((peak(k) * 1e6) / Math.max(1, c.received)).toFixed(2)) : null);
  return {
    receiveOnly,
    targetRate: rate, sent: sent.sent, sendSeconds: sent.seconds, sendRate: sent.rate,
    backend: ready.backend, receiveBuffer: ready.receiveBuffer, receiveBufferForced: ready.receiveBufferForced,
    received: c.received, analysed: c.packets, droppedByKernel: c.droppedByKernel, droppedByApp: c.droppedByApp,
    connections: c.connections, analysisCatchUpSeconds: Number(caughtUp.toFixed(1)),
    peakRss: peak('rss'), peakProgramRss: peak('programRss'),
    listenerCpuUsPerDatagram: us('cpu'), programCpuUsPerDatagram: us('programCpu'),
    rssOverTime: samples.filter((_, i) => i % 2 === 0).map((x) => [x.t, Math.round(x.rss / 1e6), x.programRss ? Math.round(x.programRss / 1e6) : null, x.packets]),
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
      `received ${r.received}, kernel drops ${r.droppedByKernel}, app drops ${r.droppedByApp}, ${receiveOnly ? `delivered ${r.analysed}` : `analysed ${r.analysed} (${r.connections} connections)`}, all delivered ${r.analysisCatchUpSeconds} s after the last datagram was sent; ` +
      `CPU per datagram: receive program ${r.programCpuUsPerDatagram} us, listener ${r.listenerCpuUsPerDatagram} us; ` +
      `peak RSS listener ${mb(r.peakRss)}, receive program ${mb(r.peakProgramRss)}; load ${r.loadBefore} -> ${r.loadAfter}`);
    console.log(`  RSS over time [s, listener MB, program MB, packets analysed]: ${r.rssOverTime.map((x) => `[${x.join(', ')}]`).join(' ')}`);
  }
}
if (asJson) process.stdout.write(JSON.stringify({ bench: 'receiver-loopback', count, flows, rounds: results }) + '\n');
