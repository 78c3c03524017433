import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/captures.js';
import { compareHttp2, tapscopeHttp2, tsharkHttp2 } from './http2-oracle.js';
import { skipUnlessRequired } from '../helpers/privileged.js';

/*
 * Real HTTP/2 traffic in a network namespace of its own (tsH2, loopback only), captured by
 * tcpdump and compared with tshark frame by frame (http2-oracle.ts):
 * - Node's http2 server and client (h2c prior knowledge) with injected faults: a 503, an
 *   RST_STREAM INTERNAL_ERROR from the server, a client CANCEL, a GOAWAY ENHANCE_YOUR_CALM,
 *   a server push, a header block split into CONTINUATIONs, maximal padding, and a client
 *   receive window of 8 KB that stalls a 200 KB response on flow control;
 * - Debian's nghttpd and nghttp (prior knowledge, concurrent streams, PRIORITY anchors, a 404);
 * - the same Node peers over TLS, decrypted with the server's NSS key log (tshark gets the
 *   same key log); nghttpd over TLS with curl --http2 and curl's SSLKEYLOGFILE;
 * - nghttp -u (Upgrade: h2c) against a minimal upgrading server (upgrade-server.mjs).
 */

const NS = 'tsH2';
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const isRoot = process.getuid?.() === 0;
const missing = ['ip', 'tcpdump', 'tshark', 'nghttp', 'nghttpd', 'openssl', 'curl'].filter((c) => !have(c));
const skipReason = skipUnlessRequired('http2-live', !isRoot ? 'needs root (network namespace, tcpdump)' : missing.length ? `missing tools: ${missing.join(', ')}` : null) ?? '';
if (skipReason) console.warn(`http2-live: skipped: ${skipReason}`);

const started: ChildProcess[] = [];
let dir = '';
const inNs = (args: string[]) => ['ip', 'netns', 'exec', NS, ...args];

