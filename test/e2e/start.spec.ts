import { test, expect } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/captures';

/*
 * `npm start` where the Electron binary is missing (as here) reaches browser mode: one
 * line says so, the served UI works. Skipped where the binary exists (that machine runs
 * electron.spec.ts instead).
 */
const electronInstalled = existsSync(join(REPO_ROOT, 'node_modules', 'electron', 'path.txt'));

test('npm start without the Electron binary serves a working UI', async ({ page }) => {
  test.skip(electronInstalled, 'the Electron binary is installed: npm start opens the desktop app');
  let child: ChildProcess | null = null;
  try {
    child = spawn('npm', ['start', '--', '--port', '0'], { cwd: REPO_ROOT, env: { ...process.env, TAPSCOPE_STATE_DIR: join(REPO_ROOT, 'test-results', 'start-state') }, detached: true });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed:\n${out}`)), 45_000);
      child!.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child!.on('exit', (c) => reject(new Error(`npm start exited (${c}):\n${out}`)));
    });
    expect(out).toContain('The Electron runtime is missing');
    expect(out.split('\n').filter((l) => /electron/i.test(l))).toHaveLength(1);
    await page.goto(url);
    await page.getByTestId('open-sample').click();
    await expect(page.getByTestId('session-name')).toHaveText('tapscope-sample.pcapng');
    await expect(page.getByTestId('finding').first()).toBeVisible();
  } finally {
    if (child?.pid) process.kill(-child.pid, 'SIGTERM');
  }
});
