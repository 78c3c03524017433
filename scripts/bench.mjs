// `npm run bench`: Tapscope against tshark and tcptrace on captures of several shapes (issue 10).
//
// Captures (each made once, cached in bench/data/, gitignored; --regen remakes them):
//   bulk               real HTTP traffic between two network namespaces: keep-alive connections
//                      × 6 GETs of 1 KB-300 KB, tcpdump on the veth (--mb N sets the size, default
//                      200; --mb 1000 is the issue's ~1 GB case). Without namespaces (not root,
//                      no iproute2) a corpus capture replicated with shifted timestamps, said so.
//   short-synthetic    --conns N (default 200,000) short HTTP connections from bench/gen-short-conns.mjs
//   short-synthetic-2m the same generator with 2,000,000 connections (only with --only or --all)
//   short-recorded     --conns N real short HTTP connections between namespaces (bench/record-short-conns.mjs)
//   vxlan              the synthetic connections inside VXLAN, as a cloud traffic-mirroring feed sends them
// Default: bulk, short-synthetic, short-recorded, vxlan. --only a,b picks captures; --all adds
// short-synthetic-2m. The row `receiver` (run by default after the live capture, or alone with
// --only receiver) is the cloud-TAP receiver on loopback: scripts/bench-receiver.mjs, with
// --count N --flows N --receiver-rates R,R (datagrams/s; 0 = as fast as the sender can).
// The row `sensor` (only with --only sensor: about a minute) is 1,000,000 flows through the
// live path into nfcapd with RSS over time: scripts/bench-sensor.mjs (--sensor-flows N --sensor-rate R).
// The rows `tls-decrypt` (real HTTPS from Node on loopback, with and without its key log:
// bench/tls-decrypt-bench.ts) and `quic` (ngtcp2 HTTP/3 in a namespace, QUIC from the Initials
// and decrypted with the key log: bench/quic-bench.ts) run by default at the end, or alone with
// --only tls-decrypt / --only quic; --decrypt-mb N sets their capture size (--regen remakes them).
//
// Per capture, each in its own process, same file, same run, page cache warm (the file is read
// once first): `tapscope analyze FILE --json > /dev/null`, `tshark -q -z conv,tcp -r FILE`,
// `tcptrace -n -l FILE`, `tapscope flows FILE` once the CLI has that command, and the workbench
// path (bench/workbench-open.ts: TapscopeService.openFile with the analysis worker, time to the
// first delta and to completion, peak RSS). Wall time (hrtime), CPU time user+sys and peak RSS
// (/usr/bin/time -f; from /proc polling when it is absent). Prints one Markdown table per capture
// with ratios, the per-connection memory ((peak RSS - RSS on a tiny capture) / connections) and the
// load average. Other options: --runs N (best of N wall), --conns N, --stages (adds the engine's
// read / decode / analysis stages from bench/engine-bench.ts), --tools a,b (tapscope, tshark,
// tcptrace, flows, workbench; split adds `analyze` on two threads, TAPSCOPE_ANALYZE_THREADS=2), --no-live (skips the live-capture bench, scripts/bench-capture.mjs),
// --mem-limit-mb N (default 8000: no run may take more of the shared machine's memory),
// --worktree (build the engine from the work tree instead of the last commit).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import * as lab from '../bench/netns-lab.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const targetMB = Number(opt('mb', '200'));
const conns = Number(opt('conns', '200000'));
const runs = Number(opt('runs', '1'));
const regen = args.includes('--regen');
const forceReplicate = args.includes('--replicate');
const dataDir = join(root, 'bench', 'data');
const outDir = join(root, 'out', 'bench');
const DEFAULT_CAPTURES = ['bulk', 'short-synthetic', 'short-recorded', 'vxlan'];
const only = opt('only', null)?.split(',') ?? (args.includes('--all') ? [...DEFAULT_CAPTURES, 'short-synthetic-2m'] : DEFAULT_CAPTURES);
const tools = new Set(opt('tools', 'tapscope,tshark,tcptrace,flows,workbench').split(','));
const TINY = join(root, '..', 'shared', 'captures', 'http-get-basic.pcap');

