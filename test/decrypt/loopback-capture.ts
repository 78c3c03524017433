import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
