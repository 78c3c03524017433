import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli } from '../helpers/cli-bundle.js';
import { capture } from '../helpers/captures.js';

/*
 * `analyze` of a capture of 64 MB or more starts itself again with a small V8 young
 * generation (main/cli/small-young-generation.ts): the document, the messages and the exit
 * status must be what the same process gives with V8's defaults.
 */

let bundleDir = '';
let cli = '';
let scratch = '';
let big = '';

beforeAll(async () => {
  ({ dir: bundleDir, cli } = await bundleCli('big-file-test'));
  scratch = mkdtempSync(join(tmpdir(), 'tapscope-big-'));
  // Ten copies of a real capture's records after its header: 68 MB, 820,000 packets.
  const src = readFileSync(capture('many-conns-loopback-echo.pcap'));
  big = join(scratch, 'big.pcap');
  writeFileSync(big, Buffer.concat([src, ...Array.from({ length: 9 }, () => src.subarray(24))]));
}, 120_000);

afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

interface Run { status: number; stdout: string; stderr: string }

function analyze(file: string, keepDefaults: boolean): Promise<Run> {
  const env = { ...process.env, TAPSCOPE_KEEP_HEAP_DEFAULTS: keepDefaults ? '1' : '0' };
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'analyze', '--json', file], { env, maxBuffer: 1 << 30 }, (e, stdout, stderr) => {
      resolve({ status: e ? ((e as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

describe('analyze of a big capture (re-run with a small young generation)', () => {
  it('prints the same document as with V8 defaults', async () => {
    expect(statSync(big).size).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    const [small, defaults] = await Promise.all([analyze(big, false), analyze(big, true)]);
    expect(small.status).toBe(0);
    expect(small.stderr).toBe(defaults.stderr);
    expect(small.stdout === defaults.stdout).toBe(true);
    expect(JSON.parse(small.stdout).file.packets).toBeGreaterThan(800_000);
  }, 180_000);

  it('passes a damaged file\'s status 2 and message on', async () => {
    const cut = join(scratch, 'cut.pcap');
    writeFileSync(cut, readFileSync(big));
    truncateSync(cut, statSync(big).size - 1000);
    const [small, defaults] = await Promise.all([analyze(cut, false), analyze(cut, true)]);
    expect(small.status).toBe(2);
    expect(defaults.status).toBe(2);
    expect(small.stderr).toMatch(/is damaged/);
    expect(small.stderr).toBe(defaults.stderr);
    expect(small.stdout === defaults.stdout).toBe(true);
  }, 180_000);
});
