import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import type { Finding } from '../../main/analysis/findings.js';
import { skipUnlessRequired } from '../helpers/privileged.js';

/*
 * A lossy tap, built for real: a client and a server namespace (tsLc, tsLs) joined by a veth
 * pair, real HTTP between them (Node's http, every response complete: the client checks), and
 * the server port mirrored (tc mirred, both directions) into a VXLAN device towards a
 * collector namespace (tsLk), where tcpdump records the VXLAN stream. iptables in the server
 * namespace drops mirrored datagrams only (OUTPUT, UDP 4789): every other response head. The
 * tap loses packets, the real traffic loses none. Tapscope reads the collector's capture: requests whose responses
 * the tap lost are capture loss (http.response-not-captured), never "no complete response"
 * from a healthy server.
 */
const CLI = 'tsLc';
const SRV = 'tsLs';
const COL = 'tsLk';
const REQUESTS = 40;
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const isRoot = process.getuid?.() === 0;
const missing = ['ip', 'tc', 'tcpdump', 'iptables', 'ethtool'].filter((c) => !have(c));
const skipReason = skipUnlessRequired('tap-loss-netns', !isRoot ? 'needs root (network namespaces, tc, iptables, tcpdump)' : missing.length ? `missing tools: ${missing.join(', ')}` : null);

const sh = (args: string[]) => execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 }).toString();
const inNs = (ns: string, cmd: string) => sh(['ip', 'netns', 'exec', ns, 'sh', '-c', cmd]);
const started: ChildProcess[] = [];
let dir = '';

