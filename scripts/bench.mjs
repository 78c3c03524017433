// `npm run bench`: Tapscope's engine against tshark on one large capture of real HTTP traffic.
//
// 1. The capture (cached in bench/data/, gitignored): two network namespaces (tsCsrv,
//    tsCcli) joined by a veth pair with offloads off (so frames are wire-sized, as a TAP
//    sees them), a Node HTTP server in one, a bounded client loop in the other, tcpdump on
//    the server's veth. Without namespaces (not root, no iproute2) it falls back to a
//    corpus capture replicated with shifted timestamps, and says so.
// 2. Measurements, each in its own process, same file, same run, page cache warm:
//    Tapscope read / read+decode / full analysis (engine) and `tapscope analyze --json`,
//    `tshark -r FILE -q`, `tshark -q -z conv,tcp -r FILE`; wall time and peak RSS
//    (/usr/bin/time -f %M when present).
// Options: --regen (new capture), --mb N (target size, default 200), --runs N (best of N, default 1),
// --replicate (use the fallback capture even where namespaces work).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, openSync, writeSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const targetMB = Number(opt('mb', '200'));
const runs = Number(opt('runs', '1'));
const dataDir = join(root, 'bench', 'data');
const forceReplicate = args.includes('--replicate');
const capPath = join(dataDir, forceReplicate ? `replicated-${targetMB}mb.pcap` : `http-${targetMB}mb.pcap`);
const outDir = join(root, 'out', 'bench');

const sh = (cmd, a, o = {}) => spawnSync(cmd, a, { encoding: 'utf8', ...o });
const log = (s) => process.stderr.write(s + '\n');

// ---------------------------------------------------------------- capture -----
const NS_SRV = 'tsCsrv';
const NS_CLI = 'tsCcli';

function cleanupNamespaces() {
  sh('ip', ['netns', 'del', NS_SRV]);
  sh('ip', ['netns', 'del', NS_CLI]);
}

function must(cmd, a) {
  const r = sh(cmd, a);
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')}: ${r.stderr || r.error}`);
}

const SERVER = `
const http = require('http');
const body = Buffer.alloc(1 << 20, 'x');
http.createServer((req, res) => {
  const n = Math.min(Number(req.url.slice(1)) || 0, body.length);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
  res.end(body.subarray(0, n));
}).listen(8080, '10.77.0.1', () => console.log('ready'));`;

// Bounded: SESSIONS keep-alive connections, each making the same 6 requests; CONC at a time.
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

async function generateFromNamespaces(path) {
  cleanupNamespaces();
  const tcpdumpOut = path + '.tmp';
  let tcpdump = null;
  let server = null;
  try {
    must('ip', ['netns', 'add', NS_SRV]);
    must('ip', ['netns', 'add', NS_CLI]);
    must('ip', ['link', 'add', 'tsCa', 'type', 'veth', 'peer', 'name', 'tsCb']);
    must('ip', ['link', 'set', 'tsCa', 'netns', NS_SRV]);
    must('ip', ['link', 'set', 'tsCb', 'netns', NS_CLI]);
    for (const [ns, dev, ip] of [[NS_SRV, 'tsCa', '10.77.0.1/24'], [NS_CLI, 'tsCb', '10.77.0.2/24']]) {
      must('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', ip, 'dev', dev]);
      must('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', dev, 'up']);
      must('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
      // Wire-sized frames: no TSO/GSO/GRO (a TAP never sees 64 KB "packets").
      sh('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off']);
    }
    server = spawn('ip', ['netns', 'exec', NS_SRV, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((ok, fail) => { server.stdout.once('data', ok); server.once('exit', () => fail(new Error('HTTP server exited'))); });
    tcpdump = spawn('ip', ['netns', 'exec', NS_SRV, 'tcpdump', '-i', 'tsCa', '-s', '0', '-B', '65536', '-n', '-w', tcpdumpOut], { stdio: ['ignore', 'ignore', 'pipe'] });
    let tdErr = '';
    tcpdump.stderr.on('data', (d) => { tdErr += d; });
    await new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error('tcpdump did not start: ' + tdErr)), 10000);
      const check = () => { if (/listening on/.test(tdErr)) { clearTimeout(t); ok(); } else setTimeout(check, 50); };
      check();
    });
    // ~535 KB of responses per session.
    const sessions = Math.max(10, Math.round((targetMB * 1e6) / 560000));
    log(`bench: generating traffic: ${sessions} connections x 6 HTTP requests (10.77.0.2 -> 10.77.0.1:8080), tcpdump on veth tsCa`);
    const client = sh('ip', ['netns', 'exec', NS_CLI, process.execPath, '-e', CLIENT(sessions)], { timeout: 600000 });
    if (client.status !== 0) throw new Error('client failed: ' + client.stderr);
    log(`bench: client: ${client.stdout.trim()}`);
    await new Promise((r) => setTimeout(r, 500));
    tcpdump.kill('SIGINT');
    await new Promise((r) => tcpdump.once('exit', r));
    log(`bench: tcpdump: ${tdErr.trim().split('\n').slice(-3).join('; ')}`);
    tcpdump = null;
    renameSync(tcpdumpOut, path);
    return { source: `real HTTP traffic between network namespaces (${sessions} connections)` };
  } finally {
    if (tcpdump) tcpdump.kill('SIGINT');
    if (server) server.kill('SIGKILL');
    cleanupNamespaces();
    rmSync(tcpdumpOut, { force: true });
  }
}

/** Fallback: a corpus capture's records repeated, each copy shifted past the previous one. */
function generateByReplication(path, why) {
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
  return { source: `FALLBACK: ${src} replicated with shifted timestamps (${why})` };
}

