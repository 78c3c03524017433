import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { skipUnlessRequired } from '../helpers/privileged.js';

/** Tools the real-traffic TLS tests need: root for tcpdump on `lo`, tcpdump, tshark, openssl. */
export function canCaptureLoopback(): boolean {
  return skipUnlessRequired('loopback capture (TLS on real traffic)', loopbackProblem()) === null;
}

function loopbackProblem(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (tcpdump on lo)';
  for (const tool of ['tcpdump', 'tshark', 'openssl']) {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return null;
}

/** A self-signed RSA certificate for CN=localhost in `dir`. */
export function selfSignedCert(dir: string): { key: string; cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key, cert };
}

/**
 * tcpdump on `lo` for one TCP port, in immediate mode (libpcap would otherwise drop its
 * open TPACKET_V3 block at SIGINT), with a 64 MB kernel buffer so a busy machine drops no
 * packets. Resolves once tcpdump listens; `stop()` ends it.
 */
export async function captureLoopback(pcap: string, port: number): Promise<{ stop(): Promise<void> }> {
  const dump: ChildProcess = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-B', '65536', '-U', '-n', '-s', '0', '-w', pcap, `tcp port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((r) => dump.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => {
      dump.kill('SIGKILL');
      reject(new Error(`tcpdump did not start: ${err}`));
    }, 10_000);
    dump.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 300)); // the last packets reach the capture
      dump.kill('SIGINT');
      await exited;
    },
  };
}

/** tshark's marks of a capture whose file order is not the order the packets were sent in. */
const ORDER_ARTEFACTS = 'tcp.analysis.ack_lost_segment || tcp.analysis.lost_segment || tcp.analysis.out_of_order';

/**
 * Frames (number and tshark's Info) where the file order of a loopback capture breaks TCP's
 * causality: an ACK for bytes not yet in the file, a segment after a gap, one out of order.
 * On a loaded 2-core machine the kernel now and then hands the two directions' packets to the
 * capture in swapped order (CI saw one connection's ACK before the ServerHello it
 * acknowledged). tshark 4.0 dissects in file order and does not decrypt such a connection, so
 * it is no oracle for that file; Tapscope still decrypts it (its own test swaps frames on
 * purpose). Tests comparing with tshark record such a capture again.
 */
export function captureOrderArtefacts(pcap: string): string[] {
  const out = execFileSync('tshark', ['-n', '-r', pcap, '-Y', ORDER_ARTEFACTS, '-T', 'fields', '-e', 'frame.number', '-e', '_ws.col.Info'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return out.split('\n').filter((l) => l.trim() !== '');
}

/**
 * Records with `record` until the capture `pcapOf` names has no order artefacts (at most
 * `tries` times); the last attempt's artefacts fail the test with the frames named.
 */
export async function recordInOrder<T>(record: () => Promise<T>, pcapOf: (t: T) => string, tries = 3): Promise<T> {
  let artefacts: string[] = [];
  for (let attempt = 1; attempt <= tries; attempt++) {
    const t = await record();
    artefacts = captureOrderArtefacts(pcapOf(t));
    if (artefacts.length === 0) return t;
    console.warn(`loopback capture ${attempt} of ${tries} is out of order in ${artefacts.length} frame(s), recording again: ${artefacts.slice(0, 3).join(' | ')}`);
  }
  throw new Error(`every loopback capture was out of order (tshark could not be the oracle): ${artefacts.slice(0, 5).join(' | ')}`);
}

/**
 * Node's https server (OpenSSL) on 127.0.0.1 for the real-traffic tests, every cipher suite
 * allowed, its NSS key log collected from the 'keylog' event. Paths: /fail/… answers 503,
 * /big/… 200 kB (content-length), /head/… an empty 200, anything else "ok".
 */
export async function startTestHttpsServer(dir: string): Promise<{ port: number; keyLogLines: string[]; close(): Promise<void> }> {
  const { key, cert } = selfSignedCert(dir);
  const keyLogLines: string[] = [];
  const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert), ciphers: 'ALL:@SECLEVEL=0', minVersion: 'TLSv1.2' }, (req, res) => {
    const kind = (req.url ?? '').split('/')[1];
    req.resume();
    req.on('end', () => {
      if (kind === 'fail') {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('backend unavailable\n');
      } else if (kind === 'big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '200000' });
        res.end(Buffer.alloc(200_000, 0x61));
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(kind === 'head' ? undefined : 'ok\n');
      }
    });
  });
  server.on('keylog', (line) => keyLogLines.push(line.toString('latin1').trimEnd()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    keyLogLines,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * A copy of classic pcap `src` (tcpdump's: little-endian) with the records at the 1-based
 * positions of each pair swapped: a capture whose file order breaks causality on purpose.
 */
export function swapFrames(src: string, dst: string, pairs: [number, number][]): void {
  const d = readFileSync(src);
  if (d.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${src}: not a little-endian microsecond pcap`);
  const records: Buffer[] = [];
  for (let off = 24; off + 16 <= d.length;) {
    const end = off + 16 + d.readUInt32LE(off + 8);
    records.push(d.subarray(off, end));
    off = end;
  }
  for (const [a, b] of pairs) [records[a - 1], records[b - 1]] = [records[b - 1], records[a - 1]];
  writeFileSync(dst, Buffer.concat([d.subarray(0, 24), ...records]));
}

/**
 * Node's https server on 127.0.0.1 for the openssl s_client tests: /fail/... answers 502,
 * anything else a 3-byte "ok" (content-length set). `tls` adds server options (ecdhCurve,
 * minVersion).
 */
export async function startOkHttpsServer(dir: string, tls: https.ServerOptions = {}): Promise<{ port: number; close(): Promise<void> }> {
  const { key, cert } = selfSignedCert(dir);
  const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert), ...tls }, (req, res) => {
    req.resume();
    const fail = req.url?.startsWith('/fail');
    res.writeHead(fail ? 502 : 200, { 'content-type': 'text/plain', 'content-length': '3' });
    res.end('ok\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Records one `openssl s_client -connect 127.0.0.1:PORT -tls1_3 -crlf -keylogfile KEYS ARGS`
 * session into `pcap` (tcpdump on lo; recorded again when the file order breaks causality):
 * each input is written 250 ms apart, then stdin closes. The client must have printed
 * `responses` HTTP/1.1 200 or 502 status lines.
 */
export async function recordSClient(pcap: string, port: number, keys: string, args: string[], inputs: string[], responses: number): Promise<void> {
  await recordInOrder(async () => {
    const dump = await captureLoopback(pcap, port);
    try {
      const client = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-crlf', '-keylogfile', keys, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      client.stdout!.on('data', (d) => (out += d));
      const exited = new Promise((r) => client.once('exit', r));
      await sleep(500);
      for (const line of inputs) {
        client.stdin!.write(line);
        await sleep(250);
      }
      client.stdin!.end();
      await Promise.race([exited, sleep(5000).then(() => client.kill('SIGKILL'))]);
      const got = out.match(/HTTP\/1\.1 (200|502)/g)?.length ?? 0;
      if (got !== responses) throw new Error(`openssl s_client printed ${got} responses, expected ${responses}`);
    } finally {
      await dump.stop();
    }
  }, () => pcap);
}
