/*
 * QUIC traffic the test makes itself, in a network namespace of its own (its loopback only):
 * Debian's ngtcp2 HTTP/3 server and client (gtlsserver/gtlsclient, GnuTLS) with a certificate
 * made here by openssl; one connection with two requests (a 200 and a 404), a second server
 * that validates addresses (-V: every client first gets a Retry), and two handshakes to a port
 * an iptables rule silently drops (a firewall blocking UDP). Captured with tcpdump on the
 * namespace's lo, the clients' TLS secrets in a key log (SSLKEYLOGFILE). Tapscope's quic[] must
 * agree with tshark's view (quic-oracle.ts), without and with the key log, and with what the
 * clients printed (negotiated ALPN, statuses); with the key log, http[] holds one h3 exchange
 * per request, matching the ground truth (paths asked, statuses printed, body size served). Skipped, with the reason, only
 * without root, network namespaces or the tools.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile } from '../../main/engine/analyze-file.js';
import { Ngtcp2Lab, hasExited, ngtcp2SkipReason, waitFor } from '../helpers/ngtcp2-lab.js';
import { expectSameAsTshark, tsharkConnections, type ConnJson, type QuicJson } from './quic-oracle.js';

const IP = '127.0.0.1';
const PORT_PLAIN = 443;
const PORT_RETRY = 4433;
const PORT_DROPPED = 8443;

const skip = ngtcp2SkipReason({ iptables: true });
const lab = new Ngtcp2Lab(`tsQuic${process.pid % 100000}`);
const clientLogs: string[] = [];
let keyLog = '';
const BODY = 'hello over QUIC\n';

/** Starts args in the namespace; what it printed goes to log (in the test's folder) once it exits. */
function start(args: string[], log: string) {
  const proc = lab.start(args);
  proc.p.on('exit', () => writeFileSync(join(lab.dir, log), proc.out()));
  return proc;
}

/** Runs gtlsclient to completion (bounded), returning what it printed. */
const client = (port: number, uris: string[], extra: string[] = []) => lab.runClient({ ip: IP, port, uris, extra, keyLog });

