/*
 * The workbench path of the bench (issue 10): opens a capture through TapscopeService as the
 * app does (openFile, the analysis worker thread, batched deltas) and measures
 *   firstResultMs  openFile call -> first progress event carrying packets (first delta)
 *   completeMs     openFile call -> the session leaves 'opening' (ready, damaged, failed)
 *   maxRssMB       the process's peak RSS (service + worker thread share it)
 *   cpuSeconds     user + system CPU time of the process (both threads) until complete
 * Prints one JSON line. Bundled and run by scripts/bench.mjs:
 *   node out/bench/workbench-open.mjs WORKER_FILE CAPTURE
 * or from the sources after `node scripts/build.mjs` (worker: out/cli/analyze-worker.mjs):
 *   npx tsx bench/workbench-open.ts CAPTURE
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TapscopeService } from '../main/services/service.js';
import type { Progress } from '../preload/api.js';

const args = process.argv.slice(2);
const [workerArg, path] = args.length === 1 ? [join(dirname(fileURLToPath(import.meta.url)), '..', 'out', 'cli', 'analyze-worker.mjs'), args[0]] : args;
const workerFile = workerArg ? resolve(workerArg) : '';
if (!workerFile || !path) {
  process.stderr.write('usage: workbench-open [WORKER_FILE] CAPTURE\n');
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'tapscope-wbench-'));
const service = new TapscopeService({
  workerFile, stateDir: join(dir, 'state'), exportDir: join(dir, 'exports'), samplePath: null, version: 'bench', transport: 'bench',
});
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
let cpuSeconds = 0;
const ms = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
let firstResultMs: number | null = null;
let sessionId: string | null = null;
let final: Progress | null = null;
let completeMs = 0;
const done = new Promise<void>((resolve) => {
  service.on('progress', (p: Progress) => {
    if (firstResultMs === null && p.packets > 0) firstResultMs = ms();
    if (p.state !== 'opening' && (sessionId === null || p.sessionId === sessionId)) {
      completeMs = ms();
      const c = process.cpuUsage(cpu0);
      cpuSeconds = (c.user + c.system) / 1e6;
      final = p;
      resolve();
    }
  });
});
const info = await service.openFile({ path, decodeAs: [] });
sessionId = info.sessionId;
await done;
const f = final as Progress | null;
const result = {
  firstResultMs, completeMs, state: f?.state ?? null, packets: f?.packets ?? null, connections: f?.connections ?? null,
  message: f?.message ?? null, maxRssMB: process.resourceUsage().maxRSS / 1024, cpuSeconds,
};
await service.dispose();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
