/*
 * Shared by the decryption benches (tls-decrypt-bench.ts, quic-bench.ts): one Tapscope session
 * over a capture in a child process (`measure FILE [KEYS] [noble]`), and a timed command
 * (/usr/bin/time: wall, CPU, peak RSS).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A bench script's start: a `measure FILE [KEYS] [noble]` child measures and exits; otherwise
 * the capture's paths in bench/data/ and the size asked with --mb (default `defaultMB`).
 */
export async function benchStart(name: string, defaultMB: number): Promise<{ args: string[]; targetMB: number; dataDir: string; pcap: string; keys: string }> {
  const args = process.argv.slice(2);
  if (args[0] === 'measure') {
    await measureChild(args[1], args[2], args[3]);
    process.exit(0);
  }
  const i = args.indexOf('--mb');
  const dataDir = join(dirname(fileURLToPath(import.meta.url)), 'data');
  return { args, targetMB: Number(i >= 0 ? args[i + 1] : defaultMB), dataDir, pcap: join(dataDir, `${name}.pcap`), keys: join(dataDir, `${name}.keys`) };
}

export interface Timed {
  seconds: number;
  cpuSeconds: number;
  maxRssMB: number;
  stdout: string;
}

/** Child side: analyses FILE (with KEYS when given) and prints its figures as one JSON line. */
export async function measureChild(file: string, keys: string | undefined, ciphers: string | undefined): Promise<void> {
  const { analyzeFile } = await import('../main/engine/analyze-file.js');
  const { useNativeCiphers } = await import('../main/decrypt/ciphers.js');
  if (ciphers === 'noble') useNativeCiphers(false);
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const r = analyzeFile(file, { keyLogs: keys ? [{ text: readFileSync(keys, 'utf8'), source: keys }] : [] });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const quic = r.report.quic as { state: string }[];
  process.stdout.write(JSON.stringify({
    seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMB: process.resourceUsage().maxRSS / 1024,
    http: r.report.http.length, h3: (r.report.http as { protocol: string }[]).filter((x) => x.protocol === 'h3').length,
    decrypted: r.report.tls.filter((t) => (t as { decrypted: boolean }).decrypted).length, tls: r.report.tls.length,
    quic: quic.length, quicEstablished: quic.filter((q) => q.state !== 'handshake-unanswered' && q.state !== 'handshake-failed').length,
  }) + '\n');
}

export function timed(cmd: string, a: string[]): Timed {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', cmd, ...a], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const last = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: last[0], cpuSeconds: last[1] + last[2], maxRssMB: last[3] / 1024, stdout: r.stdout };
}

/** A Markdown row: wall, CPU, MB/s of capture, peak RSS, what was found. */
export function tableRow(what: string, t: { seconds: number; cpuSeconds: number; maxRssMB: number }, mb: number, found: string): string {
  return `| ${what} | ${t.seconds.toFixed(2)} | ${t.cpuSeconds.toFixed(2)} | ${(mb / t.seconds).toFixed(1)} | ${t.maxRssMB.toFixed(0)} | ${found} |`;
}

export const TABLE_HEAD = '| run | wall s | CPU s | MB/s | peak RSS MB | found |\n|---|---|---|---|---|---|\n';
