import { test, expect, _electron as electron } from '@playwright/test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/captures';
import { SHOTS, cliReport, SAMPLE } from './helpers';

/*
 * The desktop app end to end with Playwright's Electron driver. The Electron runtime is
 * downloaded by electron's install script; where it could not be (no network, or
 * `npm install --ignore-scripts`), these tests are skipped with that reason.
 */
function electronBinary(): string | null {
  try {
    const rel = readFileSync(join(REPO_ROOT, 'node_modules', 'electron', 'path.txt'), 'utf8').trim();
    const bin = join(REPO_ROOT, 'node_modules', 'electron', 'dist', rel);
    return existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

const bin = electronBinary();
const SKIP = 'the Electron runtime binary is not installed (node_modules/electron/dist missing: it could not be downloaded here)';

test.describe('Electron app', () => {
  test.skip(!bin, SKIP);

  test('opens the window securely and analyses the sample over IPC', async () => {
    const app = await electron.launch({ executablePath: bin!, args: [REPO_ROOT, '--no-sandbox'], env: { ...process.env, ELECTRON_RUN_AS_NODE: '' } });
    try {
      const win = await app.firstWindow();
      await expect(win.getByTestId('start-screen')).toBeVisible();
      // No Node in the renderer, only the bridge.
      expect(await win.evaluate(() => typeof (globalThis as any).require)).toBe('undefined');
      expect(await win.evaluate(() => typeof (globalThis as any).process)).toBe('undefined');
      expect(await win.evaluate(() => typeof (globalThis as any).tapscope?.openFile)).toBe('function');
      const prefs = await app.evaluate(({ BrowserWindow }) => {
        const w = BrowserWindow.getAllWindows()[0];
        // getLastWebPreferences is in Electron but not in its typings.
        const p = (w.webContents as unknown as { getLastWebPreferences(): Record<string, unknown> }).getLastWebPreferences();
        return { contextIsolation: p.contextIsolation, sandbox: p.sandbox, nodeIntegration: p.nodeIntegration };
      });
      expect(prefs).toEqual({ contextIsolation: true, sandbox: true, nodeIntegration: false });
      const cli = cliReport(SAMPLE);
      await win.getByTestId('open-sample').click();
      await expect(win.getByTestId('stat-connections')).toHaveText(String(cli.connections.length));
      await win.screenshot({ path: join(SHOTS, 'electron-sample.png') });
      // The page comes from the confined app:// protocol, not file://.
      expect(win.url()).toBe('app://tapscope/index.html');
      expect(await win.evaluate(() => fetch('app://tapscope/../../../etc/passwd').then((r) => r.status, () => 'refused'))).not.toBe(200);
      // Navigation away from the app is refused: wait for the main process's will-navigate
      // event (our handler runs first and prevents it) instead of a fixed delay.
      const navigation = app.evaluate(({ BrowserWindow }) => new Promise<{ url: string; prevented: boolean }>((res) => {
        BrowserWindow.getAllWindows()[0].webContents.once('will-navigate', (e, url) => res({ url, prevented: e.defaultPrevented }));
      }));
      await win.evaluate(() => { location.href = 'https://example.com/'; });
      expect(await navigation).toEqual({ url: 'https://example.com/', prevented: true });
      expect(win.url()).toBe('app://tapscope/index.html');
      // No new windows, external links included.
      expect(await win.evaluate(() => window.open('https://example.com/') === null)).toBe(true);
      expect(app.windows()).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});
