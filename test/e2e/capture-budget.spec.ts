/// <reference lib="dom" />
import { test, expect } from '@playwright/test';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SHOTS, startListening } from './helpers';
import { buildVxlanSender, VXLAN_SENDER } from '../helpers/vxlan-sender';

/*
 * A long live capture in the app is bounded (docs/capture.md "Long captures in the app"): a
 * cloud-TAP feed of 60,000 connections (bench/vxlan-sender.c, 240,000 VXLAN datagrams) into
 * the start screen's Listen, with the app's default budget of 50,000 connections. The status
 * says what the analysis covers before and after it starts afresh, with totals since the
 * start; after Stop a banner says the views cover the last window.
 */
const SENDER = VXLAN_SENDER;
const FLOWS = 60_000;

test('listen past the analysis budget: the status says what the analysis covers, with totals', async ({ page }) => {
  test.setTimeout(120_000);
  const cannotBuild = buildVxlanSender();
  test.skip(cannotBuild !== null, cannotBuild ?? '');
  const port = await startListening(page);
  const status = page.getByTestId('capture-status');
  await expect(status).toContainText(`Capturing VXLAN udp/${port} (live)`);
  const window = page.getByTestId('analysis-window');
  await expect(window).toContainText('Analysis covers the whole capture so far; after 50,000 connections or 1,000,000 packets it starts afresh');

  const sender = spawn(SENDER, ['-p', String(port), '-a', '127.0.0.1', '-n', String(FLOWS * 4), '-f', String(FLOWS), '-r', '24000'], { stdio: 'ignore' });
  await new Promise((r) => sender.on('close', r));
  await expect(status).toContainText(`: ${(FLOWS * 4).toLocaleString('en-US')} packets`, { timeout: 60_000 });
  await expect(window).toContainText(/Analysis covers the traffic since \d\d:\d\d:\d\d UTC \([\d,]+ connections, [\d,]+ packets\): it starts afresh every 50,000 connections or 1,000,000 packets to keep memory bounded \(restarted 1 time\)\. Totals since the start: 240,000 packets, [\d,]+ connections; the spool file keeps every packet\./);
  await page.screenshot({ path: join(SHOTS, 'listen-analysis-window.png') });
  await page.getByTestId('stop-capture').click();
  await expect(status).toHaveCount(0, { timeout: 20_000 });
  await expect(window).toContainText(/The analysis of this live capture restarted 1 time \(every 50,000 connections or 1,000,000 packets, to keep memory bounded\): the views cover the traffic since \d\d:\d\d:\d\d UTC\. Totals: 240,000 packets/);
  // The views hold the last window only.
  const shown = Number((await page.getByTestId('stat-connections').textContent())!.replace(/,/g, ''));
  expect(shown).toBeGreaterThan(0);
  expect(shown).toBeLessThan(50_000);
});
