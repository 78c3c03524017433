/*
 * QUIC blocked, then TCP: what a browser does when a firewall drops UDP 443, made in a network
 * namespace of the test's own (its loopback only). iptables drops UDP to port 8443; an ngtcp2
 * HTTP/3 client (gtlsclient, 1 s handshake timeout) tries QUIC to https://localhost:8443 twice,
 * each attempt followed, once the client gave up, by curl over TCP to the same site (an
 * openssl s_server on TCP 8443): the quic.tcp-fallback finding must say the browser fell back
 * after the delay tshark's frame times give (each attempt's first Initial to the next SYN to
 * the site). A second site, other.test on port 4443, works over both QUIC (gtlsserver) and TCP
 * (s_server): an info finding compares them. Skipped, with the reason, only without root,
 * namespaces or the tools (CI has them: TAPSCOPE_REQUIRE_PRIVILEGED=1).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { tsharkFields } from '../helpers/captures.js';
import { skipUnlessRequired } from '../helpers/privileged.js';

const NS = `tsFallback${process.pid % 100000}`;
const IP = '127.0.0.1';
const BLOCKED = 8443;
const OPEN = 4443;
const HOSTS_DIR = `/etc/netns/${NS}`;

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
const inNs = (args: string[]) => ['netns', 'exec', NS, ...args];

function problem(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (ip netns, iptables, tcpdump)';
  for (const tool of ['ip', 'iptables', 'tcpdump', 'openssl', 'gtlsserver', 'gtlsclient', 'curl', 'tshark']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return null;
}

const skip = skipUnlessRequired('QUIC/TCP fallback in a namespace', problem());
let dir = '';
let nsMade = false;
const procs: ChildProcess[] = [];

function start(args: string[]): ChildProcess {
  const p = spawn('ip', inNs(args), { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  return p;
}

function run(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('ip', inNs(['timeout', '10', ...args]), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d) => { out += d; });
    p.stderr!.on('data', (d) => { out += d; });
    p.on('exit', () => resolve(out));
  });
}

// gtlsclient sends its HOST argument as SNI (a name, resolved through the namespace's own hosts file).
const quicClient = (host: string, port: number) => run(['gtlsclient', '--exit-on-all-streams-close', '--handshake-timeout=1s', '--initial-rtt=50ms', host, String(port), `https://${host}/`]);
const curl = (host: string, port: number) => run(['curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', '--resolve', `${host}:${port}:${IP}`, `https://${host}:${port}/`]);

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  for (const t0 = Date.now(); !cond() && Date.now() - t0 < ms;) await new Promise((r) => setTimeout(r, 50));
}

type Finding = { kind: string; severity: string; site: string | null; count: number; total: number; summary: string; connectionIds: number[] };

describe.skipIf(skip !== null)(`QUIC blocked, TCP fallback, in a namespace${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let pcap = '';
  const printed: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapscope-fallback-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost']);
    mkdirSync(join(dir, 'htdocs'));
    writeFileSync(join(dir, 'htdocs', 'index.html'), 'hello\n');
    sh('ip', ['netns', 'add', NS]);
    nsMade = true;
    // `ip netns exec` mounts /etc/netns/NS/hosts over /etc/hosts: other.test is the namespace's loopback.
    mkdirSync(HOSTS_DIR, { recursive: true });
    writeFileSync(join(HOSTS_DIR, 'hosts'), `${IP} localhost other.test\n`);
    sh('ip', inNs(['ip', 'link', 'set', 'lo', 'up']));
    sh('ip', inNs(['iptables', '-A', 'INPUT', '-p', 'udp', '--dport', String(BLOCKED), '-j', 'DROP']));
    pcap = join(dir, 'fallback.pcap');
    // Immediate mode: without it libpcap drops its open TPACKET_V3 block (the last packets) at exit.
    const dump = start(['tcpdump', '-i', 'lo', '--immediate-mode', '-U', '-w', pcap, `udp or tcp port ${BLOCKED} or tcp port ${OPEN}`]);
    let listening = false;
    dump.stderr!.on('data', (d) => { if (String(d).includes('listening')) listening = true; });
    await waitFor(() => listening, 5000);
    start(['gtlsserver', '-q', '-d', join(dir, 'htdocs'), IP, String(OPEN), key, cert]);
    for (const port of [BLOCKED, OPEN]) start(['openssl', 's_server', '-accept', String(port), '-cert', cert, '-key', key, '-www', '-quiet']);
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 2; i++) {
      printed.push(await quicClient('localhost', BLOCKED));
      printed.push(await curl('localhost', BLOCKED));
    }
    printed.push(await quicClient('other.test', OPEN));
    printed.push(await curl('other.test', OPEN));
    await new Promise((r) => setTimeout(r, 300));
    dump.kill('SIGINT');
    await waitFor(() => dump.exitCode !== null || dump.signalCode !== null, 5000);
    for (const p of procs) p.kill('SIGTERM');
    await waitFor(() => procs.every((p) => p.exitCode !== null || p.signalCode !== null), 5000);
  }, 60_000);

  afterAll(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(HOSTS_DIR, { recursive: true, force: true });
    if (nsMade) {
      try {
        sh('ip', ['netns', 'del', NS]);
      } catch {
        // already gone
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the clients did what the scenario says (ground truth)', () => {
    expect(printed[0]).not.toContain('Negotiated ALPN');
    expect(printed[2]).not.toContain('Negotiated ALPN');
    expect([printed[1], printed[3], printed[5]]).toEqual(['200', '200', '200']);
    expect(printed[4]).toContain('Negotiated ALPN is h3');
  });

  it('quic.tcp-fallback: 2 of 2 QUIC handshakes to localhost unanswered, fallback delay as tshark times it', () => {
    const report = analyzeFile(pcap).report as unknown as { findings: Finding[]; quic: { connectionId: number; sni: string; state: string }[] };
    expect(report.quic.map((q) => [q.sni, q.state])).toEqual([['localhost', 'handshake-unanswered'], ['localhost', 'handshake-unanswered'], ['other.test', 'established']]);
    // tshark: each attempt's first Initial (by client port), then the first SYN to the blocked port after it.
    const initials = tsharkFields(pcap, ['frame.time_epoch', 'udp.srcport'], ['-Y', `udp.dstport == ${BLOCKED} && quic.long.packet_type == 0`]);
    const attempts = [...new Map(initials.reverse().map(([t, p]) => [p, Number(t)])).values()].sort((a, b) => a - b);
    expect(attempts).toHaveLength(2);
    const syns = tsharkFields(pcap, ['frame.time_epoch'], ['-Y', `tcp.dstport == ${BLOCKED} && tcp.flags.syn == 1 && tcp.flags.ack == 0`]).map(([t]) => Number(t));
    const delays = attempts.map((a) => syns.find((s) => s >= a)! - a).sort((a, b) => a - b);
    expect(delays.every((d) => d > 0.9 && d < 5)).toBe(true); // the client's 1 s handshake timeout, then curl
    const medianMs = (((delays[0] + delays[1]) / 2) * 1000).toFixed(0);
    const fb = report.findings.filter((f) => f.kind === 'quic.tcp-fallback');
    expect(fb.map((f) => [f.severity, f.site, f.count, f.total])).toEqual([['warning', 'localhost', 2, 2], ['info', 'other.test', 1, 2]]);
    expect(fb[0].summary).toContain(`localhost: 2 of 2 QUIC handshakes got no answer`);
    expect(fb[0].summary).toContain(`(UDP ${BLOCKED} blocked?); the browser fell back to TCP after ${medianMs} ms (median of 2, up to ${(delays[1] * 1000).toFixed(0)} ms)`);
    expect(fb[0].summary).toMatch(/TCP\+TLS setup median \d/);
    expect(fb[1].summary).toMatch(/^other\.test: reached over QUIC \(1 connection, handshake median [\d.]+ ms\) and TCP \(1 connection, TCP\+TLS setup median [\d.]+ ms\)/);
    // Evidence: the failed attempts and the TCP connections that replaced them.
    expect(fb[0].connectionIds).toHaveLength(4);
    // The blocked port still has its own finding.
    expect(report.findings.find((f) => f.kind === 'quic.handshake-unanswered')?.site).toBe('localhost');
  });
});

describe('quic.tcp-fallback on the corpus captures', () => {
  it('Chrome to cloudflare-quic.com: HTTP/2 over TCP, then QUIC (Alt-Svc): an info comparison, no fallback', async () => {
    const { capture } = await import('../helpers/captures.js');
    type R = { findings: Finding[]; quic: { handshakeTime: number }[]; tls: { connectionId: number; handshakeTime: number }[]; connections: { id: number; transport: string; handshakeRtt: number | null }[] };
    const r = analyzeFile(capture('quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng')).report as unknown as R;
    const fb = r.findings.filter((f) => f.kind === 'quic.tcp-fallback');
    expect(fb.map((f) => [f.severity, f.site, f.count, f.total])).toEqual([['info', 'cloudflare-quic.com', 1, 2]]);
    // TCP+TLS setup: the JSON's handshakeRtt (tshark's tcp.analysis.initial_rtt) plus the TLS handshake time.
    const tcp = r.connections.find((c) => c.transport === 'tcp')!;
    const setup = tcp.handshakeRtt! + r.tls.find((t) => t.connectionId === tcp.id)!.handshakeTime;
    expect(fb[0].summary).toContain(`reached over QUIC (1 connection, handshake median ${(r.quic[0].handshakeTime * 1000).toFixed(0)} ms) and TCP (1 connection, TCP+TLS setup median ${(setup * 1000).toFixed(0)} ms)`);
  });

  it('QUIC attempts without any TCP to the site: no comparison', async () => {
    const { capture } = await import('../helpers/captures.js');
    for (const name of ['quic-v1-incomplete-handshake-only-client-initials.pcap', 'quic-v1-clienthello-split-over-multiple-initials-client-close.pcap', 'quic-v2-http3-keys-in-pcapng-dsb.pcapng']) {
      const r = analyzeFile(capture(name)).report as unknown as { findings: Finding[] };
      expect(r.findings.filter((f) => f.kind === 'quic.tcp-fallback'), name).toEqual([]);
    }
  });
});
