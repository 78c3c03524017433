import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** Tools the real-traffic TLS tests need: root for tcpdump on `lo`, tcpdump, tshark, openssl. */
export function canCaptureLoopback(): boolean {
  if (process.getuid?.() !== 0) return false;
  for (const tool of ['tcpdump', 'tshark', 'openssl']) {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' });
    } catch {
      return false;
    }
  }
  return true;
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
 * open TPACKET_V3 block at SIGINT). Resolves once tcpdump listens; `stop()` ends it.
 */
export async function captureLoopback(pcap: string, port: number): Promise<{ stop(): Promise<void> }> {
  const dump: ChildProcess = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '0', '-w', pcap, `tcp port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
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
