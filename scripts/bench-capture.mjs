// Capture-side benchmark: how many packets/s the capture helper -> CaptureService ->
// AnalysisSession (+ pcapng spool) path sustains on loopback, with tcpdump capturing the
// same traffic as the reference. Needs root (or the capture capabilities). Usage:
//   node scripts/bench-capture.mjs [--rates 50000,100000,150000,200000,300000] [--seconds 2] [--json]
// Each round sends UDP frames (64-byte payload, 64 source ports) on lo at a paced rate while
// Tapscope (helper -> CaptureService -> AnalysisSession + pcapng spool) and tcpdump -w
// /dev/null capture them; reported: packets seen, kernel and app drops, CPU time per packet.
// The result is the highest rate with every packet captured and no drop.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const rates = (args.includes('--rates') ? args[args.indexOf('--rates') + 1] : '50000,100000,150000,200000,300000').split(',').map(Number);
const seconds = Number(args.includes('--seconds') ? args[args.indexOf('--seconds') + 1] : 2);
const asJson = args.includes('--json');
const PORT = 47999;

function out(result) {
  if (asJson) process.stdout.write(JSON.stringify(result) + '\n');
  else console.log(`capture bench skipped: ${result.skipped}`);
}

if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  out({ skipped: 'needs root on Linux (raw capture on loopback)' });
  process.exit(0);
}
const svcPath = join(root, 'main/capture/service.ts');
const helper = join(root, 'out/cli/capture-helper.mjs');

