import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/captures';
import { ELECTRON_FUSES, FUSE_WIRE_ORDER, fuseProblems } from '../../main/electron/fuses';

/*
 * electron-builder.yml is checked by electron-builder's own configuration validation
 * (app-builder-lib's validateConfiguration: its JSON schema), and a `--linux dir` package
 * is built against a placeholder Electron distribution (electronDist) to check what goes
 * into app.asar. No Electron download and no native rebuild (npmRebuild: false). The
 * placeholder carries Electron's fuse wire (sentinel, version 1, 8 fuses at Electron's
 * defaults), so the fuses electron-builder flips in the packaged binary are read back.
 */
// @electron/fuses: the wire follows this sentinel: version byte, length byte, one byte per fuse.
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
const FUSE_ON = 0x31;
const FUSE_OFF = 0x30;
// Electron's defaults: runAsNode, nodeOptions, nodeCliInspect and grantFileProtocolExtraPrivileges on.
const DEFAULT_WIRE = [FUSE_ON, FUSE_OFF, FUSE_ON, FUSE_ON, FUSE_OFF, FUSE_OFF, FUSE_OFF, FUSE_ON];
const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(s: string): Record<string, unknown> };
const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
  validateConfiguration(config: unknown, logger: { isEnabled: boolean; add(k: string, v: unknown): void }): Promise<void>;
};
// Fresh each time: validateConfiguration normalises (mutates) the object it checks.
const loadConfig = (): Record<string, unknown> => yaml.load(readFileSync(join(REPO_ROOT, 'electron-builder.yml'), 'utf8'));
const logger = { isEnabled: false, add() {} };

describe('electron-builder.yml', () => {
  it("passes electron-builder's configuration check", async () => {
    await expect(validateConfiguration(loadConfig(), logger)).resolves.toBeUndefined();
  });

  it('sets every Electron fuse as main/electron/fuses.ts requires', () => {
    expect(fuseProblems(loadConfig() as { electronFuses?: Record<string, unknown> })).toEqual([]);
    expect(Object.keys(ELECTRON_FUSES).sort()).toEqual([...FUSE_WIRE_ORDER].sort());
    // The check can fail: one fuse left at Electron's default.
    const c = loadConfig() as { electronFuses: Record<string, unknown> };
    c.electronFuses.runAsNode = true;
    expect(fuseProblems(c)).toEqual(['runAsNode is true, should be false']);
    expect(fuseProblems({})).toEqual(['electronFuses is not set']);
  });

  it('the same check rejects a wrong configuration (so the test can fail)', async () => {
    await expect(validateConfiguration({ ...loadConfig(), linux: { target: 'AppImage', categroy: 'Network' } }, logger)).rejects.toThrow(/configuration/i);
  });

  it('packages a linux dir build whose app.asar holds the built app and nothing else', async (ctx) => {
    if (!existsSync(join(REPO_ROOT, 'out', 'main', 'app.cjs')) || !existsSync(join(REPO_ROOT, 'out', 'renderer', 'index.html'))) {
      ctx.skip('the app is not built (npm run build): nothing to package');
    }
    const work = mkdtempSync(join(tmpdir(), 'tapscope-eb-'));
    try {
      const dist = join(work, 'electron-dist');
      mkdirSync(dist);
      writeFileSync(join(dist, 'electron'), Buffer.concat([Buffer.from(`#!/bin/sh\necho placeholder electron\nexit 0\n# ${FUSE_SENTINEL}`), Buffer.from([1, DEFAULT_WIRE.length, ...DEFAULT_WIRE]), Buffer.from('\n')]));
      chmodSync(join(dist, 'electron'), 0o755);
      const builder = require('electron-builder') as typeof import('electron-builder');
      const electronVersion = (require('electron/package.json') as { version: string }).version;
      try {
        await builder.build({
          projectDir: REPO_ROOT,
          targets: builder.Platform.LINUX.createTarget('dir', builder.Arch.x64),
          // Only overrides: electron-builder loads electron-builder.yml from projectDir itself.
          config: { electronDist: dist, electronVersion, npmRebuild: false, publish: null, directories: { output: join(work, 'out'), buildResources: 'resources' } },
        });
      } catch (e) {
        const msg = (e as Error).message;
        if (/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|getaddrinfo|download/i.test(msg)) ctx.skip(`electron-builder needed the network: ${msg.split('\n')[0]}`);
        throw e;
      }
      const unpacked = join(work, 'out', 'linux-unpacked');
      expect(existsSync(join(unpacked, 'tapscope'))).toBe(true);
      // The fuses were flipped in the packaged binary as the configuration says.
      const bin = readFileSync(join(unpacked, 'tapscope'));
      const at = bin.indexOf(FUSE_SENTINEL) + FUSE_SENTINEL.length;
      expect(at).toBeGreaterThan(FUSE_SENTINEL.length);
      expect([bin[at], bin[at + 1]]).toEqual([1, FUSE_WIRE_ORDER.length]);
      const wire = Object.fromEntries(FUSE_WIRE_ORDER.map((name, i) => [name, bin[at + 2 + i] === FUSE_ON]));
      expect(wire).toEqual(ELECTRON_FUSES);
      // The capture program travels unpacked (it runs as its own process, with its own capabilities).
      if (existsSync(join(REPO_ROOT, 'out', 'native', 'tapscope-capture'))) {
        const program = join(unpacked, 'resources', 'app.asar.unpacked', 'out', 'native', 'tapscope-capture');
        expect(statSync(program).mode & 0o111).not.toBe(0); // still executable
        expect(spawnSync(program, ['-V'], { encoding: 'utf8' }).stdout).toMatch(/libpcap version/);
      }
      expect(existsSync(join(unpacked, 'resources', 'sample', 'tapscope-sample.pcapng'))).toBe(true);
      // The analysis worker is a real file (worker threads do not load from inside app.asar).
      expect(existsSync(join(unpacked, 'resources', 'app.asar.unpacked', 'out', 'cli', 'analyze-worker.mjs'))).toBe(true);
      const asar = require('@electron/asar') as { listPackage(p: string): string[] };
      const files = asar.listPackage(join(unpacked, 'resources', 'app.asar')).map((f) => f.replace(/\\/g, '/'));
      for (const f of ['/package.json', '/out/main/app.cjs', '/out/preload/index.cjs', '/out/renderer/index.html', '/out/cli/analyze-worker.mjs']) expect(files).toContain(f);
      expect(files.some((f) => f.startsWith('/out/renderer/assets/') && f.endsWith('.js'))).toBe(true);
      // No sources, tests, maps, dev tooling or captures in the package.
      expect(files.filter((f) => /\.map$|^\/(main|test|renderer|preload|scripts)\/|^\/out\/bench\/|\.pcapng?$/.test(f))).toEqual([]);
      expect(files.filter((f) => /^\/node_modules\/(electron|vite|svelte|vitest|typescript|esbuild|@playwright)\//.test(f))).toEqual([]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
