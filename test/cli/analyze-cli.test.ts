import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli } from '../helpers/cli-bundle.js';
import { capture, decodeAsFor, REPO_ROOT, tsharkFields } from '../helpers/captures.js';
import { tsharkViews } from '../decode/tshark-stack.js';
import { saveCapture } from '../../main/pcap/writer.js';
import { corpusPacket } from '../decode/craft.js';

/*
 * `tapscope analyze` as users run it: the CLI bundled the way scripts/build.mjs bundles it
 * (into out/, so `cap`/`ws` resolve from node_modules), run as a child process.
 */
let bundleDir: string;
let cli: string;
let tmp: string;

beforeAll(async () => {
  ({ dir: bundleDir, cli } = await bundleCli('cli-test'));
  tmp = mkdtempSync(join(tmpdir(), 'tapscope-cli-'));
});
afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Report {
  file: { path: string; format: string; linkTypes: number[]; packets: number; bytes: number; firstTs: number; lastTs: number; interfaces: unknown[]; comments: unknown[] };
  warnings: { packet: number | null; offset: number | null; message: string }[];
  tunnels: { type: string; id: number | null; outerSrc: string | null; outerDst: string | null; packets: number }[];
  connections: { server: { ip: string; port: number }; client: { ip: string; port: number } }[];
  http: unknown[]; dns: unknown[]; tls: unknown[]; quic: unknown[]; findings: unknown[]; alerts: unknown[];
}

function analyzeJson(args: string[], expectCode = 0): Report {
  const r = run(['analyze', ...args, '--json']);
  expect(r.code, r.stderr).toBe(expectCode);
  return JSON.parse(r.stdout) as Report;
}

/** tshark's packet count, wire bytes and first/last times of a file. */
function tsharkFile(path: string): { packets: number; bytes: number; first: number; last: number } {
  const rows = tsharkFields(path, ['frame.encap_type', 'frame.len', 'frame.time_epoch']).filter((r) => r[0] !== '');
  return { packets: rows.length, bytes: rows.reduce((s, r) => s + Number(r[1]), 0), first: Number(rows[0][2]), last: Number(rows[rows.length - 1][2]) };
}

describe('tapscope analyze --json', () => {
  it('prints one JSON document with the stable top-level shape; file facts match tshark', () => {
    for (const name of ['http-get-basic.pcap', 'pcapng-2if-ns-and-us.pcapng', 'sll2-http.pcap']) {
      const j = analyzeJson([capture(name)]);
      expect(Object.keys(j)).toEqual(['file', 'warnings', 'tunnels', 'connections', 'http', 'dns', 'tls', 'quic', 'findings', 'alerts']);
      expect(Object.keys(j.file)).toEqual(['path', 'format', 'linkTypes', 'packets', 'bytes', 'firstTs', 'lastTs', 'interfaces', 'comments']);
      for (const k of ['warnings', 'tunnels', 'connections', 'http', 'dns', 'tls', 'quic', 'findings', 'alerts'] as const) expect(Array.isArray(j[k]), k).toBe(true);
      const t = tsharkFile(capture(name));
      expect(j.file.path).toBe(capture(name));
      expect(j.file.format).toBe(name.endsWith('.pcapng') ? 'pcapng' : 'pcap');
      expect(j.file.packets, name).toBe(t.packets);
      expect(j.file.bytes, name).toBe(t.bytes);
      expect(j.file.firstTs, name).toBeCloseTo(t.first, 6);
      expect(j.file.lastTs, name).toBeCloseTo(t.last, 6);
      expect(j.warnings, name).toEqual([]);
    }
  });

  it('tunnels: the summary matches tshark on every tunnel capture (type, id, outer addresses, packets)', async () => {
    for (const name of ['vxlan-http.pcap', 'geneve-http-many-options.pcap', 'gre-teb-http-dns.pcap', 'erspan2-http-retx.pcap', 'erspan3-dot1q-icmp.pcap', 'tzsp-http-udp31337.pcapng', 'vlan-qinq-http.pcap', 'tcp-syn-retransmit-http.pcap']) {
      const da = decodeAsFor(name);
      const j = analyzeJson([capture(name), ...da.tapscope.flatMap((d) => ['--decode', d])]);
      const want = new Map<string, number>();
      for (const v of await tsharkViews(capture(name), da.tshark)) {
        for (const layer of v.stack ? v.stack.split(' | ') : []) {
          const [typeId, addrs] = layer.split(' ');
          const [type, id] = typeId.split(':');
          const [src, dst] = addrs ? addrs.split('>') : [null, null];
          const key = JSON.stringify([type, id === 'null' ? null : Number(id), src, dst]);
          want.set(key, (want.get(key) ?? 0) + 1);
        }
      }
      const got = new Map(j.tunnels.map((t) => [JSON.stringify([t.type, t.id, t.outerSrc, t.outerDst]), t.packets]));
      expect(want.size, name).toBeGreaterThan(0);
      expect(Object.fromEntries(got), name).toEqual(Object.fromEntries(want));
    }
  });

  it('--decode udp:31337=tzsp unwraps TZSP so the inner HTTP conversation appears', () => {
    const path = capture('tzsp-http-udp31337.pcapng');
    // tshark, told the same thing, finds the HTTP requests' inner server.
    const req = tsharkFields(path, ['ip.dst', 'tcp.dstport'], ['-d', 'udp.port==31337,tzsp', '-Y', 'http.request']);
    expect(req.length).toBeGreaterThan(0);
    const server = { ip: req[0][0].split(',').pop(), port: Number(req[0][1]) };
    const isServer = (c: Report['connections'][number]) => JSON.stringify(c.server) === JSON.stringify(server);
    const plain = analyzeJson([path]);
    expect(plain.tunnels).toEqual([]);
    expect(plain.connections.some(isServer)).toBe(false);
    expect(plain.http).toEqual([]);
    const decoded = analyzeJson([path, '--decode', 'udp:31337=tzsp']);
    expect(decoded.tunnels.map((t) => t.type)).toEqual(['tzsp']);
    expect(decoded.connections.filter(isServer).length).toBe(new Set(tsharkFields(path, ['tcp.stream'], ['-d', 'udp.port==31337,tzsp', '-Y', 'tcp']).map((r) => r[0])).size);
    expect(decoded.http.length).toBe(req.length);
    // --decode=... works too
    expect(analyzeJson([path, '--decode=udp:31337=tzsp']).tunnels.length).toBe(1);
  });
});

