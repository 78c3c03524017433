/*
 * QUIC bench: `node --import tsx bench/quic-bench.ts [--mb N] [--regen]` (root: a network
 * namespace, tcpdump). Records real QUIC traffic once into bench/data/quic.pcap: Debian's ngtcp2
 * HTTP/3 server (gtlsserver) and client (gtlsclient, SSLKEYLOGFILE) on the namespace's
 * loopback, connections of 8 GETs of a 1 MB file, about N MB (default 50). Then, each in its
 * own process, page cache warm: the Tapscope session (QUIC from the Initials only) and with the
 * key log (Handshake and 1-RTT decrypted, HTTP/3 exchanges), and tshark's QUIC statistics
 * without and with it. Prints a Markdown table like tls-decrypt-bench.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchStart, TABLE_HEAD, tableRow, timed } from './session-measure.js';

const { args, targetMB, dataDir, pcap, keys } = await benchStart('quic', 50);
const NS = 'tsQuicBench';
const PER_CONNECTION = 8;

function run(cmd: string, a: string[]): Promise<void> {
  return new Promise((resolve) => {
    const p = spawn(cmd, a, { stdio: 'ignore', env: { ...process.env, SSLKEYLOGFILE: keys } });
    p.on('exit', () => resolve());
  });
}

async function record(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'tapscope-quic-bench-'));
  const inNs = (a: string[]) => ['netns', 'exec', NS, ...a];
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    mkdirSync(join(dir, 'htdocs'));
    writeFileSync(join(dir, 'htdocs', 'big.bin'), Buffer.alloc(1 << 20, 0x61));
    rmSync(keys, { force: true });
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', inNs(['ip', 'link', 'set', 'lo', 'up']));
    // ngtcp2 sends with UDP GSO: without segmentation offload on lo the kernel cuts the
    // datagrams before the capture point, as a NIC would on the wire (else tcpdump sees 64 kB
    // super-datagrams that no receiver gets). An MTU of 1500 keeps the packets Internet-sized.
    execFileSync('ip', inNs(['ethtool', '-K', 'lo', 'tx-udp-segmentation', 'off', 'gso', 'off']), { stdio: 'ignore' });
    execFileSync('ip', inNs(['ip', 'link', 'set', 'lo', 'mtu', '1500']));
    const dump = spawn('ip', inNs(['tcpdump', '-i', 'lo', '--immediate-mode', '-B', '65536', '-U', '-w', pcap, 'udp port 443']), { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((r) => dump.stderr!.on('data', (d) => { if (String(d).includes('listening')) r(); }));
    const server = spawn('ip', inNs(['gtlsserver', '-q', '-d', join(dir, 'htdocs'), '127.0.0.1', '443', join(dir, 'key.pem'), join(dir, 'cert.pem')]), { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    const connections = Math.max(1, Math.ceil(targetMB / PER_CONNECTION));
    const uris = Array.from({ length: PER_CONNECTION }, () => 'https://localhost/big.bin');
    for (let i = 0; i < connections; i++) await run('ip', inNs(['timeout', '60', 'gtlsclient', '-q', '--exit-on-all-streams-close', '--max-data=67108864', '--max-stream-data-bidi-local=16777216', '127.0.0.1', '443', ...uris]));
    await new Promise((r) => setTimeout(r, 300));
    dump.kill('SIGINT');
    server.kill('SIGTERM');
    await new Promise((r) => dump.once('exit', r));
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', NS]);
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args.includes('--regen') || !existsSync(pcap) || !existsSync(keys)) await record();
const mb = statSync(pcap).size / 1e6;
readFileSync(pcap); // page cache warm
const rows: string[] = [];
for (const [label, extra] of [['', []], [' + key log', [keys]]] as const) {
  const t = timed(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'measure', pcap, ...extra]);
  const j = JSON.parse(t.stdout.trim().split('\n').pop()!);
  rows.push(tableRow(`tapscope session${label}`, t, mb, `${j.quic} QUIC connections (${j.quicEstablished} established), ${j.h3} HTTP/3 exchanges`));
}
for (const withKeys of [false, true]) {
  const t = timed('tshark', ['-r', pcap, '-q', '-z', 'io,stat,0,quic,quic.frame_type==8||quic.frame_type==9||quic.frame_type==10||quic.frame_type==11||quic.frame_type==12||quic.frame_type==13||quic.frame_type==14||quic.frame_type==15', ...(withKeys ? ['-o', `tls.keylog_file:${keys}`] : [])]);
  const m = /\|\s*0\.0+\s*<>\s*\S+\s*\|\s*(\d+)\s*\|[^|]*\|\s*(\d+)\s*\|/.exec(t.stdout);
  rows.push(tableRow(`tshark -z io,stat quic${withKeys ? ' + key log' : ''}`, t, mb, m ? `${m[1]} QUIC packets, ${m[2]} with STREAM frames` : '?'));
}
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
process.stdout.write(`QUIC / HTTP/3, ${mb.toFixed(1)} MB capture (${execFileSync('capinfos', ['-c', '-M', pcap], { encoding: 'utf8' }).match(/Number of packets:\s+(\d+)/)?.[1] ?? '?'} packets), load ${load}\n\n`);
process.stdout.write(TABLE_HEAD + rows.join('\n') + '\n');