function waitFor(p: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${re} (got: ${text})`)), ms);
    p[stream]!.on('data', (d: Buffer) => {
      text += d.toString();
      if (re.test(text)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/**
 * Runs `traffic` while tcpdump captures `port` on the namespace's loopback; returns the file.
 * Immediate mode: otherwise libpcap holds a short capture in its open TPACKET_V3 block and
 * drops it at SIGINT.
 */
async function captureWhile(name: string, port: number, traffic: () => Promise<void>): Promise<string> {
  const pcap = join(dir, `${name}.pcap`);
  const [cmd, ...args] = inNs(['tcpdump', '-i', 'lo', '-n', '-U', '--immediate-mode', '-B', '32768', '-s', '0', '-w', pcap, 'tcp', 'port', String(port)]);
  const dump = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(dump);
  let stderr = '';
  dump.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(dump, 'stderr', /listening on/, 10_000);
  await traffic();
  await new Promise((r) => setTimeout(r, 300)); // the last packets reach tcpdump
  const exited = new Promise((r) => dump.on('exit', r));
  dump.kill('SIGINT');
  await exited;
  expect(statSync(pcap).size).toBeGreaterThan(24);
  // Everything below assumes the capture is complete (a loaded machine can make tcpdump drop).
  expect(/(\d+) packets? dropped by kernel/.exec(stderr)?.[1], `tcpdump: ${stderr}`).toBe('0');
  return pcap;
}

function run(args: string[], timeout = 30_000): string {
  const [cmd, ...rest] = inNs(args);
  const r = spawnSync(cmd, rest, { encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function background(args: string[]): ChildProcess {
  const [cmd, ...rest] = inNs(args);
  const p = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(p);
  return p;
}

describe.skipIf(!!skipReason)('HTTP/2 on live traffic vs tshark', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapscope-h2-'));
    spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'add', NS], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
  });
  afterAll(() => {
    for (const p of started) if (p.exitCode === null && p.pid) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    if (dir && !process.env.TAPSCOPE_KEEP_H2) rmSync(dir, { recursive: true, force: true });
  });

  /** The Node peers' traffic (h2c, or h2 over TLS with its key log) checked against tshark and the injected faults. */
  async function nodePeers(name: string, port: number, tls: boolean): Promise<void> {
    let seen: { path: string; status: number | null; error: string | null }[] = [];
    const keyLog = join(dir, `${name}.keys`);
    const tlsArgs = tls ? [keyLog, join(dir, 'key.pem'), join(dir, 'cert.pem')] : [];
    const pcap = await captureWhile(name, port, async () => {
      seen = JSON.parse(run([process.execPath, join(REPO_ROOT, 'test/parsers/h2-traffic/node-peers.mjs'), String(port), ...tlsArgs]).trim());
    });
    const decodeAs = ['-d', `tcp.port==${port},${tls ? 'tls' : 'http2'}`];
    const got = compareHttp2(pcap, port, decodeAs, tls ? keyLog : undefined);
    expect(got.streams).toBe(12); // 11 requests and 1 pushed stream
    const { exchanges, session } = tapscopeHttp2(pcap, tls ? readFileSync(keyLog, 'utf8') : undefined);
    if (tls) expect(session.app.tls.handshakes.map((t) => t.alpn)).toEqual([['h2'], ['h2']]);
    const by = (uri: string) => exchanges.find((x) => x.uri === uri)!;
    // What the client saw (its own view of the faults) and what Tapscope makes of the capture.
    expect(seen.map((s) => [s.path, s.status])).toEqual([['/ok', 200], ['/fail', 503], ['/slow', 200], ['/reset', null], ['/upload', 201], ['/hang', null], ['/long-header', 200], ['/push', 200], ['/big', 200], ['/paused', 200], ['/calm', null]]);
    expect([by('/reset').error, by('/reset').errorBy, by('/reset').noResponse]).toEqual(['RST_STREAM INTERNAL_ERROR', 'server', 'reset']);
    expect([by('/hang').error, by('/hang').errorBy]).toEqual(['RST_STREAM CANCEL', 'client']);
    expect([by('/calm').error, by('/calm').errorBy, by('/calm').streamId]).toEqual(['GOAWAY ENHANCE_YOUR_CALM', 'server', 1]);
    expect([by('/fail').status, by('/upload').requestBodyBytes, by('/big').responseBodyBytes]).toEqual([503, 30_000, 200_000]);
    expect([by('/pushed.css').upgrade, by('/pushed.css').streamId, by('/pushed.css').status]).toEqual(['push', 2, 200]);
    // The 40 kB header arrived in HEADERS + 2 CONTINUATION frames; the kept list skips it (over 8 kB).
    expect(by('/long-header').responseHeaders!.map(([n]) => n)).toEqual([':status', 'date']);
    // Flow control: the 8 kB client window stalls /big once per window's worth, and nothing else.
    const theirs = tsharkHttp2(pcap, port, tls ? [...decodeAs, '-o', `tls.keylog_file:${keyLog}`] : decodeAs);
    const big = by('/big');
    const updates = theirs.filter((f) => f.fromClient && f.type === 8 && f.streamId === big.streamId).length;
    expect(big.flowControlStalls).toBeGreaterThanOrEqual(20);
    expect(big.flowControlStalls).toBeLessThanOrEqual(updates);
    for (const x of exchanges) if (x !== big && x.uri !== '/paused') expect(x.flowControlStalls, x.uri!).toBe(0);
    // /paused: the client stopped reading for 0.6 s, so the server waited on its window that long.
    const paused = by('/paused');
    expect([paused.responseBodyBytes, paused.flowControlWaitBy]).toEqual([200_000, 'server']);
    expect(paused.flowControlStallSeconds).toBeGreaterThan(0.5);
    // Findings: the 503 and the stream errors, grouped by site and server.
    const report = session.report({ path: pcap, format: 'pcap', interfaces: [], comments: [] });
    const findings = report.findings as { kind: string; severity: string; summary: string; count: number }[];
    const h2err = findings.find((f) => f.kind === 'http.h2-stream-error')!;
    expect([h2err.severity, h2err.count]).toEqual(['critical', 3]);
    expect(h2err.summary).toContain('RST_STREAM INTERNAL_ERROR from the server ×1');
    expect(h2err.summary).toContain('GOAWAY ENHANCE_YOUR_CALM from the server ×1');
    expect(h2err.summary).toContain('RST_STREAM CANCEL from the client ×1');
    expect(findings.find((f) => f.kind === 'http.5xx')?.summary).toContain('503 ×1');
    // The 1.2 s answer is a slow time to first byte, like an HTTP/1.x one.
    const slow = findings.find((f) => f.kind === 'http.slow-ttfb')!;
    expect([slow.count, slow.summary]).toEqual([1, expect.stringContaining('GET /slow')]);
    expect(by('/slow').responseTs! - by('/slow').requestEndTs!).toBeGreaterThan(1.1);
    expect(findings.some((f) => f.kind === 'http.no-response')).toBe(false); // stream errors are not connection resets
    // Only /paused waited long on flow control (/big's many short waits add up to milliseconds).
    const stall = findings.find((f) => f.kind === 'http.h2-flow-control')!;
    expect([stall.severity, stall.count, stall.summary]).toEqual(['warning', 1, expect.stringMatching(/GET \/paused.*the client read slowly/)]);
    const http = report.http as Record<string, unknown>[];
    expect(http.filter((h) => h.protocol === 'h2').length).toBe(12);
    expect(http.find((h) => h.uri === '/reset')).toMatchObject({ protocol: 'h2', streamId: 7, error: 'RST_STREAM INTERNAL_ERROR', status: null });
    expect(findings.some((f) => f.kind === 'http.h2c')).toBe(!tls);
  }

  it('h2c from Node http2 with injected faults: frames, headers and exchanges match tshark; faults become errors and findings', async () => {
    await nodePeers('node-h2c', 39101, false);
  }, 60_000);

  it('h2 over TLS from Node http2 (its NSS key log): the same, decrypted, matches tshark with the same keys', async () => {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    await nodePeers('node-h2-tls', 39104, true);
  }, 60_000);

  it('nghttpd and nghttp (prior knowledge, concurrent streams, PRIORITY anchors, 404)', async () => {
    const port = 39102;
    const docroot = join(dir, 'htdocs');
    mkdirSync(docroot, { recursive: true });
    writeFileSync(join(docroot, 'index.html'), '<h1>hello</h1>\n');
    writeFileSync(join(docroot, 'big.bin'), Buffer.alloc(150_000, 0x5a));
    const pcap = await captureWhile('nghttp', port, async () => {
      const d = background(['nghttpd', '--no-tls', '-d', docroot, String(port)]);
      void d;
      // nghttpd prints nothing when ready: retry the client a bounded number of times.
      let ok = false;
      for (let i = 0; i < 30 && !ok; i++) {
        const r = spawnSync('ip', ['netns', 'exec', NS, 'nghttp', '-n', `http://127.0.0.1:${port}/index.html`, `http://127.0.0.1:${port}/big.bin`, `http://127.0.0.1:${port}/missing`], { encoding: 'utf8', timeout: 10_000 });
        ok = r.status === 0 && !/ERROR|not processed/.test(r.stdout + r.stderr); // nghttp exits 0 when it could not connect
        if (!ok) await new Promise((res) => setTimeout(res, 100));
      }
      expect(ok).toBe(true);
    });
    const got = compareHttp2(pcap, port, ['-d', `tcp.port==${port},http2`]);
    const { exchanges } = tapscopeHttp2(pcap);
    // Failed connection attempts before nghttpd listened carry no HTTP/2.
    const last = exchanges.filter((x) => x.connectionId === Math.max(...exchanges.map((y) => y.connectionId)));
    expect(last.map((x) => [x.uri, x.status, x.responseBodyBytes]).sort()).toEqual([['/big.bin', 200, 150_000], ['/index.html', 200, 15], ['/missing', 404, last.find((x) => x.uri === '/missing')!.responseBodyBytes]]);
    expect(got.streams).toBe(exchanges.length);
  }, 60_000);

  it('h2 over TLS: nghttpd with curl --http2 (curl\'s SSLKEYLOGFILE), decrypted, matches tshark with the same keys', async () => {
    const port = 39105;
    const docroot = join(dir, 'htdocs-tls');
    mkdirSync(docroot, { recursive: true });
    writeFileSync(join(docroot, 'index.html'), '<h1>over TLS</h1>\n');
    writeFileSync(join(docroot, 'big.bin'), Buffer.alloc(120_000, 0x33));
    const key = join(dir, 'ng-key.pem');
    const cert = join(dir, 'ng-cert.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const keyLog = join(dir, 'curl.keys');
    const pcap = await captureWhile('curl-tls', port, async () => {
      background(['nghttpd', '-d', docroot, String(port), key, cert]);
      let out = '';
      for (let i = 0; i < 30 && !/200 200 404/.test(out); i++) {
        if (i > 0) await new Promise((res) => setTimeout(res, 100));
        // --curves P-256: nghttpd prefers P-256, and curl's default X25519 key share would make it
        // answer with a HelloRetryRequest, which TLS decryption (main/decrypt/) does not follow yet.
        const urls = ['index.html', 'big.bin', 'missing'].map((p) => `https://127.0.0.1:${port}/${p}`);
        const c = spawnSync('ip', ['netns', 'exec', NS, 'curl', '-sk', '--http2', '--curves', 'P-256', ...urls.flatMap((u) => ['-o', '/dev/null', u]), '-w', '%{http_code} '], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, SSLKEYLOGFILE: keyLog } });
        out = c.stdout.trim();
      }
      expect(out).toBe('200 200 404');
    });
    const got = compareHttp2(pcap, port, ['-d', `tcp.port==${port},tls`], keyLog);
    const { exchanges, session } = tapscopeHttp2(pcap, readFileSync(keyLog, 'utf8'));
    expect(exchanges.map((x) => [x.uri, x.status, x.protocol]).sort()).toEqual([['/big.bin', 200, 'h2'], ['/index.html', 200, 'h2'], ['/missing', 404, 'h2']]);
    expect(exchanges.find((x) => x.uri === '/big.bin')!.responseBodyBytes).toBe(120_000);
    expect(got.streams).toBe(3);
    expect(session.app.tls.handshakes.every((t) => t.alpn.includes('h2'))).toBe(true);
  }, 60_000);

  it('Upgrade: h2c (nghttp -u): stream 1 answers the HTTP/1.1 request, later streams are HTTP/2', async () => {
    const port = 39103;
    const pcap = await captureWhile('upgrade', port, async () => {
      const srv = background([process.execPath, join(REPO_ROOT, 'test/parsers/h2-traffic/upgrade-server.mjs'), String(port)]);
      await waitFor(srv, 'stdout', /ready/, 10_000);
      run(['nghttp', '-nu', `http://127.0.0.1:${port}/first`, `http://127.0.0.1:${port}/second`, `http://127.0.0.1:${port}/third`]);
    });
    const got = compareHttp2(pcap, port, []); // tshark follows the upgrade itself
    expect(got.streams).toBe(3);
    const { session } = tapscopeHttp2(pcap);
    const xs = session.app.http.exchanges;
    expect(xs.map((x) => [x.protocol ?? 'http/1.1', x.streamId ?? null, x.uri, x.status])).toEqual([
      ['http/1.1', null, '/first', 101], ['h2', 1, '/first', 200], ['h2', 13, '/second', 200], ['h2', 15, '/third', 503],
    ]);
  }, 60_000);
});
