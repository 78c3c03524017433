/*
 * QUIC connection migration on real traffic, in a network namespace of its own (its loopback
 * only): Debian's ngtcp2 HTTP/3 server and client (gtlsserver/gtlsclient); the client asks for
 * a small file and a large one and moves to another local port 5 ms after the handshake
 * (--change-local-addr: a new UDP conversation, path validation, connection ids from the
 * server's NEW_CONNECTION_ID frames), in the middle of the large response (small stream flow
 * control window). The server's GSO is off so each QUIC packet it sends is its own datagram in the capture. With the
 * key log, tshark's quic.connection.number groups both paths into one connection; Tapscope's
 * quic[] must have one entry whose `paths` are both conversations, and the two HTTP/3 exchanges
 * must be complete (statuses printed by the client, the large body's size). Without keys the
 * new path's connection ids are unreadable: tshark and Tapscope both leave it out. Skipped,
 * with the reason, only without root, network namespaces or the tools (never in CI).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { tsharkFields } from '../helpers/captures.js';
import { skipUnlessRequired } from '../helpers/privileged.js';
import type { ConnJson, QuicJson } from './quic-oracle.js';

const NS = `tsQuicMig${process.pid % 100000}`;
const IP = '127.0.0.1';
const PORT = 443;
const BIG = 300_000;

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
const inNs = (args: string[]) => ['netns', 'exec', NS, ...args];

function skipReason(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (ip netns, tcpdump)';
  for (const tool of ['ip', 'tcpdump', 'openssl', 'gtlsserver', 'gtlsclient', 'tshark']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return null;
}

const skip = skipUnlessRequired('QUIC migration with ngtcp2', skipReason());
let dir = '';
let nsMade = false;
const procs: ChildProcess[] = [];
let keyLog = '';
let clientLog = '';
let pcap = '';

function start(args: string[], env: NodeJS.ProcessEnv = process.env): { p: ChildProcess; out: () => string } {
  const p = spawn('ip', inNs(args), { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  p.stdout!.on('data', (d) => { out += d; });
  p.stderr!.on('data', (d) => { out += d; });
  procs.push(p);
  return { p, out: () => out };
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  for (const t0 = Date.now(); !cond() && Date.now() - t0 < ms;) await new Promise((r) => setTimeout(r, 50));
}
const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;

type Report = { quic: (QuicJson & { paths: number[] })[]; connections: ConnJson[]; http: { connectionId: number; protocol: string; uri: string; status: number | null; streamId: number; responseBytes: number }[] };
const keyed = () => analyzeFile(pcap, { keyLogs: [{ text: readFileSync(keyLog, 'utf8'), source: keyLog }] }).report as unknown as Report;
/** Per UDP conversation (client port), tshark's quic.connection.number values. */
function tsharkNumbers(withKeys: boolean): Map<string, Set<string>> {
  const rows = tsharkFields(pcap, ['udp.srcport', 'udp.dstport', 'quic.connection.number'], ['-Y', 'quic', ...(withKeys ? ['-o', `tls.keylog_file:${keyLog}`] : [])]);
  const out = new Map<string, Set<string>>();
  for (const [src, dst, n] of rows) {
    const client = src === String(PORT) ? dst : src;
    if (!out.has(client)) out.set(client, new Set());
    for (const x of n.split(',')) out.get(client)!.add(x);
  }
  return out;
}