async function ensureCapture() {
  mkdirSync(dataDir, { recursive: true });
  const meta = path => path + '.source';
  if (existsSync(capPath) && !args.includes('--regen')) return readFileSync(meta(capPath), 'utf8');
  let info;
  const canNs = !forceReplicate && process.getuid?.() === 0 && sh('ip', ['netns', 'list']).status === 0 && sh('tcpdump', ['--version']).status === 0;
  if (canNs) {
    try {
      info = await generateFromNamespaces(capPath);
    } catch (e) {
      log(`bench: namespaces failed (${e.message}); falling back to replication`);
    }
  }
  if (!info) info = generateByReplication(capPath, forceReplicate ? '--replicate' : 'network namespaces unavailable');
  const fd = openSync(meta(capPath), 'w');
  writeSync(fd, info.source);
  closeSync(fd);
  return info.source;
}

// ---------------------------------------------------------------- measure -----
const hasTime = existsSync('/usr/bin/time');

/** Runs a command; returns wall seconds (best of `runs`) and peak RSS in MB. */
function measure(cmd, a, { stdoutJson = false } = {}) {
  let best = null;
  for (let i = 0; i < runs; i++) {
    const full = hasTime ? ['/usr/bin/time', ['-f', '__RSS_KB=%M __CPU=%U+%S', cmd, ...a]] : [cmd, a];
    const t0 = process.hrtime.bigint();
    const r = spawnSync(full[0], full[1], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0 && r.status !== 2) throw new Error(`${cmd} ${a.join(' ')} failed: ${r.stderr.slice(-500)}`);
    const m = /__RSS_KB=(\d+) __CPU=([\d.]+)\+([\d.]+)/.exec(r.stderr);
    const res = {
      seconds, rssMB: m ? Number(m[1]) / 1024 : null, cpu: m ? Number(m[2]) + Number(m[3]) : null,
      json: stdoutJson ? JSON.parse(r.stdout.trim().split('\n').pop()) : null,
    };
    if (!best || res.seconds < best.seconds) best = res;
  }
  return best;
}

async function bundle() {
  mkdirSync(outDir, { recursive: true });
  const common = {
    bundle: true, platform: 'node', target: 'node20', format: 'esm', logLevel: 'error',
    external: ['cap', 'ws', 'electron', 'bufferutil', 'utf-8-validate'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  };
  await build({ ...common, entryPoints: ['bench/engine-bench.ts'], outfile: join(outDir, 'engine-bench.mjs') });
  await build({ ...common, entryPoints: ['main/cli/tapscope.ts'], outfile: join(outDir, 'tapscope.mjs') });
}

const source = await ensureCapture();
await bundle();
const size = statSync(capPath).size;
log(`bench: ${capPath} (${(size / 1e6).toFixed(1)} MB): ${source}`);
sh('cat', [capPath], { stdio: ['ignore', 'ignore', 'ignore'] }); // warm the page cache

const rows = [];
const engine = (mode) => measure(process.execPath, [join(outDir, 'engine-bench.mjs'), mode, capPath], { stdoutJson: true });
const read = engine('read');
const packets = read.json.packets;
rows.push(['cat FILE > /dev/null (page cache)', measure('sh', ['-c', `cat '${capPath}' > /dev/null`])]);
rows.push(['Tapscope read', read]);
rows.push(['Tapscope read + decode', engine('decode')]);
rows.push(['Tapscope read + decode + analysis', engine('session')]);
rows.push(['tapscope analyze --json (CLI)', measure('sh', ['-c', `'${process.execPath}' '${join(outDir, 'tapscope.mjs')}' analyze '${capPath}' --json > /dev/null`])]);
rows.push(['tshark -r FILE -q', measure('tshark', ['-r', capPath, '-q'])]);
rows.push(['tshark -q -z conv,tcp -r FILE', measure('tshark', ['-q', '-z', 'conv,tcp', '-r', capPath])]);

const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const tsharkConv = rows[rows.length - 1][1].seconds;
console.log(`\nFile: ${capPath}\n  ${(size / 1e6).toFixed(1)} MB, ${packets} packets; ${source}\n  node ${process.version}, ${runs === 1 ? 'one run' : `best of ${runs}`} each, page cache warm\n`);
const tsharkConvCpu = rows[rows.length - 1][1].cpu;
console.log(`${pad('what', 36)}${lpad('wall s', 8)}${lpad('CPU s', 8)}${lpad('packets/s', 12)}${lpad('MB/s', 7)}${lpad('peak RSS MB', 13)}${lpad('vs conv,tcp', 13)}`);
for (const [name, r] of rows) {
  console.log(`${pad(name, 36)}${lpad(r.seconds.toFixed(2), 8)}${lpad(r.cpu === null ? '-' : r.cpu.toFixed(2), 8)}${lpad(Math.round(packets / r.seconds).toLocaleString('en-US'), 12)}${lpad((size / 1e6 / r.seconds).toFixed(0), 7)}${lpad(r.rssMB === null ? '-' : r.rssMB.toFixed(0), 13)}${lpad((tsharkConv / r.seconds).toFixed(1) + 'x', 13)}`);
}
console.log(`\npackets/s and MB/s from wall time; "vs conv,tcp" = tshark -z conv,tcp wall time / this wall time${tsharkConvCpu ? ` (by CPU time: Tapscope analyze ${(tsharkConvCpu / rows[4][1].cpu).toFixed(1)}x)` : ''}.`);
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`load average during the run: ${load} (other work on the machine inflates wall times; CPU s is steadier)`);

// Live capture: the helper -> analysis path on loopback, tcpdump as reference (issue 7).
console.log('');
spawnSync(process.execPath, [join(root, 'scripts', 'bench-capture.mjs')], { stdio: 'inherit' });