describe('tapscope analyze: errors and warnings', () => {
  it('a bad --decode is a usage error (exit 1) that says what is expected', () => {
    for (const spec of ['udp:99999=tzsp', 'udp:31337=nosuch', 'tcp:80=http', 'garbage']) {
      const r = run(['analyze', capture('http-get-basic.pcap'), '--decode', spec, '--json']);
      expect(r.code, spec).toBe(1);
      expect(r.stderr, spec).toContain(`bad --decode "${spec}"`);
      expect(r.stdout, spec).toBe('');
    }
  });

  it('a missing file exits 1 with a clear message and no JSON', () => {
    const missing = join(tmp, 'no-such.pcap');
    const r = run(['analyze', missing, '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`cannot read ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*no such file`, 'i'));
    expect(r.stdout).toBe('');
  });

  it('a file that is not a capture exits 1', () => {
    const p = join(tmp, 'notes.txt');
    writeFileSync(p, 'hello, this is not a capture file\n');
    const r = run(['analyze', p]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a pcap or pcapng file/);
  });

  it('a damaged file exits 2, names offset and packet on stderr, and still prints the JSON', () => {
    const r = run(['analyze', capture('malformed-garbage-record-header.pcap'), '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/damaged: .*at byte offset 228, packet 2/);
    const j = JSON.parse(r.stdout) as Report;
    expect(j.file.packets).toBe(1);
    expect(j.warnings.some((w) => w.offset === 228 && w.packet === 2)).toBe(true);

    // A real capture cut in the middle of packet 10.
    const buf = readFileSync(capture('http-206-zerowindow-retx-ooo.pcap'));
    const cut = join(tmp, 'cut.pcap');
    let off = 24;
    for (let i = 0; i < 9; i++) off += 16 + buf.readUInt32LE(off + 8);
    writeFileSync(cut, buf.subarray(0, off + 30));
    const r2 = run(['analyze', cut, '--json']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`at byte offset ${off}, packet 10`);
    expect((JSON.parse(r2.stdout) as Report).file.packets).toBe(9);
  });

  it('an unknown link type (147) is counted and reported as a warning, not fatal', () => {
    const p = join(tmp, 'dlt147.pcap');
    const data = corpusPacket('http-get-basic.pcap', 1);
    saveCapture(p, [0, 1, 2].map((i) => ({ tsSec: 1700000000 + i, tsNsec: 0, caplen: data.length, origLen: data.length, data, offset: 0, interfaceId: 0 })), {
      format: 'pcap', interfaces: [{ id: 0, linkType: 147, snaplen: 65535, name: null, description: null, tsUnitsPerSec: 1e6 }],
    });
    const j = analyzeJson([p]);
    expect(j.file.packets).toBe(3);
    expect(j.file.linkTypes).toEqual([147]);
    expect(j.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/3 packet\(s\) with unsupported link type 147/)]);
    expect(tsharkFile(p).packets).toBe(3);
  });

  it('without --json prints a human summary', () => {
    const r = run(['analyze', capture('vxlan-http.pcap')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^.*vxlan-http\.pcap \(pcap, Ethernet\)/);
    expect(r.stdout).toMatch(/12 packets/);
    expect(r.stdout).toMatch(/tunnel vxlan id \d+/);
  });
});
