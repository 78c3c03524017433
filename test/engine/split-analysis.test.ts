import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli } from '../helpers/cli-bundle.js';
import { allCaptures, capture, CAPTURES_DIR, decodeAsFor } from '../helpers/captures.js';
import { analyzeFileSplit, shouldSplit, SplitNotStarted } from '../../main/engine/split-analysis.js';
import { ContextRingReader, ContextRingWriter, contextRingBuffer } from '../../main/engine/context-ring.js';

/*
 * The split analysis (engine/split-analysis.ts: transport and application threads) must
 * write the single-thread document byte for byte, with the same messages and exit status,
 * on every capture of the corpus and with every option that changes the analysis.
 */

let bundleDir = '';
let cli = '';
let scratch = '';

beforeAll(async () => {
  ({ dir: bundleDir, cli } = await bundleCli('split-test'));
  scratch = mkdtempSync(join(tmpdir(), 'tapscope-split-'));
}, 120_000);

afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

interface Run { status: number; stdout: string; stderr: string }

function analyze(threads: '1' | '2', args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'analyze', '--json', ...args], { env: { ...process.env, TAPSCOPE_ANALYZE_THREADS: threads }, maxBuffer: 1 << 30 }, (e, stdout, stderr) => {
      resolve({ status: e ? ((e as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

async function expectSameAsOneThread(args: string[]): Promise<Run> {
  const [one, two] = await Promise.all([analyze('1', args), analyze('2', args)]);
  expect(two.stderr).toBe(one.stderr); // also: no "could not run ... one thread" note
  expect(two.status).toBe(one.status);
  expect(two.stdout.length).toBe(one.stdout.length);
  expect(two.stdout === one.stdout).toBe(true);
  return one;
}

describe('split analysis: byte-identical to one thread', () => {
  it.each(allCaptures())('%s', async (name) => {
    const one = await expectSameAsOneThread([capture(name), ...decodeAsFor(name).tapscope.flatMap((d) => ['--decode', d])]);
    const report = JSON.parse(one.stdout);
    expect(report.file.packets).toBeGreaterThan(0);
  }, 60_000);

  it('with a key log (TLS 1.3 decrypted: HTTP found only with the keys)', async () => {
    const one = await expectSameAsOneThread([capture('tls13-rfc8446-early-data-keylog.pcap'), '--keylog', capture('tls13-rfc8446-early-data.keys')]);
    expect(JSON.parse(one.stdout).tls.length).toBeGreaterThan(0);
  }, 60_000);

  it('with Decode As and a Community ID seed', async () => {
    const one = await expectSameAsOneThread([capture('tzsp-http-udp31337.pcapng'), '--decode', 'udp:31337=tzsp', '--community-id-seed', '7']);
    expect(JSON.parse(one.stdout).connections.length).toBeGreaterThan(0);
  }, 60_000);

  it('on a file cut in the middle of a packet: partial results, status 2, the same message', async () => {
    const cut = join(scratch, 'cut.pcap');
    copyFileSync(capture('http-post-retx-dupack.pcap'), cut);
    truncateSync(cut, Math.floor(statSync(cut).size * 0.6));
    const one = await expectSameAsOneThread([cut]);
    expect(one.status).toBe(2);
    expect(one.stderr).toMatch(/is damaged/);
  }, 60_000);

  it('on a capture repeated (82,000 packets twice: the 5-tuples come back as new connections)', async () => {
    // Two copies of a real capture's records after one header: the second copy's SYNs
    // start new connections on keys in use (port reuse, as tshark's tcp.stream).
    const path = join(scratch, 'many.pcap');
    const src = readFileSync(capture('many-conns-loopback-echo.pcap'));
    const parts = [src];
    parts.push(src.subarray(24));
    writeFileSync(path, Buffer.concat(parts));
    const one = await expectSameAsOneThread([path]);
    const report = JSON.parse(one.stdout);
    expect(report.file.packets).toBeGreaterThan(160_000);
  }, 120_000);
});

describe('split analysis: when and how it runs', () => {
  it('splits only regular files, as TAPSCOPE_ANALYZE_THREADS says', () => {
    const big = capture('http-get-basic.pcap');
    expect(shouldSplit(big, { TAPSCOPE_ANALYZE_THREADS: '2' })).toBe(true);
    expect(shouldSplit(big, { TAPSCOPE_ANALYZE_THREADS: '1' })).toBe(false);
    expect(shouldSplit(big, {})).toBe(false); // one thread unless asked
    expect(shouldSplit(CAPTURES_DIR, { TAPSCOPE_ANALYZE_THREADS: '2' })).toBe(false);
    expect(shouldSplit('/dev/stdin', { TAPSCOPE_ANALYZE_THREADS: '2' })).toBe(false);
    expect(shouldSplit(join(scratch, 'missing.pcap'), { TAPSCOPE_ANALYZE_THREADS: '2' })).toBe(false);
  });

  it('a worker that fails before any output: SplitNotStarted, nothing written', async () => {
    const bad = join(scratch, 'bad-worker.mjs');
    writeFileSync(bad, "throw new Error('no application thread today');\n");
    const written: unknown[] = [];
    const err = await analyzeFileSplit(capture('http-get-basic.pcap'), { decodeAs: [], decodeAsText: [], keyLogs: [], workerFile: bad }, (t) => written.push(t)).catch((e) => e);
    expect(err).toBeInstanceOf(SplitNotStarted);
    expect(String(err.message)).toMatch(/no application thread today/);
    expect(written).toEqual([]);
  }, 60_000);

  it('the CLI then analyses in one thread and says so', async () => {
    // The bundle's worker replaced by one that fails: same document, a note on stderr.
    // Inside the repository, where the bundle's external packages resolve.
    const dir = mkdtempSync(join(bundleDir, 'fallback-'));
    try {
      copyFileSync(cli, join(dir, 'tapscope.mjs'));
      writeFileSync(join(dir, 'app-stage-worker.mjs'), "throw new Error('no application thread today');\n");
      const run = (c: string, threads: string): Promise<Run> => new Promise((resolve) => {
        execFile(process.execPath, [c, 'analyze', '--json', capture('http-get-basic.pcap')], { env: { ...process.env, TAPSCOPE_ANALYZE_THREADS: threads } }, (e, stdout, stderr) => resolve({ status: e ? 1 : 0, stdout, stderr }));
      });
      const [one, fallback] = await Promise.all([run(cli, '1'), run(join(dir, 'tapscope.mjs'), '2')]);
      expect(fallback.status).toBe(0);
      expect(fallback.stdout).toBe(one.stdout);
      expect(fallback.stderr).toMatch(/two-thread analysis could not run \(.*no application thread today.*\); analysing in one thread/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('the context ring hands over every packet in order across wraps, and ends', () => {
    const sab = contextRingBuffer(1); // the smallest ring: 8,192 slots
    const w = new ContextRingWriter(sab);
    const r = new ContextRingReader(sab);
    const got: number[] = [];
    // One thread: write less than a ring-full minus the reader's publishing step (4,096), read
    // it, repeat; a full ring would wait for a reader that this thread is not yet running.
    let n = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 3000; i++, n++) w.push(n % 7 === 0 ? -1 : n, n & 0xffff, n % 2 === 0);
      if (round === 9) w.end();
      else (w as unknown as { publish(): void }).publish();
      for (let i = 0; i < 3000; i++) {
        expect(r.next()).toBe(true);
        got.push(r.connId);
        const k = got.length - 1;
        expect(r.tcpFlags).toBe(k & 0xffff);
        expect(r.toServer).toBe(k % 2 === 0);
      }
    }
    expect(r.next()).toBe(false);
    expect(got.length).toBe(30000);
    expect(got.every((c, k) => c === (k % 7 === 0 ? -1 : k))).toBe(true);
  });
});
