/// <reference lib="dom" />
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture } from '../helpers/captures';
import { SHOTS, cliReport, home, openPath, waitReady } from './helpers';

/*
 * The start screen without a native dialog (browser mode): drop a capture file (it is
 * uploaded and opened), recent files, and the keyboard shortcuts.
 */
test('drop a capture file: it is uploaded and analysed', async ({ page }) => {
  const file = capture('http-get-basic.pcap');
  const cli = cliReport(file);
  await home(page);
  const b64 = readFileSync(file).toString('base64');
  const dt = await page.evaluateHandle((data) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const t = new DataTransfer();
    t.items.add(new File([bytes], 'dropped-http.pcap', { type: 'application/vnd.tcpdump.pcap' }));
    return t;
  }, b64);
  await page.getByTestId('drop-zone').dispatchEvent('dragover', { dataTransfer: dt });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer: dt });
  await waitReady(page);
  await expect(page.getByTestId('session-name')).toHaveText('dropped-http.pcap');
  await expect(page.getByTestId('stat-connections')).toHaveText(String(cli.connections.length));
});

test('recent files and keyboard shortcuts', async ({ page }) => {
  const file = capture('vxlan-http.pcap');
  await openPath(page, file);
  // 1-6 switch views; / focuses the filter; Esc clears filters; ? shows the help.
  await page.keyboard.press('3');
  await expect(page.getByTestId('http-table')).toBeVisible();
  await page.keyboard.press('2');
  await expect(page.getByTestId('connections-table')).toBeVisible();
  await page.keyboard.press('/');
  await expect(page.getByTestId('conn-filter-text')).toBeFocused();
  await page.keyboard.type('no-such-host');
  await expect(page.getByTestId('connections-table-count')).toContainText('0 of');
  await page.locator('body').click({ position: { x: 5, y: 300 } });
  await page.keyboard.press('?');
  await expect(page.getByTestId('help')).toBeVisible();
  await page.screenshot({ path: join(SHOTS, 'help.png') });
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('help')).toHaveCount(0);
  // Ctrl+O: back to the start screen, where the file is now a recent one.
  await page.keyboard.press('Control+o');
  await expect(page.getByTestId('open-path')).toBeFocused();
  const recent = page.getByTestId('recent-files');
  await expect(recent).toContainText('vxlan-http.pcap');
  await page.screenshot({ path: join(SHOTS, 'start-screen.png') });
  await recent.getByRole('button', { name: 'vxlan-http.pcap' }).click();
  await waitReady(page);
  await expect(page.getByTestId('session-name')).toHaveText('vxlan-http.pcap');
});

test('light and dark themes follow the OS', async ({ browser }) => {
  const bg = async (scheme: 'light' | 'dark'): Promise<number> => {
    const ctx = await browser.newContext({ colorScheme: scheme, viewport: { width: 1400, height: 900 } });
    const page = await ctx.newPage();
    await openPath(page, capture('http-get-basic.pcap'));
    await page.screenshot({ path: join(SHOTS, `theme-${scheme}.png`) });
    // Luminance of the page background.
    const lum = await page.evaluate(() => {
      const m = /rgb\((\d+), (\d+), (\d+)\)/.exec(getComputedStyle(document.body).backgroundColor)!;
      return (0.2126 * Number(m[1]) + 0.7152 * Number(m[2]) + 0.0722 * Number(m[3])) / 255;
    });
    await ctx.close();
    return lum;
  };
  expect(await bg('light')).toBeGreaterThan(0.8);
  expect(await bg('dark')).toBeLessThan(0.2);
});
