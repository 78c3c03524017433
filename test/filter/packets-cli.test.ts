import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { bundleCli } from '../helpers/cli-bundle.js';
import { capture, REPO_ROOT, tsharkFields } from '../helpers/captures.js';

/*
 * `tapscope packets` and `tapscope analyze -Y` as users run them: the CLI bundled as
 * scripts/build.mjs bundles it, run as a child process, compared with tshark.
 */
let bundleDir: string;
let cli: string;

beforeAll(async () => {
  ({ dir: bundleDir, cli } = await bundleCli('cli-filter-test'));
});
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface JsonRow { number: number; ts: number; src: string; dst: string; protocol: string; length: number; info: string }

describe('tapscope packets', () => {
  const cases: [string, string][] = [
    ['http-dns-ipv6-wikipedia.pcap', '(ip || ipv6) && !(tcp.port == 80 && tcp.len == 0)'],
    ['http-206-zerowindow-retx-ooo.pcap', 'tcp.analysis.retransmission || tcp.analysis.zero_window'],
  ];
  it.each(cases)('%s -Y %s: the lines tshark prints (number, time, source, destination, length)', (name, filter) => {
    const r = run(['packets', capture(name), '-Y', filter]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ours = r.stdout.trim().split('\n').map((l) => {
      const m = /^\s*(\d+)\s+(\d+\.\d{6}) (\S+) \u2192 (\S+) \S+ (\d+) /.exec(l);
      if (!m) throw new Error(`unexpected line: ${l}`);
      return [m[1], m[2], m[3], m[4], m[5]];
    });
    const theirs = tsharkFields(capture(name), ['frame.number', 'frame.time_relative', '_ws.col.Source', '_ws.col.Destination', 'frame.len'], ['-Y', filter])
      .map(([n, t, s, d, l]) => [n, Number(t).toFixed(6), s, d, l]);
    expect(theirs.length).toBeGreaterThan(10);
    expect(ours).toEqual(theirs);
  });

  it('--json: an array of {number, ts, src, dst, protocol, length, info} for the matching packets', () => {
    const r = run(['packets', capture('http-get-basic.pcap'), '-Y', 'tcp.len > 0', '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as JsonRow[];
    const t = tsharkFields(capture('http-get-basic.pcap'), ['frame.number', 'frame.time_epoch', 'frame.len'], ['-Y', 'tcp.len > 0']);
    expect(rows.map((x) => x.number)).toEqual(t.map((x) => Number(x[0])));
    rows.forEach((x, k) => {
      expect(Object.keys(x)).toEqual(['number', 'ts', 'src', 'dst', 'protocol', 'length', 'info']);
      expect(x.ts).toBeCloseTo(Number(t[k][1]), 6);
      expect(x.length).toBe(Number(t[k][2]));
    });
    expect(rows[0].info).toContain('GET /download/CHANGES.bro-aux.txt');
  });

  it('-c N reads the first N packets, as tshark -c does', () => {
    const r = run(['packets', capture('http-get-basic.pcap'), '-c', '5', '-Y', 'ip.src == 192.150.187.43', '--json']);
    const t = spawnSync('tshark', ['-r', capture('http-get-basic.pcap'), '-c', '5', '-Y', 'ip.src == 192.150.187.43', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    expect((JSON.parse(r.stdout) as JsonRow[]).map((x) => x.number)).toEqual(t.stdout.trim().split('\n').map(Number));
  });

  it('a broken filter: exit 2, one line naming the problem and a caret line under it, nothing on stdout', () => {
    const r = run(['packets', capture('http-get-basic.pcap'), '-Y', 'tcp.port == 80 && tcp.prot == 1']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('tapscope: tcp.prot is neither a field nor a protocol name.\n    tcp.port == 80 && tcp.prot == 1\n                      ^~~~~~~~\n');
  });
});

describe('tapscope analyze -Y', () => {
  it('analyses only the matching packets: one connection, its packets and bytes as tshark counts them', () => {
    const name = 'http-dns-ipv6-wikipedia.pcap';
    const r = run(['analyze', capture(name), '-Y', 'tcp.stream == 3', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { file: { packets: number; bytes: number }; connections: { packets: number; client: { port: number }; server: { port: number } }[] };
    const t = tsharkFields(capture(name), ['frame.len', 'tcp.srcport', 'tcp.dstport'], ['-Y', 'tcp.stream == 3']);
    expect(report.file.packets).toBe(t.length);
    expect(report.file.bytes).toBe(t.reduce((s, x) => s + Number(x[0]), 0));
    expect(report.connections).toHaveLength(1);
    expect(report.connections[0].packets).toBe(t.length);
    expect([report.connections[0].client.port, report.connections[0].server.port].sort()).toEqual([Number(t[0][1]), Number(t[0][2])].sort());
  });

  it('a broken filter: exit 2 with the message', () => {
    const r = run(['analyze', capture('http-get-basic.pcap'), '-Y', 'ip.addr == 10.0.0.0/40']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('tapscope: Netmask bits in a CIDR IPv4 address should be <= 32, not 40');
  });
});