const sh = (cmd, a, o = {}) => spawnSync(cmd, a, { encoding: 'utf8', ...o });
const log = (s) => process.stderr.write(`bench: ${s}\n`);
const has = (cmd) => sh('sh', ['-c', `command -v ${cmd}`]).status === 0;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

// The receiver row: its own script (sender, receive program, listener), beside the interface capture.
function receiverBench() {
  const fwd = [];
  for (const [from, to] of [['count', 'count'], ['flows', 'flows'], ['receiver-rates', 'rates'], ['queue-mb', 'queue-mb']]) if (opt(from, null)) fwd.push(`--${to}`, opt(from, null));
  if (args.includes('--worktree')) fwd.push('--worktree');
  console.log(`\nCloud-TAP receiver (load average ${loadavg()}):`);
  spawnSync(process.execPath, [join(root, 'scripts', 'bench-receiver.mjs'), ...fwd], { stdio: 'inherit' });
}
// The sensor row: flow expiry, live export and memory over 1,000,000 flows.
function sensorBench() {
  const fwd = [...(opt('sensor-flows', null) ? ['--flows', opt('sensor-flows', null)] : []), ...(opt('sensor-rate', null) ? ['--rate', opt('sensor-rate', null)] : [])];
  console.log(`\nSensor: flows through the live path into nfcapd (load average ${loadavg()}):`);
  spawnSync(process.execPath, [join(root, 'scripts', 'bench-sensor.mjs'), ...fwd], { stdio: 'inherit' });
}
// The decryption rows: their own scripts (each records its capture once, then times
// Tapscope with and without keys beside tshark).
const DECRYPT_ROWS = { 'tls-decrypt': ['tls-decrypt-bench.ts', 'TLS decryption (HTTPS with a key log)'], quic: ['quic-bench.ts', 'QUIC and HTTP/3 (with a key log)'] };
function decryptBench(name) {
  const [script, title] = DECRYPT_ROWS[name];
  const fwd = [...(opt('decrypt-mb', null) ? ['--mb', opt('decrypt-mb', null)] : []), ...(regen ? ['--regen'] : [])];
  console.log(`\n${title} (load average ${loadavg()}):`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', script), ...fwd], { stdio: 'inherit' });
  if (r.status !== 0) console.log(`${name}: not measured (exit ${r.status}; needs root, tcpdump${name === 'quic' ? ', network namespaces and ngtcp2' : ''})`);
}
const ownRows = only.filter((n) => n === 'receiver' || n === 'sensor' || n in DECRYPT_ROWS);
if (ownRows.length && ownRows.length === only.length) {
  for (const n of only) if (n in DECRYPT_ROWS) decryptBench(n);
  if (only.includes('receiver')) receiverBench();
  if (only.includes('sensor')) sensorBench();
  process.exit(0);
}

// ---------------------------------------------------------------- bulk capture -----
const NS_SRV = 'tsCsrv';
const NS_CLI = 'tsCcli';

const SERVER = `
const http = require('http');
const body = Buffer.alloc(1 << 20, 'x');
http.createServer((req, res) => {
  const n = Math.min(Number(req.url.slice(1)) || 0, body.length);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
  res.end(body.subarray(0, n));
}).listen(8080, '10.77.0.1', () => console.log('ready'));`;

// Bounded: SESSIONS keep-alive connections, each making the same 6 requests; 12 at a time.
const CLIENT = (sessions) => `
const http = require('http');
const SIZES = [1000, 4000, 16000, 64000, 150000, 300000];
let next = 0, done = 0, failed = 0;
function get(agent, size) {
  return new Promise((ok) => {
    const req = http.get({ host: '10.77.0.1', port: 8080, path: '/' + size, agent }, (res) => { res.resume(); res.on('end', ok); });
    req.on('error', () => { failed++; ok(); });
    req.setTimeout(10000, () => { req.destroy(); });
  });
}
async function worker() {
  while (next < ${sessions}) {
    next++;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (const s of SIZES) await get(agent, s);
    agent.destroy();
    done++;
  }
}
Promise.all(Array.from({ length: 12 }, worker)).then(() => { console.log(JSON.stringify({ done, failed })); });`;

async function bulkFromNamespaces(path) {
  const tcpdumpOut = path + '.tmp';
  let tcpdump = null;
  let server = null;
  try {
    lab.makePair({ nsSrv: NS_SRV, nsCli: NS_CLI, devSrv: 'tsCa', devCli: 'tsCb', srvAddr: '10.77.0.1', cliAddrs: ['10.77.0.2'] });
    server = await lab.startServer(NS_SRV, SERVER);
    tcpdump = await lab.startTcpdump(NS_SRV, 'tsCa', tcpdumpOut);
    // ~535 KB of responses per session.
    const sessions = Math.max(10, Math.round((targetMB * 1e6) / 560000));
    log(`generating traffic: ${sessions} connections x 6 HTTP requests (10.77.0.2 -> 10.77.0.1:8080), tcpdump on veth tsCa`);
    log(`client: ${await lab.runClient(NS_CLI, CLIENT(sessions))}`);
    await new Promise((r) => setTimeout(r, 500));
    const tdErr = await lab.stopTcpdump(tcpdump);
    tcpdump = null;
    log(`tcpdump: ${tdErr.trim().split('\n').slice(-3).join('; ')}`);
    renameSync(tcpdumpOut, path);
    return `real HTTP traffic between network namespaces (${sessions} keep-alive connections x 6 GETs of 1-300 KB)`;
  } finally {
    if (tcpdump) tcpdump.proc.kill('SIGINT');
    if (server) server.kill('SIGKILL');
    lab.deletePair(NS_SRV, NS_CLI);
    rmSync(tcpdumpOut, { force: true });
  }
}

/** Fallback: a corpus capture's records repeated, each copy shifted past the previous one. */
function bulkByReplication(path, why) {
  const src = join(root, '..', 'shared', 'captures', 'http-206-zerowindow-retx-ooo.pcap');
  const buf = readFileSync(src);
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('replication source must be a little-endian µs pcap');
  const recs = [];
  for (let p = 24; p + 16 <= buf.length;) { const len = 16 + buf.readUInt32LE(p + 8); recs.push([p, len]); p += len; }
  const first = buf.readUInt32LE(24);
  const last = buf.readUInt32LE(recs[recs.length - 1][0]);
  const span = last - first + 1;
  const fd = openSync(path + '.tmp', 'w');
  writeSync(fd, buf, 0, 24);
  let written = 24;
  for (let copy = 0; written < targetMB * 1e6; copy++) {
    const out = Buffer.from(buf.subarray(24));
    for (const [p] of recs) out.writeUInt32LE(buf.readUInt32LE(p) + copy * span, p - 24);
    writeSync(fd, out);
    written += out.length;
  }
  closeSync(fd);
  renameSync(path + '.tmp', path);
  return `FALLBACK: ${src} replicated with shifted timestamps (${why})`;
}

const canNamespaces = () => process.getuid?.() === 0 && sh('ip', ['netns', 'list']).status === 0 && has('tcpdump');

async function makeBulk(path) {
  if (!forceReplicate && canNamespaces()) {
    try {
      return await bulkFromNamespaces(path);
    } catch (e) {
      log(`namespaces failed (${e.message}); falling back to replication`);
    }
  }
  return bulkByReplication(path, forceReplicate ? '--replicate' : 'network namespaces unavailable');
}

function runScript(script, a) {
  const r = spawnSync(process.execPath, [join(root, 'bench', script), ...a], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status ?? r.signal})`);
}
const metaOf = (path) => (existsSync(path + '.meta.json') ? JSON.parse(readFileSync(path + '.meta.json', 'utf8')) : null);

const synthetic = (n, vxlan) => ({
  file: `short-synthetic${vxlan ? '-vxlan' : ''}-${n}.pcap`,
  make: (path) => runScript('gen-short-conns.mjs', ['--out', path, '--conns', String(n), ...(vxlan ? ['--vxlan'] : [])]),
  describe: (path) => {
    const m = metaOf(path);
    return `synthetic (bench/gen-short-conns.mjs${vxlan ? ' --vxlan' : ''}): ${m.connections.toLocaleString('en-US')} short HTTP connections, ` +
      `${m.dataRetransmissions} lost responses retransmitted, ${m.synAckRetransmissions} SYN/ACK retransmissions, ${m.http503} 503s, ` +
      `${m.clientResets} client resets, ${m.refused} refused${vxlan ? '; every frame inside VXLAN (VNI 7001)' : ''}`;
  },
});

const CAPTURES = {
  bulk: {
    file: `${forceReplicate ? 'replicated' : 'http'}-${targetMB}mb.pcap`,
    make: async (path) => writeFileSync(path + '.source', await makeBulk(path)),
    describe: (path) => readFileSync(path + '.source', 'utf8'),
  },
  'short-synthetic': synthetic(conns, false),
  'short-synthetic-2m': synthetic(2000000, false),
  'short-recorded': {
    file: `short-recorded-${conns}.pcap`,
    available: canNamespaces,
    make: (path) => runScript('record-short-conns.mjs', ['--out', path, '--conns', String(conns)]),
    describe: (path) => {
      const m = metaOf(path);
      return `recorded between network namespaces (bench/record-short-conns.mjs): ${m.client.ok.toLocaleString('en-US')} short HTTP connections ` +
        `(agent: false, Connection: close, 128 at a time, 8 client addresses), ${m.client.status5xx} 503s; tcpdump dropped ${m.tcpdump.droppedByKernel}`;
    },
  },
  vxlan: synthetic(conns, true),
};

async function ensureCapture(name) {
  const c = CAPTURES[name];
  if (!c) throw new Error(`unknown capture "${name}" (known: ${Object.keys(CAPTURES).join(', ')})`);
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, c.file);
  const made = () => existsSync(path) && (existsSync(path + '.meta.json') || existsSync(path + '.source'));
  if (!made() || regen) {
    if (c.available && !c.available()) return null;
    log(`making ${name} capture ${path}`);
    await c.make(path);
  }
  return { path, source: c.describe(path) };
}

// ---------------------------------------------------------------- measure -----
const hasTime = existsSync('/usr/bin/time');

/** RSS high-water mark of a process tree from /proc (when /usr/bin/time is absent). */
function procPeakKb(pid) {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Runs `sh -c CMD` once; resolves { seconds, cpu, rssMB, stdout, error }. */
function runOnce(cmd) {
  return new Promise((resolve) => {
    const full = hasTime ? ['/usr/bin/time', ['-f', '__RSS_KB=%M __CPU=%U+%S', 'sh', '-c', cmd]] : ['sh', ['-c', cmd]];
    const t0 = process.hrtime.bigint();
    const p = spawn(full[0], full[1], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let peak = 0;
    const poll = hasTime ? null : setInterval(() => {
      // sh -c forks the command; take the largest high-water mark among its children.
      const kids = sh('pgrep', ['-P', String(p.pid)]).stdout.trim().split('\n').filter(Boolean).map(Number);
      for (const k of [p.pid, ...kids]) peak = Math.max(peak, procPeakKb(k));
    }, 50);
    // Only the first MB of output is kept; tshark's conversation lines ("<->") are counted
    // as they stream, so a 200k-connection table is counted whole.
    let partial = '';
    let arrowLines = 0;
    p.stdout.on('data', (d) => {
      const text = partial + d;
      const lines = text.split('\n');
      partial = lines.pop();
      for (const l of lines) if (l.includes('<->')) arrowLines++;
      if (out.length < 1 << 20) out += d;
    });
    p.stderr.on('data', (d) => { err += d; if (err.length > 1 << 16) err = err.slice(-(1 << 15)); });
    p.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (poll) clearInterval(poll);
      const m = /__RSS_KB=(\d+) __CPU=([\d.]+)\+([\d.]+)/.exec(err);
      const failed = code !== 0 && code !== 2;
      resolve({
        seconds, cpu: m ? Number(m[2]) + Number(m[3]) : null, rssMB: (m ? Number(m[1]) : peak || NaN) / 1024, stdout: out,
        arrowLines: arrowLines + (partial.includes('<->') ? 1 : 0),
        error: failed ? `exit ${code}: ${err.replace(/__RSS_KB.*/, '').trim().split('\n').slice(-2).join(' ').slice(0, 200)}` : null,
      });
    });
  });
}

async function measure(cmd) {
  let best = null;
  for (let i = 0; i < runs; i++) {
    const r = await runOnce(cmd);
    if (r.error) return r;
    if (!best || r.seconds < best.seconds) best = r;
  }
  return best;
}

const q = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;
// The machine is shared: a run that would take all its memory stops at --mem-limit-mb instead
// (Node: V8 heap limit; tshark and tcptrace: address-space limit) and its row says so.
const memLimitMB = Number(opt('mem-limit-mb', '8000'));
const node = `${q(process.execPath)} --max-old-space-size=${memLimitMB}`;
const limited = (cmd) => `ulimit -v ${memLimitMB * 1024}; ${cmd}`;

// By default the engine is built from the last commit (git archive HEAD), not from the work
// tree, which other engineers may be editing; --worktree builds what is on disk.
const fromWorktree = args.includes('--worktree');
function sourceRoot() {
  if (fromWorktree) return root;
  const src = join(outDir, 'src');
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  const r = spawnSync('sh', ['-c', `git archive HEAD main preload bench package.json tsconfig.json | tar -x -C ${q(src)}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git archive failed: ${r.stderr}`);
  return src;
}

async function bundle() {
  mkdirSync(outDir, { recursive: true });
  const src = sourceRoot();
  const common = {
    absWorkingDir: src, nodePaths: [join(root, 'node_modules')],
    bundle: true, platform: 'node', target: 'node20', format: 'esm', logLevel: 'error',
    external: ['cap', 'ws', 'electron', 'bufferutil', 'utf-8-validate'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  };
  await Promise.all([
    build({ ...common, entryPoints: ['bench/engine-bench.ts'], outfile: join(outDir, 'engine-bench.mjs') }),
    build({ ...common, entryPoints: ['main/cli/tapscope.ts'], outfile: join(outDir, 'tapscope.mjs') }),
    build({ ...common, entryPoints: ['bench/workbench-open.ts'], outfile: join(outDir, 'workbench-open.mjs') }),
    build({ ...common, entryPoints: ['main/engine/analyze-worker.ts'], outfile: join(outDir, 'analyze-worker.mjs') }),
    build({ ...common, entryPoints: ['main/engine/app-stage-worker.ts'], outfile: join(outDir, 'app-stage-worker.mjs') }),
  ]);
}

/** Packets in a pcap file (record headers only), for packets/s. */
function countPcap(path) {
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(24);
  readSync(fd, head, 0, 24, 0);
  const magic = head.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && head.readUInt32BE(0) !== 0xa1b2c3d4 && head.readUInt32BE(0) !== 0xa1b23c4d) {
    closeSync(fd);
    return null; // pcapng: counted by the Tapscope run instead
  }
  const rec = Buffer.alloc(16);
  let pos = 24;
  let n = 0;
  const size = statSync(path).size;
  while (pos + 16 <= size) {
    readSync(fd, rec, 0, 16, pos);
    pos += 16 + (le ? rec.readUInt32LE(8) : rec.readUInt32BE(8));
    n++;
  }
  closeSync(fd);
  return n;
}

/** TCP conversations tshark's conv,tcp table lists (its definition of a connection). */

const cliHasFlows = () => /\btapscope flows\b/.test(sh(process.execPath, [join(outDir, 'tapscope.mjs'), '--help']).stdout);

// ---------------------------------------------------------------- one capture ------
const fmt = (n, d = 2) => (n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d));
const int = (n) => (n === null || Number.isNaN(n) ? '-' : Math.round(n).toLocaleString('en-US'));

async function benchCapture(name, cap, baseRssMB, results) {
  const { path, source } = cap;
  const size = statSync(path).size;
  sh('sh', ['-c', `cat ${q(path)} > /dev/null`]); // warm the page cache
  const packets = countPcap(path);
  const loadBefore = loadavg();
  log(`${name}: ${path} (${(size / 1e6).toFixed(1)} MB, ${packets ?? '?'} packets), load ${loadBefore}`);
  const rows = [];
  const add = (label, r, note = '') => { rows.push({ label, r, note }); log(`  ${label}: ${r.error ?? `${fmt(r.seconds)} s wall, ${fmt(r.cpu)} s CPU, ${fmt(r.rssMB, 0)} MB`}`); };
  const tap = `${node} ${q(join(outDir, 'tapscope.mjs'))}`;
  if (args.includes('--stages')) {
    for (const mode of ['read', 'decode', 'session']) add(`Tapscope engine: ${mode}`, await measure(`${node} ${q(join(outDir, 'engine-bench.mjs'))} ${mode} ${q(path)}`));
  }
  let tapscope = null;
  if (tools.has('tapscope')) {
    tapscope = await measure(`${tap} analyze ${q(path)} --json > /dev/null`);
    add('`tapscope analyze FILE --json > /dev/null`', tapscope);
    if (tools.has('split')) add('`TAPSCOPE_ANALYZE_THREADS=2 tapscope analyze FILE --json` (split analysis)', await measure(`TAPSCOPE_ANALYZE_THREADS=2 ${tap} analyze ${q(path)} --json > /dev/null`));
  }
  let tshark = null;
  if (tools.has('tshark') && has('tshark')) {
    tshark = await measure(limited(`tshark -q -z conv,tcp -r ${q(path)}`));
    add('`tshark -q -z conv,tcp -r FILE`', tshark);
  }
  let tcptrace = null;
  if (tools.has('tcptrace') && has('tcptrace')) {
    tcptrace = await measure(limited(`tcptrace -n -l ${q(path)} > /dev/null`));
    add('`tcptrace -n -l FILE > /dev/null`', tcptrace, name === 'vxlan' ? 'sees only the outer UDP (no VXLAN decoding)' : '');
  }
  if (tools.has('flows') && cliHasFlows()) {
    const ipfix = join(outDir, 'bench-flows.ipfix');
    add('`tapscope flows FILE -w OUT.ipfix`', await measure(`${tap} flows ${q(path)} -w ${q(ipfix)}`));
    rmSync(ipfix, { force: true });
  }
  let wb = null;
  if (tools.has('workbench')) {
    const r = await measure(`${node} ${q(join(outDir, 'workbench-open.mjs'))} ${q(join(outDir, 'analyze-worker.mjs'))} ${q(path)}`);
    if (!r.error) wb = { ...r, ...JSON.parse(r.stdout.trim().split('\n').pop()) };
    add('workbench: `openFile` through the service + worker', r);
  }
  const connections = tshark && !tshark.error ? tshark.arrowLines : wb?.connections ?? null;
  const loadAfter = loadavg();

  const ratio = (other, mine, key) => (other && mine && !other.error && !mine.error && other[key] && mine[key] ? `${(other[key] / mine[key]).toFixed(1)}×` : '-');
  const lines = [];
  lines.push(`### ${name}: ${(size / 1e6).toFixed(1)} MB, ${int(packets)} packets${connections !== null ? `, ${int(connections)} ${tshark && !tshark.error ? 'TCP connections (tshark conv,tcp)' : 'connections (Tapscope)'}` : ''}`);
  lines.push('');
  lines.push(`${source}. Load average ${loadBefore} before, ${loadAfter} after; ${runs === 1 ? 'one run' : `best of ${runs}`} each.`);
  lines.push('');
  lines.push('| run | wall s | CPU s | packets/s (wall) | peak RSS MB | Tapscope faster by (wall) | (CPU) |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const { label, r, note } of rows) {
    if (r.error) {
      lines.push(`| ${label} | failed after ${fmt(r.seconds)} s (${r.error.replace(/\|/g, '/')}) | ${fmt(r.cpu)} | | ${fmt(r.rssMB, 0)} | | |`);
      continue;
    }
    const vs = r === tapscope || !tapscope || !['tshark', 'tcptrace'].some((t) => label.startsWith('`' + t)) ? ['', ''] : [ratio(r, tapscope, 'seconds'), ratio(r, tapscope, 'cpu')];
    lines.push(`| ${label}${note ? ` (${note})` : ''} | ${fmt(r.seconds)} | ${fmt(r.cpu)} | ${packets ? int(packets / r.seconds) : '-'} | ${fmt(r.rssMB, 0)} | ${vs[0]} | ${vs[1]} |`);
  }
  lines.push('');
  if (tapscope && !tapscope.error && connections) {
    const perConn = ((tapscope.rssMB - baseRssMB) * 1024) / connections;
    const perConnUs = (tapscope.cpu * 1e6) / connections;
    lines.push(`Tapscope per connection: ${perConn.toFixed(2)} KB of peak RSS beyond the ${fmt(baseRssMB, 0)} MB of a tiny capture, ${perConnUs.toFixed(1)} µs of CPU (whole run / connections).`);
  }
  if (wb) {
    lines.push(`Workbench: first results (first delta) after ${int(wb.firstResultMs)} ms, complete after ${fmt(wb.completeMs / 1000)} s` +
      `${tapscope && !tapscope.error ? ` (${(wb.completeMs / 1000 / tapscope.seconds).toFixed(2)}× the CLI's wall time)` : ''}, final state ${wb.state}, ` +
      `${int(wb.packets)} packets, ${int(wb.connections)} connections, process peak RSS ${fmt(wb.rssMB, 0)} MB.`);
  }
  lines.push('');
  console.log(lines.join('\n'));
  results[name] = { tapscope, tshark, tcptrace, wb, connections, packets };
}

// ---------------------------------------------------------------- main ------------
await bundle();
console.log(`# Tapscope bench, ${new Date().toISOString()}\n`);
console.log(`node ${process.version}, ${sh('tshark', ['--version']).stdout.split('\n')[0] || 'no tshark'}, ${sh('sh', ['-c', 'tcptrace -v 2>&1 | head -1']).stdout.trim() || 'no tcptrace'}; ` +
  `${readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length} CPUs; load average at start ${loadavg()}. ` +
  `Each run in its own process, page cache warm. Ratios: the other tool's time / Tapscope's.\n`);
const head = sh('git', ['log', '-1', '--format=%h %cI']).stdout.trim();
const dirty = sh('git', ['status', '--porcelain', '--', 'main', 'preload']).stdout.trim().split('\n').filter(Boolean).map((l) => l.slice(3));
console.log(fromWorktree
  ? `Engine built from the work tree at commit ${head}${dirty.length ? ` plus uncommitted changes in ${dirty.join(', ')}` : ''}.\n`
  : `Engine built from commit ${head} (git archive HEAD).\n`);
const base = await runOnce(`${node} ${q(join(outDir, 'tapscope.mjs'))} analyze ${q(TINY)} --json > /dev/null`);
const baseRssMB = base.error ? 0 : base.rssMB;
console.log(`Baseline: \`tapscope analyze --json\` on a tiny capture (${TINY.replace(root + '/', '')}) peaks at ${fmt(baseRssMB, 0)} MB RSS, ${fmt(base.cpu)} s CPU (Node start-up).\n`);
if (has('softflowd')) {
  console.log('softflowd: not measured. `softflowd -r FILE -n HOST:PORT -d` (1.1.0) blocks in accept() on its control socket and never reads the file (strace), so it gives no flow-export timing.\n');
}
const results = {};
for (const name of only) {
  if (name === 'receiver' || name === 'sensor' || name in DECRYPT_ROWS) continue; // after the live capture
  let cap;
  try {
    cap = await ensureCapture(name);
  } catch (e) {
    console.log(`### ${name}: not measured (${e.message})\n`);
    continue;
  }
  if (!cap) {
    console.log(`### ${name}: not measured (needs root and network namespaces)\n`);
    continue;
  }
  await benchCapture(name, cap, baseRssMB, results);
}
const s200 = results['short-synthetic']?.tapscope;
const s2m = results['short-synthetic-2m']?.tapscope;
if (s200 && s2m && !s200.error && !s2m.error) {
  console.log(`Scaling, synthetic short connections: 2M / 200k Tapscope wall time ${(s2m.seconds / s200.seconds).toFixed(1)}× (target ≤ 11×), CPU ${(s2m.cpu / s200.cpu).toFixed(1)}×, peak RSS ${fmt(s2m.rssMB, 0)} MB (target ≤ 2,500 MB).\n`);
}
console.log(`Load average at the end: ${loadavg()} (other work on the machine inflates wall times; CPU s is steadier).`);

// Live capture: the helper -> analysis path on loopback, tcpdump as reference (issue 7).
if (!args.includes('--no-live')) {
  console.log('');
  spawnSync(process.execPath, [join(root, 'scripts', 'bench-capture.mjs')], { stdio: 'inherit' });
}
if (only.includes('receiver') || !args.includes('--only')) receiverBench();
if (only.includes('sensor')) sensorBench();
for (const n of Object.keys(DECRYPT_ROWS)) if (only.includes(n) || !args.includes('--only')) decryptBench(n);
