/*
 * TLS decryption bench: `node --import tsx bench/tls-decrypt-bench.ts [--mb N] [--regen]` (root:
 * tcpdump on lo). Records real HTTPS traffic once into bench/data/tls-decrypt.pcap (Node's https
 * server and clients on loopback, the server's key log from its 'keylog' event): TLS 1.3
 * AES-128-GCM and ChaCha20-Poly1305, TLS 1.2 AES-256-GCM and AES-128-CBC-SHA (encrypt-then-MAC),
 * keep-alive connections of 256 kB responses, about N MB (default 100). Then, each in its own
 * process, page cache warm: the Tapscope session (read, decode, reassemble, TLS, HTTP) without
 * and with the key log (runtime ciphers, and @noble only as under a runtime that lacks them),
 * and tshark's HTTP statistics without and with it. Prints a Markdown
 * table: wall and CPU seconds, MB/s of capture, peak RSS, HTTP exchanges found.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { benchStart, TABLE_HEAD, tableRow, timed } from './session-measure.js';

const { args, targetMB, dataDir, pcap, keys } = await benchStart('tls-decrypt', 100);

async function record(): Promise<void> {
  const { startTestHttpsServer, captureLoopback } = await import('../test/decrypt/loopback-capture.js');
  mkdirSync(dataDir, { recursive: true });
  const server = await startTestHttpsServer(dataDir);
  const dump = await captureLoopback(pcap, server.port);
  const suites = [
    { maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' },
    { maxVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' },
    { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' },
    { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' },
  ] as const;
  // Each /big/ response is 200 kB: requests enough for the target size, spread over the suites.
  const requests = Math.ceil((targetMB * 1e6) / 200_000);
  for (let i = 0; i < requests; i += 8) {
    const s = suites[(i / 8) % suites.length];
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false, maxVersion: s.maxVersion, minVersion: s.maxVersion, ciphers: s.ciphers });
    for (let k = 0; k < 8; k++) {
      await new Promise<void>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: server.port, path: `/big/${i + k}`, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        }).on('error', reject);
      });
    }
    agent.destroy();
  }
  await dump.stop();
  await server.close();
  writeFileSync(keys, server.keyLogLines.join('\n') + '\n');
}

if (args.includes('--regen') || !existsSync(pcap) || !existsSync(keys)) await record();
const mb = statSync(pcap).size / 1e6;
readFileSync(pcap); // page cache warm
const rows: string[] = [];
const row = (what: string, t: { seconds: number; cpuSeconds: number; maxRssMB: number }, http: string) => rows.push(tableRow(what, t, mb, http));
for (const [label, extra] of [['', []], [' + key log', [keys]], [' + key log, @noble ciphers only', [keys, 'noble']]] as const) {
  const t = timed(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'measure', pcap, ...extra]);
  const j = JSON.parse(t.stdout.trim().split('\n').pop()!);
  row(`tapscope session${label}`, t, `${j.http} (${j.decrypted}/${j.tls} TLS decrypted)`);
}
for (const withKeys of [false, true]) {
  const t = timed('tshark', ['-r', pcap, '-q', '-z', 'http,tree', ...(withKeys ? ['-o', `tls.keylog_file:${keys}`] : [])]);
  const m = /Total HTTP Packets\s+(\d+)/.exec(t.stdout) ?? /Total HTTP Packets\s+\S+\s+(\d+)/.exec(t.stdout);
  row(`tshark -z http,tree${withKeys ? ' + key log' : ''}`, t, m ? `${m[1]} HTTP packets` : '?');
}
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
process.stdout.write(`TLS decryption, ${mb.toFixed(1)} MB capture (${execFileSync('capinfos', ['-c', '-M', pcap], { encoding: 'utf8' }).match(/Number of packets:\s+(\d+)/)?.[1] ?? '?'} packets), load ${load}\n\n`);
process.stdout.write(TABLE_HEAD + rows.join('\n') + '\n');
