// SIGKILL of the capturing process: the spool file still opens in tshark with every packet
// flushed before the kill, the helper notices and exits, and the capture is offered as unfinished.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureService } from '../../main/capture/service.js';
import { CLI, Lab, ensureBuilt, httpGets, skipReason, waitFor } from './lab.js';

const skip = skipReason();
const PORT = 8080;

describe.skipIf(skip !== null)(`SIGKILL mid-capture${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const lab = new Lab(4);
  beforeAll(async () => {
    await ensureBuilt();
    lab.up();
    lab.httpServer(PORT, { 'page.bin': 50_000 });
  });
  afterAll(() => lab.cleanup());

  it('keeps a readable spool holding the packets flushed before the kill, offered on the next start', async () => {
    // A spool name: unfinished captures are offered only for spool files (live-sink.ts spoolFileProblem).
    const file = join(lab.dir, `tapscope_${lab.vb}_20261202000000_${process.pid}.pcapng`);
    const p = lab.spawn(lab.b, [process.execPath, CLI, 'capture', '-i', lab.vb, '-f', `tcp port ${PORT}`, '-w', file, '--progress']);
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d));
    await waitFor(p.stderr!, /capturing on/);
    // Traffic keeps flowing while the process is killed (a bounded loop of downloads).
    const load = spawn('ip', ['netns', 'exec', lab.a, ...httpGets(`http://${lab.ipB}:${PORT}/page.bin`, 60, 5000)], { stdio: 'ignore' });
    try {
      await waitFor(p.stderr!, /progress: \d+ captured, \d+ saved, [1-9]\d\d+ flushed/, 20_000);
      const flushedBeforeKill = Math.max(...[...err.matchAll(/(\d+) flushed/g)].map((m) => Number(m[1])));
      const helperPattern = `tapscope-capture -i ${lab.vb} `;
      expect(spawnSync('pgrep', ['-f', helperPattern]).status).toBe(0); // the capture program is running
      p.kill('SIGKILL');
      await new Promise((r) => p.once('close', r));

      // The capture program sees its parent gone (stdin closed) and exits by itself.
      let helperAlive = true;
      for (let i = 0; i < 30 && helperAlive; i++) {
        helperAlive = spawnSync('pgrep', ['-f', helperPattern]).status === 0;
        if (helperAlive) await new Promise((r) => setTimeout(r, 100));
      }
      expect(helperAlive).toBe(false);

      const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
      expect(r.stderr).not.toMatch(/isn't a capture file|unknown|damaged/i);
      const n = r.stdout.trim().split('\n').filter(Boolean).length;
      expect(n).toBeGreaterThanOrEqual(flushedBeforeKill);
      expect(r.status).toBe(0);

      // The next start finds it.
      const unfinished = new CaptureService().findUnfinished(lab.dir);
      expect(unfinished.map((u) => u.files)).toContainEqual([file]);
      expect(unfinished[0].label).toBe(lab.vb);
      new CaptureService().dismissUnfinished(unfinished[0]);
      expect(new CaptureService().findUnfinished(lab.dir)).toEqual([]);
      expect(existsSync(file)).toBe(true);
    } finally {
      load.kill('SIGKILL');
    }
  });
});
