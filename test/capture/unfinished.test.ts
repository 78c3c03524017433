// Unfinished-capture markers are plain JSON in a user-writable folder: a hostile one must not
// make Tapscope open or delete any other file. Only spool files of that marker, directly in
// the spool directory, are accepted (live-sink.ts spoolFileProblem).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findUnfinishedCaptures, spoolFileProblem } from '../../main/capture/live-sink.js';
import { TapscopeService } from '../../main/services/service.js';
import { validatedApi } from '../../main/services/validate.js';
import { REPO_ROOT } from '../helpers/captures.js';

const SAMPLE = join(REPO_ROOT, 'resources', 'sample', 'tapscope-sample.pcapng');
/** A pid that is certainly not running (a child that has exited). */
const DEAD_PID = spawnSync('true').pid!;

describe('unfinished captures: hostile markers', () => {
  let work = '';
  let spool = '';
  let victim = '';
  let service: TapscopeService;
  const marker = (name: string, files: unknown, label = 'eth0') =>
    writeFileSync(join(spool, name), JSON.stringify({ pid: DEAD_PID, startedAt: 1_800_000_000, label, files }));

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tapscope-unfinished-'));
    spool = join(work, 'captures');
    mkdirSync(spool);
    victim = join(work, 'precious.pcapng');
    copyFileSync(SAMPLE, victim);
    service = new TapscopeService({
      workerFile: null, stateDir: join(work, 'state'), exportDir: join(work, 'exports'), samplePath: null,
      version: 'test', transport: 'test', spoolDir: spool,
    });
  });
  afterAll(async () => {
    await service.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('a marker naming a file outside the spool directory is refused with a clear error, and the file is left alone', async () => {
    const api = validatedApi(service);
    const id = 'tapscope_eth0_20261202071500_4242.pcapng.tapscope.json';
    marker(id, [victim]);
    expect(await api.unfinishedCaptures()).toEqual([]);
    const open = await api.openUnfinished(id).catch((e) => e);
    expect(open).toMatchObject({ code: 'forbidden' });
    expect(open.message).toBe(`refused: the unfinished-capture marker ${id} names ${victim} is not in the spool directory ${spool}`);
    await expect(api.discardUnfinished(id)).rejects.toMatchObject({ code: 'forbidden', message: expect.stringMatching(/^refused: .*not in the spool directory/) });
    expect(existsSync(victim)).toBe(true);
    expect(existsSync(join(spool, id))).toBe(true); // not touched either
    rmSync(join(spool, id));
  });

  it('refuses other spool files, traversal, symlinks, odd names and odd entries', async () => {
    const api = validatedApi(service);
    const other = join(spool, 'tapscope_eth1_20261202070000_77.pcapng');
    copyFileSync(SAMPLE, other);
    const link = join(spool, 'tapscope_lo_20261202070000_9.pcapng');
    symlinkSync(victim, link);
    const cases: [string, unknown, RegExp][] = [
      ['tapscope_eth0_20261202071500_1.pcapng.tapscope.json', [other], /is not a spool file of/],
      ['tapscope_eth0_20261202071500_2.pcapng.tapscope.json', [join(spool, '..', 'precious.pcapng')], /not in the spool directory/],
      ['tapscope_eth0_20261202071500_3.pcapng.tapscope.json', [join(spool, 'sub', 'tapscope_eth0_20261202071500_3.pcapng')], /not in the spool directory/],
      ['tapscope_lo_20261202070000_9.pcapng.tapscope.json', [link], /is not a regular file/],
      ['evil.tapscope.json', [other], /not named after a spool file/],
      ['tapscope_eth0_20261202071500_5.pcapng.tapscope.json', ['/etc/passwd'], /not in the spool directory/],
      ['tapscope_eth0_20261202071500_6.pcapng.tapscope.json', [42], /not a path/],
      ['tapscope_eth0_20261202071500_7.pcapng.tapscope.json', [`${join(spool, 'tapscope_eth0_20261202071500_7.pcapng')}\u0000x`], /not a path/],
    ];
    for (const [name, files] of cases) marker(name, files);
    expect(await api.unfinishedCaptures()).toEqual([]);
    const found = findUnfinishedCaptures(spool);
    for (const [name, , re] of cases) {
      const u = found.find((x) => x.marker === join(spool, name));
      expect(u?.refused, name).toMatch(re);
      expect(u?.files, name).toEqual([]);
      // 'evil.tapscope.json' is refused by the API's id check before any lookup.
      await expect(api.discardUnfinished(name), name).rejects.toThrow(/refused|invalid argument/);
    }
    expect(existsSync(other)).toBe(true);
    expect(existsSync(victim)).toBe(true);
    for (const [name] of cases) rmSync(join(spool, name));
    rmSync(other);
    rmSync(link);
  });

  it('its own spool files (one file, or a ring) are offered, opened and discarded', async () => {
    const api = validatedApi(service);
    const base = 'tapscope_br0_20261202072000_4243.pcapng';
    const ring = ['tapscope_br0_20261202072000_4243_00001_20261202072000.pcapng', 'tapscope_br0_20261202072000_4243_00002_20261202072010.pcapng'].map((n) => join(spool, n));
    for (const f of ring) copyFileSync(SAMPLE, f);
    marker(`${base}.tapscope.json`, ring, 'br0');
    const [u] = await api.unfinishedCaptures();
    expect(u).toMatchObject({ id: `${base}.tapscope.json`, source: 'br0', files: ring });
    const info = await api.openUnfinished(u.id);
    expect(info.path).toBe(ring[1]);
    await service.whenDone(info.sessionId);
    await api.closeSession(info.sessionId);
    expect(await api.unfinishedCaptures()).toEqual([]);

    copyFileSync(SAMPLE, join(spool, base));
    marker(`${base}.tapscope.json`, [join(spool, base)], 'br0');
    await api.discardUnfinished(`${base}.tapscope.json`);
    expect(existsSync(join(spool, base))).toBe(false);
    expect(existsSync(join(spool, `${base}.tapscope.json`))).toBe(false);
  });

  it('spoolFileProblem accepts exactly the names the spool writer makes', () => {
    const m = join(spool, 'tapscope_eth0_20261202071500_4242.pcapng.tapscope.json');
    expect(spoolFileProblem(join(spool, 'tapscope_eth0_20261202071500_4242.pcapng'), m, spool)).toBeNull();
    expect(spoolFileProblem(join(spool, 'tapscope_eth0_20261202071500_4242_00003_20261202071510.pcapng'), m, spool)).toBeNull();
    expect(spoolFileProblem(join(spool, 'tapscope_eth0_20261202071500_4242_3_x.pcapng'), m, spool)).toMatch(/not a spool file/);
    expect(spoolFileProblem(join(spool, 'tapscope_eth0_20261202071500_4242.pcapng.sh'), m, spool)).toMatch(/not a spool file/);
    // The service's own spool names (label, ISO time, random id) have the same shape.
    const svc = join(spool, 'tapscope_listen-vxlan0_20261202T072000_a1b2c3.pcapng');
    expect(spoolFileProblem(svc, `${svc}.tapscope.json`, spool)).toBeNull();
  });
});