function cleanup(): void {
  for (const p of started) if (p.exitCode === null && p.pid) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  for (const ns of [CLI, SRV, COL]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

function waitFor(p: ChildProcess, re: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}: ${buf.slice(-300)}`)), ms);
    const on = (d: Buffer) => {
      buf += d.toString();
      if (re.test(buf)) {
        clearTimeout(t);
        resolve();
      }
    };
    p.stdout?.on('data', on);
    p.stderr?.on('data', on);
    p.on('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`exited (${c}) before ${re}: ${buf.slice(-300)}`));
    });
  });
}

const SERVER = `
const http = require('http');
const body = Buffer.alloc(3000, 0x62);
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, connection: 'close' });
  res.end(body);
}).listen(8080, '10.79.0.2', () => console.log('ready'));
`;

const CLIENT = `
const http = require('http');
const n = Number(process.argv[1]);
let ok = 0;
(async () => {
  for (let i = 0; i < n; i++) {
    await new Promise((resolve, reject) => {
      const req = http.get({ host: '10.79.0.2', port: 8080, path: '/obj/' + i, headers: { host: 'www.tap.test' }, agent: false }, (res) => {
        let got = 0;
        res.on('data', (d) => (got += d.length));
        res.on('end', () => { if (res.statusCode === 200 && got === 3000) ok++; resolve(); });
      });
      req.on('error', reject);
      req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    });
  }
  console.log(ok);
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

describe.skipIf(!!skipReason)('a lossy VXLAN tap (network namespaces): lost responses are capture loss, not server failures', () => {
  afterAll(() => {
    cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the mirror lost datagrams, the client got every response, and the findings blame the tap', async () => {
    cleanup();
    for (const ns of [CLI, SRV, COL]) {
      sh(['ip', 'netns', 'add', ns]);
      inNs(ns, 'ip link set lo up');
    }
    sh(['ip', 'link', 'add', 'tsLc0', 'netns', CLI, 'type', 'veth', 'peer', 'name', 'tsLs0', 'netns', SRV]);
    sh(['ip', 'link', 'add', 'tsLs1', 'netns', SRV, 'type', 'veth', 'peer', 'name', 'tsLk0', 'netns', COL]);
    inNs(CLI, 'ip addr add 10.79.0.1/24 dev tsLc0 && ip link set tsLc0 up && ethtool -K tsLc0 tso off gso off gro off >/dev/null');
    inNs(SRV, 'ip addr add 10.79.0.2/24 dev tsLs0 && ip link set tsLs0 up && ethtool -K tsLs0 tso off gso off gro off >/dev/null');
    // The mirror path: room for a full frame plus VXLAN's 50 bytes, so nothing fragments.
    inNs(SRV, 'ip addr add 10.79.1.1/24 dev tsLs1 && ip link set tsLs1 mtu 9000 up');
    inNs(COL, 'ip addr add 10.79.1.2/24 dev tsLk0 && ip link set tsLk0 mtu 9000 up');
    inNs(SRV, 'ip link add tsLvx type vxlan id 77 local 10.79.1.1 remote 10.79.1.2 dstport 4789 dev tsLs1 && ip link set tsLvx mtu 8900 up');
    // Both directions of the server's port, copied into the VXLAN device (RFC 7348 framing).
    inNs(SRV, 'tc qdisc add dev tsLs0 clsact');
    for (const hook of ['ingress', 'egress']) inNs(SRV, `tc filter add dev tsLs0 ${hook} protocol all u32 match u32 0 0 action mirred egress mirror dev tsLvx`);
    // The tap's loss (the real traffic is untouched): every other mirrored response head, so
    // exactly half the responses are lost to the capture. (Random loss on top also works but
    // can leave a request "pending at the end" when the tap lost a connection's last packets.)
    inNs(SRV, 'iptables -A OUTPUT -p udp --dport 4789 -m string --string "HTTP/1.1 200" --algo bm -m statistic --mode nth --every 2 --packet 0 -j DROP');

    dir = mkdtempSync(join(tmpdir(), 'tsL-tap-'));
    const pcap = join(dir, 'collector.pcap');
    const server = spawn('ip', ['netns', 'exec', SRV, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(server);
    await waitFor(server, /ready/, 10_000);
    const dump = spawn('ip', ['netns', 'exec', COL, 'tcpdump', '-i', 'tsLk0', '-n', '-U', '--immediate-mode', '-s', '0', '-w', pcap, 'udp port 4789'], { stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(dump);
    let dumpErr = '';
    dump.stderr!.on('data', (d: Buffer) => (dumpErr += d.toString()));
    await waitFor(dump, /listening on/, 10_000);

    const ok = sh(['ip', 'netns', 'exec', CLI, process.execPath, '-e', CLIENT, String(REQUESTS)]);
    expect(Number(ok.trim()), 'complete 200 responses the client received').toBe(REQUESTS);
    await new Promise((r) => setTimeout(r, 500));
    const exited = new Promise((r) => dump.on('exit', r));
    dump.kill('SIGINT');
    await exited;
    const counters = [...inNs(SRV, 'iptables -L OUTPUT -v -n -x').matchAll(/^\s*(\d+)\s+\d+\s+DROP/gm)].map((m) => Number(m[1]));
    expect(counters, 'mirrored datagrams the tap dropped').toHaveLength(1);
    expect(counters[0], 'response heads the tap dropped').toBe(REQUESTS / 2);
    expect(/(\d+) packets? dropped by kernel/.exec(dumpErr)?.[1] ?? '0').toBe('0');
    expect(statSync(pcap).size).toBeGreaterThan(0);

    // Set TAPSCOPE_KEEP_PCAP=/some/dir to keep the collector's capture for a look in Wireshark.
    if (process.env.TAPSCOPE_KEEP_PCAP) execFileSync('cp', [pcap, process.env.TAPSCOPE_KEEP_PCAP]);
    const { report } = analyzeFile(pcap);
    const findings = report.findings as Finding[];
    const text = findings.map((f) => `[${f.severity}] ${f.kind}: ${f.summary}`).join('\n');
    // Tapscope saw the HTTP inside the mirror.
    expect(report.tunnels.length, text).toBeGreaterThan(0);
    // No server failure is made up from the tap's loss.
    for (const k of ['http.no-response', 'tcp.reset-mid-exchange', 'http.5xx', 'tcp.syn-unanswered', 'tcp.refused']) expect(findings.filter((f) => f.kind === k), `${k} in\n${text}`).toEqual([]);
    expect(findings.filter((f) => f.severity === 'critical'), text).toEqual([]);
    // The requests whose responses the tap lost are named as capture loss.
    const lost = findings.filter((f) => f.kind === 'http.response-not-captured');
    expect(lost.length, text).toBe(1);
    expect(lost[0]).toMatchObject({ severity: 'warning', site: 'www.tap.test', server: '10.79.0.2:8080' });
    // Exactly the responses whose head the tap dropped, of all the requests.
    expect([lost[0].count, lost[0].total]).toEqual([REQUESTS / 2, REQUESTS]);
    expect(lost[0].summary).toMatch(/the capture lost the responses to \d+ of \d+ requests .*not the server/);
    // Everything reported is about the capture.
    expect(findings.filter((f) => !['http.response-not-captured', 'tcp.analysis.ack_lost_segment'].includes(f.kind)), text).toEqual([]);
  }, 90_000);
});