describe.skipIf(skip !== null)(`QUIC with ngtcp2 in a namespace${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let pcap = '';

  beforeAll(async () => {
    lab.setUp('tapscope-quic-');
    writeFileSync(join(lab.htdocs, 'index.html'), BODY);
    keyLog = join(lab.dir, 'keys.log');
    // The firewall: UDP to PORT_DROPPED vanishes (no ICMP, as a dropping firewall does).
    lab.runInNs(['iptables', '-A', 'INPUT', '-p', 'udp', '--dport', String(PORT_DROPPED), '-j', 'DROP']);
    pcap = join(lab.dir, 'quic.pcap');
    const dump = start(['tcpdump', '-i', 'lo', '-U', '-w', pcap, 'udp'], 'tcpdump.log');
    await waitFor(() => dump.out().includes('listening'), 5000);
    start(['gtlsserver', '-q', '-d', lab.htdocs, IP, String(PORT_PLAIN), lab.key, lab.cert], 'server.log');
    start(['gtlsserver', '-q', '-V', '-d', lab.htdocs, IP, String(PORT_RETRY), lab.key, lab.cert], 'server-retry.log');
    await new Promise((r) => setTimeout(r, 300));
    clientLogs.push(await client(PORT_PLAIN, ['https://localhost/index.html', 'https://localhost/missing']));
    clientLogs.push(await client(PORT_PLAIN, ['https://localhost/index.html']));
    clientLogs.push(await client(PORT_RETRY, ['https://localhost/index.html']));
    // A short initial RTT makes the client retransmit its Initial (probe timeouts) within the 1 s it waits.
    const probe = ['--initial-rtt=50ms'];
    clientLogs.push(...(await Promise.all([client(PORT_DROPPED, ['https://localhost/'], probe), client(PORT_DROPPED, ['https://localhost/'], probe)])));
    await new Promise((r) => setTimeout(r, 200));
    for (const p of lab.procs) p.kill('SIGTERM');
    await waitFor(() => lab.procs.every(hasExited), 5000);
  }, 60_000);

  afterAll(() => lab.tearDown());

  it('the clients did what the test asked (ground truth)', () => {
    expect(clientLogs).toHaveLength(5);
    // Three handshakes completed with ALPN h3; the first connection got a 200 and a 404.
    for (const log of clientLogs.slice(0, 3)) expect(log).toContain('Negotiated ALPN is h3');
    expect(clientLogs[0]).toMatch(/:status: 200/);
    expect(clientLogs[0]).toMatch(/:status: 404/);
    for (const log of clientLogs.slice(3)) expect(log).not.toContain('Negotiated ALPN');
  });

  it('quic[] agrees with tshark, connection by connection', () => {
    const report = analyzeFile(pcap).report as unknown as { quic: QuicJson[]; connections: ConnJson[] };
    const expected = tsharkConnections(pcap);
    expect(expected).toHaveLength(5);
    expectSameAsTshark(report, expected, expect);
  });

  it('with the key log: quic[] still agrees with tshark (which then reads the 1-RTT closes too)', () => {
    const report = analyzeFile(pcap, { keyLogs: [{ text: readFileSync(keyLog, 'utf8'), source: keyLog }] }).report as unknown as { quic: QuicJson[]; connections: ConnJson[] };
    expectSameAsTshark(report, tsharkConnections(pcap, { keyed: true, keyLog }), expect);
    // The clients close with H3_NO_ERROR once their streams are done (RFC 9114 §5.2).
    expect(report.quic.slice(0, 3).map((q) => [q.state, q.closedBy])).toEqual([['closed', 'client'], ['closed', 'client'], ['closed', 'client']]);
  });

  it('with the key log: one h3 exchange per request, as the clients asked and printed', () => {
    type H = { connectionId: number; protocol: string; method: string; host: string; uri: string; status: number | null; streamId: number; responseBytes: number; requestTs: number; responseTs: number | null; duration: number | null };
    const report = analyzeFile(pcap, { keyLogs: [{ text: readFileSync(keyLog, 'utf8'), source: keyLog }] }).report as unknown as { quic: QuicJson[]; http: H[] };
    const h3 = report.http.filter((x) => x.protocol === 'h3');
    const ids = report.quic.map((q) => q.connectionId);
    expect(h3.map((x) => [ids.indexOf(x.connectionId), x.method, x.host, x.uri, x.status, x.streamId])).toEqual([
      [0, 'GET', 'localhost', '/index.html', 200, 0],
      [0, 'GET', 'localhost', '/missing', 404, 4],
      [1, 'GET', 'localhost', '/index.html', 200, 0],
      [2, 'GET', 'localhost', '/index.html', 200, 0],
    ]);
    // Ground truth printed by the client: the statuses, in stream order.
    const printed = [...clientLogs[0].matchAll(/stream 0x([0-9a-f]+) \[:status: (\d+)\]/g)].map((m) => [parseInt(m[1], 16), Number(m[2])]);
    expect(printed).toEqual([[0, 200], [4, 404]]);
    for (const x of h3) {
      expect(x.responseTs).toBeGreaterThanOrEqual(x.requestTs);
      expect(x.duration).toBeGreaterThanOrEqual(0);
    }
    // The 200s carry the served file: response bytes are its header frame plus the body.
    for (const x of h3.filter((y) => y.status === 200)) expect(x.responseBytes).toBeGreaterThan(BODY.length);
  });

  it('with the key log: the h3 header lists are the ones the client printed (response) and asked for (request)', () => {
    type H = { connectionId: number; protocol: string; uri: string; streamId: number; requestHeaders: [string, string][] | null; responseHeaders: [string, string][] | null };
    const report = analyzeFile(pcap, { keyLogs: [{ text: readFileSync(keyLog, 'utf8'), source: keyLog }] }).report as unknown as { quic: QuicJson[]; http: H[] };
    const first = report.http.filter((x) => x.protocol === 'h3' && x.connectionId === report.quic[0].connectionId);
    // gtlsclient prints each received header as "http: stream 0xN [name: value]" between "response headers started" and "headers ended".
    const printed = new Map<number, [string, string][]>();
    let current = -1;
    for (const line of clientLogs[0].split('\n')) {
      const m = /stream 0x([0-9a-f]+) (response headers started|headers ended|\[(:?[^:\]]+): ([^\]]*)\])/.exec(line);
      if (!m) continue;
      const id = parseInt(m[1], 16);
      if (m[2] === 'response headers started') current = id;
      else if (m[2] === 'headers ended') current = -1;
      else if (current === id) printed.set(id, [...(printed.get(id) ?? []), [m[3], m[4]]]);
    }
    expect(printed.size).toBe(2);
    expect(first.map((x) => [x.streamId, x.responseHeaders])).toEqual([...printed].sort((a, b) => a[0] - b[0]));
    for (const x of first) {
      const req = new Map(x.requestHeaders!);
      expect([req.get(':method'), req.get(':scheme'), req.get(':authority'), req.get(':path')]).toEqual(['GET', 'https', 'localhost', x.uri]);
    }
  });

  it('states, Retry and ports match the scenario', () => {
    const report = analyzeFile(pcap).report as unknown as { quic: QuicJson[]; connections: ConnJson[] };
    const port = (q: QuicJson) => report.connections.find((c) => c.id === q.connectionId)!.server.port;
    const rows = report.quic.map((q) => [port(q), q.version, q.alpn.join(','), q.state, q.retry]);
    expect(rows).toEqual([
      [PORT_PLAIN, '1', 'h3', 'established', null],
      [PORT_PLAIN, '1', 'h3', 'established', null],
      [PORT_RETRY, '1', 'h3', 'established', 'valid'],
      [PORT_DROPPED, '1', 'h3', 'handshake-unanswered', null],
      [PORT_DROPPED, '1', 'h3', 'handshake-unanswered', null],
    ]);
    for (const q of report.quic.slice(0, 3)) expect(q.handshakeTime).toBeGreaterThan(0);
  });

  it('the dropped handshakes are one finding: 2 of 2 to the blocked port; the answered ports have none', () => {
    const report = analyzeFile(pcap).report as unknown as { findings: { kind: string; site: string | null; server: string | null; count: number; total: number; summary: string }[] };
    const q = report.findings.filter((x) => x.kind.startsWith('quic.'));
    expect(q.map((x) => [x.kind, x.site, x.server, x.count, x.total])).toEqual([['quic.handshake-unanswered', 'localhost', `${IP}:${PORT_DROPPED}`, 2, 2]]);
    expect(q[0].summary).toContain(`UDP ${PORT_DROPPED} blocked`);
  });
});