describe.skipIf(skip !== null)(`QUIC migration with ngtcp2 in a namespace${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapscope-quic-mig-'));
    sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost']);
    mkdirSync(join(dir, 'htdocs'));
    writeFileSync(join(dir, 'htdocs', 'index.html'), 'hello over QUIC\n');
    writeFileSync(join(dir, 'htdocs', 'big.bin'), randomBytes(BIG));
    keyLog = join(dir, 'keys.log');
    sh('ip', ['netns', 'add', NS]);
    nsMade = true;
    sh('ip', inNs(['ip', 'link', 'set', 'lo', 'up']));
    pcap = join(dir, 'quic-migration.pcap');
    const dump = start(['tcpdump', '-i', 'lo', '-U', '-w', pcap, 'udp']);
    await waitFor(() => dump.out().includes('listening'), 5000);
    const server = start(['gtlsserver', '-q', '--max-gso-dgrams=1', '-d', join(dir, 'htdocs'), IP, String(PORT), join(dir, 'key.pem'), join(dir, 'cert.pem')]);
    await new Promise((r) => setTimeout(r, 300));
    const client = start(['timeout', '10', 'gtlsclient', '--exit-on-all-streams-close', '--handshake-timeout=1s',
      '--change-local-addr=5ms', '--max-stream-data-bidi-local=16K', IP, String(PORT), 'https://localhost/index.html', 'https://localhost/big.bin'],
    { ...process.env, SSLKEYLOGFILE: keyLog });
    await waitFor(() => exited(client.p), 12_000);
    clientLog = client.out();
    await new Promise((r) => setTimeout(r, 500));
    server.p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    dump.p.kill('SIGINT');
    await waitFor(() => procs.every(exited), 5000);
  }, 40_000);

  afterAll(() => {
    for (const p of procs) if (!exited(p)) p.kill('SIGKILL');
    if (nsMade) {
      try {
        sh('ip', ['netns', 'del', NS]);
      } catch {
        // already gone
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the client migrated during the large response and got both files (ground truth)', () => {
    expect(clientLog).toContain('Negotiated ALPN is h3');
    expect([...clientLog.matchAll(/stream 0x([0-9a-f]+) \[:status: (\d+)\]/g)].map((m) => [parseInt(m[1], 16), Number(m[2])])).toEqual([[0, 200], [4, 200]]);
    const ports = new Set([...clientLog.matchAll(/Sent packet: local=\[127\.0\.0\.1\]:(\d+)/g)].map((m) => m[1]));
    expect(ports.size).toBe(2);
    expect(clientLog).toMatch(/frm rx \d+ 1RTT PATH_RESPONSE/);
  });

  it('with the key log: tshark numbers both paths as one connection, Tapscope lists one quic entry with both paths', () => {
    const numbers = tsharkNumbers(true);
    expect(numbers.size).toBe(2);
    for (const n of numbers.values()) expect([...n]).toEqual(['0']);
    const report = keyed();
    expect(report.quic).toHaveLength(1);
    const q = report.quic[0];
    const portOf = (id: number) => String(report.connections.find((c) => c.id === id)!.client.port);
    expect(q.paths[0]).toBe(q.connectionId);
    expect(q.paths.map(portOf).sort()).toEqual([...numbers.keys()].sort());
    expect([q.state, q.closedBy, q.alpn.join(',')]).toEqual(['closed', 'client', 'h3']);
  });

  it('with the key log: both HTTP/3 exchanges are complete, the large one across the migration', () => {
    const report = keyed();
    const h3 = report.http.filter((x) => x.protocol === 'h3');
    expect(h3.map((x) => [x.connectionId, x.uri, x.status, x.streamId])).toEqual([
      [report.quic[0].connectionId, '/index.html', 200, 0],
      [report.quic[0].connectionId, '/big.bin', 200, 4],
    ]);
    // The whole body arrived: its DATA frames plus the header frame.
    expect(h3[1].responseBytes).toBeGreaterThan(BIG);
    expect(h3[1].responseBytes).toBeLessThan(BIG + 2000);
    // tshark (with the keys) sees stream 4's response on both paths: the migration was mid-transfer.
    const rows = tsharkFields(pcap, ['udp.srcport', 'udp.dstport', 'quic.stream.stream_id'], ['-Y', 'quic', '-o', `tls.keylog_file:${keyLog}`]);
    const carried = new Set(rows.filter(([src, , ids]) => src === String(PORT) && ids.split(',').includes('4')).map(([, dst]) => dst));
    expect(carried.size).toBe(2);
  });

  it('without keys: the new path is unreadable to both, tshark numbers only the first path and Tapscope lists one path', () => {
    const numbers = tsharkNumbers(false);
    const numbered = [...numbers].filter(([, n]) => !n.has(''));
    expect(numbered.map(([, n]) => [...n])).toEqual([['0']]);
    const report = analyzeFile(pcap).report as unknown as Report;
    expect(report.quic).toHaveLength(1);
    const port = String(report.connections.find((c) => c.id === report.quic[0].connectionId)!.client.port);
    expect([report.quic[0].paths.length, port]).toEqual([1, numbered[0][0]]);
  });
});