// The helper and the addon as scripts/build.mjs builds them; the service (TypeScript)
// through esbuild into a temporary bundle.
const tmp = mkdtempSync(join(tmpdir(), 'tsEbench-'));
const { build } = await import('esbuild');
const banner = { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" };
await build({
  entryPoints: [join(root, 'main/capture/helper.ts')], outfile: helper, bundle: true, platform: 'node', target: 'node20', format: 'esm',
  external: ['cap'], logLevel: 'warning', banner, sourcemap: true,
});
(await import('./build-tapcap.mjs')).buildTapcap();
if (!existsSync(helper)) {
  out({ skipped: 'could not build out/cli/capture-helper.mjs' });
  process.exit(0);
}
await build({
  entryPoints: [svcPath], outfile: join(tmp, 'service.mjs'), bundle: true, platform: 'node', target: 'node20', format: 'esm',
  external: ['cap'], logLevel: 'warning',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
process.env.TAPSCOPE_CAPTURE_HELPER_PATH = helper;
const { CaptureService } = await import(pathToFileURL(join(tmp, 'service.mjs')).href);

const cpuOf = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, seconds (USER_HZ 100)
  } catch {
    return NaN;
  }
};

const filter = `udp dst port ${PORT}`;

// Sender: injects prebuilt Ethernet/IPv4/UDP frames on lo with cap's pcap_sendpacket (far
// faster than dgram), paced to `rate` packets/s for `seconds`; 64 source ports.
const senderCode = (rate, seconds) => `
const { Cap } = require(${JSON.stringify(join(root, 'node_modules', 'cap'))});
const c = new Cap(); c.open('lo', 'udp port 9 and udp port 10', 1 << 20, Buffer.alloc(65535));
const f = Buffer.alloc(14 + 20 + 8 + 64);
f.writeUInt16BE(0x0800, 12); f[14] = 0x45; f.writeUInt16BE(92, 16); f[22] = 64; f[23] = 17;
f.set([127, 0, 0, 1], 26); f.set([127, 0, 0, 1], 30);
let sum = 0; for (let i = 14; i < 34; i += 2) sum += f.readUInt16BE(i);
while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16); f.writeUInt16BE(~sum & 0xffff, 24);
f.writeUInt16BE(${PORT}, 36); f.writeUInt16BE(72, 38);
const total = ${Math.round(rate * seconds)}; const t0 = process.hrtime.bigint(); let i = 0;
while (i < total) {
  const due = Math.min(total, Math.floor(Number(process.hrtime.bigint() - t0) / 1e9 * ${rate}) + 1);
  for (; i < due; i++) { f.writeUInt32BE(i, 42); f.writeUInt16BE(40000 + (i & 63), 34); c.send(f, 106); }
}
process.stdout.write(String(Number(process.hrtime.bigint() - t0) / 1e9));
c.close();`;

async function round(rate, seconds) {
  let td = null;
  let tdErr = '';
  if (spawnSync('sh', ['-c', 'command -v tcpdump']).status === 0) {
    td = spawn('tcpdump', ['-i', 'lo', '-n', '-B', '4096', '-w', '/dev/null', filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise((res) => td.stderr.on('data', (d) => { tdErr += d; if (/listening on/.test(tdErr)) res(); }));
  }
  const svc = new CaptureService();
  const cap = await svc.start({ device: 'lo', filter, output: join(tmp, 'bench.pcapng'), deltaIntervalMs: 250 });
  const helperPid = cap.child?.pid ?? null;
  const cpu0 = process.cpuUsage();
  const helperCpu0 = helperPid ? cpuOf(helperPid) : NaN;
  const p = spawn(process.execPath, ['-e', senderCode(rate, seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let took = '';
  p.stdout.on('data', (d) => (took += d));
  await new Promise((r) => p.on('close', r));
  await new Promise((r) => setTimeout(r, 1200)); // drain (tcpdump's libpcap hands over a block after up to 1 s)
  const helperCpu = helperPid ? cpuOf(helperPid) - helperCpu0 : NaN;
  const cpu = process.cpuUsage(cpu0);
  const end = await cap.stop();
  let tcpdump = null;
  if (td) {
    td.kill('SIGINT');
    await new Promise((r) => td.on('close', r));
    const n = (re) => Number(re.exec(tdErr)?.[1] ?? NaN);
    tcpdump = { captured: n(/(\d+) packets? captured/), dropped: n(/(\d+) packets? dropped by kernel/) };
  }
  const c = end.counters;
  const sent = Math.round(rate * seconds);
  const secs = Number(took) || seconds;
  return {
    targetPps: rate,
    sent,
    sendPps: Math.round(sent / secs),
    tapscope: {
      backend: cap.ready?.backend,
      packets: c.packets,
      droppedByKernel: c.droppedByKernel,
      droppedByApp: c.droppedByApp,
      helperUsPerPacket: Number(((helperCpu * 1e6) / Math.max(1, c.packets)).toFixed(2)),
      parentUsPerPacket: Number(((cpu.user + cpu.system) / Math.max(1, c.packets)).toFixed(2)),
    },
    tcpdump,
  };
}

const rounds = [];
for (const rate of rates) {
  const r = await round(rate, seconds);
  rounds.push(r);
  if (!asJson) {
    const t = r.tapscope;
    console.log(`  ${String(rate).padStart(7)} pkt/s target, ${String(r.sendPps).padStart(7)} sent/s: tapscope ${t.packets}/${r.sent} (kernel drops ${t.droppedByKernel}, app drops ${t.droppedByApp}; CPU/packet helper ${t.helperUsPerPacket} us, analysis+spool ${t.parentUsPerPacket} us)` +
      (r.tcpdump ? `; tcpdump ${r.tcpdump.captured}/${r.sent} (kernel drops ${r.tcpdump.dropped})` : ''));
  }
}
rmSync(tmp, { recursive: true, force: true });
const clean = rounds.filter((r) => r.tapscope.packets === r.sent && r.tapscope.droppedByApp === 0 && r.tapscope.droppedByKernel === 0);
const best = clean.length ? Math.max(...clean.map((r) => r.sendPps)) : 0;
const tdClean = rounds.filter((r) => r.tcpdump && r.tcpdump.captured === r.sent && r.tcpdump.dropped === 0);
const tdBest = tdClean.length ? Math.max(...tdClean.map((r) => r.sendPps)) : null;
if (asJson) process.stdout.write(JSON.stringify({ bench: 'capture-loopback', sustainedPps: best, tcpdumpSustainedPps: tdBest, rounds }) + '\n');
else console.log(`capture: helper -> analysis sustained ${best} pkt/s on loopback with no drops (tcpdump -w /dev/null: ${tdBest ?? 'n/a'} pkt/s in the same rounds)`);
