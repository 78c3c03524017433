import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { allCaptures, capture, decodeAsFor, REPO_ROOT } from '../helpers/captures.js';
import type { AnalyzeJob, WorkerMessage } from '../../main/engine/analyze-worker.js';
import { HttpExchangeStore } from '../../main/analysis/http-exchange-store.js';

/*
 * The workbench's analysis worker with the split analysis (its application layer in a
 * second thread, engine/split-analysis.ts) must send what it sends in one thread: the same
 * connection rows and packet index in its batches, and the same 'done' report and HTTP
 * exchanges, on every corpus capture.
 */

let dir = '';
let workerFile = '';

beforeAll(async () => {
  dir = join(REPO_ROOT, 'out', `split-workbench-test-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  workerFile = join(dir, 'analyze-worker.mjs');
  // Bundled as scripts/build.mjs bundles them: the application thread's script beside the worker's.
  await Promise.all([['main/engine/analyze-worker.ts', workerFile], ['main/engine/app-stage-worker.ts', join(dir, 'app-stage-worker.mjs')]].map(([entry, outfile]) => build({
    entryPoints: [join(REPO_ROOT, entry)], outfile, bundle: true, platform: 'node', target: 'node20', format: 'esm', logLevel: 'error',
    external: ['cap', 'ws', 'electron', 'bufferutil', 'utf-8-validate'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  })));
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome {
  /** Each connection's last row (f64 then u32 values) by id. */
  rows: Map<number, number[]>;
  addrs: string[];
  indexConn: number[];
  indexTs: number[];
  report: Record<string, unknown>;
  http: unknown[];
}

function analyzeInWorker(path: string, decodeAs: string[], threads: '1' | '2'): Promise<Outcome> {
  const job: AnalyzeJob = { kind: 'tapscope-analyze', path, decodeAs, cancel: new SharedArrayBuffer(4), batchMs: 5, appStageWorker: join(dirname(workerFile), 'app-stage-worker.mjs') };
  const w = new Worker(workerFile, { workerData: job, env: { ...process.env, TAPSCOPE_ANALYZE_THREADS: threads } });
  const out: Outcome = { rows: new Map(), addrs: [], indexConn: [], indexTs: [], report: {}, http: [] };
  return new Promise((resolve, reject) => {
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'batch') {
        const c = m.connections;
        const f = c.f64.length / Math.max(1, c.ids.length);
        const u = c.u32.length / Math.max(1, c.ids.length);
        c.ids.forEach((id, k) => out.rows.set(id, [...c.f64.subarray(k * f, k * f + f), ...c.u32.subarray(k * u, k * u + u)]));
        out.addrs.push(...c.addrs);
        out.indexConn.push(...m.index.connId);
        out.indexTs.push(...m.index.ts);
      } else if (m.type === 'done') {
        out.report = m.report as unknown as Record<string, unknown>;
        if (m.httpStore) {
          const store = HttpExchangeStore.revive(m.httpStore);
          for (let i = 0; i < store.count; i++) out.http.push(store.at(i));
        }
        void w.terminate().then(() => resolve(out));
      } else if (m.type === 'failed') reject(new Error(m.message));
    });
    w.on('error', reject);
  });
}

describe('workbench analysis worker: split = one thread', () => {
  it.each(allCaptures())('%s', async (name) => {
    const decodeAs = decodeAsFor(name).tapscope;
    const [one, two] = await Promise.all([analyzeInWorker(capture(name), decodeAs, '1'), analyzeInWorker(capture(name), decodeAs, '2')]);
    expect(JSON.stringify(two.report)).toBe(JSON.stringify(one.report));
    expect(JSON.stringify(two.http)).toBe(JSON.stringify(one.http));
    expect([...two.rows.entries()]).toEqual([...one.rows.entries()]);
    expect(two.addrs).toEqual(one.addrs);
    expect(two.indexConn).toEqual(one.indexConn);
    expect(two.indexTs).toEqual(one.indexTs);
    expect((one.report.file as { packets: number }).packets).toBeGreaterThan(0);
  }, 60_000);
});

describe('workbench analysis worker: the split really runs', () => {
  it('with TAPSCOPE_ANALYZE_THREADS=2 the application thread does the work (a failing one fails the analysis)', async () => {
    const { copyFileSync, writeFileSync } = await import('node:fs');
    const broken = join(dir, 'broken');
    mkdirSync(broken, { recursive: true });
    copyFileSync(workerFile, join(broken, 'analyze-worker.mjs'));
    writeFileSync(join(broken, 'app-stage-worker.mjs'), "throw new Error('no application thread today');\n");
    const saved = workerFile;
    workerFile = join(broken, 'analyze-worker.mjs');
    try {
      await expect(analyzeInWorker(capture('http-get-basic.pcap'), [], '2')).rejects.toThrow(/analysis failed: .*no application thread today/);
      const one = await analyzeInWorker(capture('http-get-basic.pcap'), [], '1');
      expect((one.report.http as unknown[]).length + one.http.length).toBeGreaterThan(0);
    } finally {
      workerFile = saved;
    }
  }, 60_000);
});
