// Sensor bench (issue 13; `npm run bench -- --only sensor`): --flows distinct flows (default
// 1,000,000; SYN then RST-ACK in VXLAN VNI 42) at a steady --rate flows/s (default 20,000)
// through the live path of `listen` (test/flows/sensor-soak.ts: LiveSink with the CLI's
// analysis budget, the flow cache with a 1 s idle timeout, live IPFIX export) into a real
// nfcapd. Reported: the rate achieved, export drops, what nfcapd counted (records, packets,
// octets, sequence errors) against what was sent, and the RSS and JS heap over time. The
// UDP receive path itself is the `receiver` row. The load average is printed: other people
// share the 2 cores.
//   node scripts/bench-sensor.mjs [--flows N] [--rate R] [--json]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const flows = Number(opt('flows', '1000000'));
const rate = Number(opt('rate', '20000'));
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
if (spawnSync('sh', ['-c', 'command -v nfcapd']).status !== 0) {
  console.log('sensor: not measured (nfcapd, Debian package nfdump, is not installed)');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'tapscope-bench-sensor-'));
const port = 40000 + Math.floor(Math.random() * 10000);
let log = '';
const nf = spawn('nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '3600', '-B', String(4 << 20)], { stdio: ['ignore', 'pipe', 'pipe'] });
nf.stdout.on('data', (d) => (log += d));
nf.stderr.on('data', (d) => (log += d));
for (let i = 0; i < 50 && !log.includes('Startup'); i++) await new Promise((r) => setTimeout(r, 100));
const load0 = loadavg();
const soak = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'flows', 'sensor-soak.ts'), String(flows), String(rate), String(port), '1'], { encoding: 'utf8', cwd: root, maxBuffer: 1 << 26 });
await new Promise((r) => setTimeout(r, 500));
const exited = new Promise((r) => nf.once('exit', r));
nf.kill('SIGTERM');
await exited;
rmSync(dir, { recursive: true, force: true });
if (soak.status !== 0) {
  console.log(`sensor: the soak failed (exit ${soak.status}): ${soak.stderr.slice(-2000)}`);
  process.exit(1);
}
const s = JSON.parse(soak.stdout);
const m = /Flows: (\d+), Packets: (\d+), Bytes: (\d+), Sequence Errors: (\d+)/.exec(log);
const got = m ? { records: +m[1], packets: +m[2], octets: +m[3], sequenceErrors: +m[4] } : null;
const x = s.flowStats.exporters[0];
const every = Math.max(1, Math.round(s.samples.length / 12));
const result = {
  flows, rateAsked: rate, rateAchieved: Math.round(flows / s.feedSec), feedSec: s.feedSec, loadAverage: `${load0} -> ${loadavg()}`,
  sent: { records: s.flowStats.records, packets: s.flowStats.packets, octets: s.flowStats.octets, messages: x.messages, exportDropped: x.dropped },
  nfcapd: got, rotations: s.rotated.rotations,
  rssMB: { max: Math.max(...s.samples.map((p) => p.rssMB)), samples: s.samples.filter((_, i) => i % every === 0).map((p) => [p.t, p.flows, p.rssMB, p.heapMB]) },
};
if (args.includes('--json')) console.log(JSON.stringify(result));
else {
  console.log(`${flows.toLocaleString('en-US')} flows asked at ${rate.toLocaleString('en-US')}/s: fed in ${s.feedSec.toFixed(1)} s (${result.rateAchieved.toLocaleString('en-US')} flows/s, ${(result.rateAchieved * 2).toLocaleString('en-US')} packets/s), load average ${result.loadAverage}`);
  console.log(`exported ${x.messages} IPFIX messages, ${x.dropped} dropped; records sent ${s.flowStats.records}, nfcapd counted ${got ? `${got.records} records, ${got.packets} packets, ${got.octets} octets, ${got.sequenceErrors} sequence errors` : 'nothing (no summary)'}`);
  console.log(`analysis restarted ${s.rotated.rotations} times (budget 50,000 connections); RSS max ${result.rssMB.max} MB`);
  console.log('RSS over time (s, flows fed, RSS MB, heap MB): ' + result.rssMB.samples.map(([t, f, r, h]) => `${t.toFixed(0)} s ${f} ${r} ${h}`).join('; '));
}
