/// <reference lib="dom" />
import { test, expect } from '@playwright/test';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { E2E_SPOOL_DIR } from '../../playwright.config';
import { REPO_ROOT, capture, tsharkFields } from '../helpers/captures';
import { FEED_FILE, leaveUnfinishedCapture, replay, vxlanPayloads } from '../services/live-feed';
import { SHOTS, cliReport, freeUdpPort, home, waitReady } from './helpers';

/*
 * Live sources beyond an interface, from the start screen: the unfinished capture a killed
 * collector left in the app's spool directory (offered, opened, discarded), and listening for
 * a cloud-TAP feed (real VXLAN datagrams replayed from a corpus capture to the bound port).
 */
const SPOOL = join(REPO_ROOT, E2E_SPOOL_DIR);

test('an unfinished capture is offered on the start screen: Open and Discard', async ({ page }) => {
  const payloads = vxlanPayloads();
  const cli = cliReport(capture(FEED_FILE));
  const killed = await leaveUnfinishedCapture(SPOOL, payloads);
  const packets = tsharkFields(killed.file, ['frame.number']).length;
  expect(packets).toBeGreaterThanOrEqual(killed.flushed);

  await home(page);
  const notice = page.getByTestId('unfinished-capture').filter({ hasText: basename(killed.file) });
  await expect(notice).toBeVisible();
  await expect(notice).toContainText(new RegExp(`An unfinished capture from \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC on listen-vxlan0 \\(${packets} packets\\) was found`));
  await page.screenshot({ path: join(SHOTS, 'unfinished-capture.png') });

  await notice.getByTestId('open-unfinished').click();
  await waitReady(page);
  await expect(page.getByTestId('session-name')).toHaveText(basename(killed.file));
  await expect(page.getByTestId('stat-connections')).toHaveText(String(cli.connections.length));
  const c = cli.connections[0];
  await page.getByTestId('tab-connections').click();
  await expect(page.locator('[data-testid=connections-table] .vrow').filter({ hasText: `${c.client.ip}:${c.client.port}` })).toHaveCount(1);

  // Opened: not offered again; the file stays.
  await home(page);
  await expect(page.getByTestId('unfinished-capture').filter({ hasText: basename(killed.file) })).toHaveCount(0);
  expect(existsSync(killed.file)).toBe(true);

  // Discard: the notice goes and so does the file.
  const again = await leaveUnfinishedCapture(SPOOL, payloads);
  await home(page);
  const second = page.getByTestId('unfinished-capture').filter({ hasText: basename(again.file) });
  await expect(second).toBeVisible();
  await second.getByTestId('discard-unfinished').click();
  await expect(second).toHaveCount(0);
  expect(existsSync(again.file)).toBe(false);
  await home(page);
  await expect(page.getByTestId('unfinished-capture').filter({ hasText: basename(again.file) })).toHaveCount(0);
});


test('listen for a cloud-TAP feed: live counters, then the inner connections and the VXLAN tap source', async ({ page }) => {
  const payloads = vxlanPayloads();
  const cli = cliReport(capture(FEED_FILE));
  await home(page);
  await page.getByTestId('capture-source').selectOption('listen');
  await expect(page.getByTestId('listen-port')).toHaveValue('4789');
  await page.getByTestId('listen-encap').selectOption('geneve');
  await expect(page.getByTestId('listen-port')).toHaveValue('6081');
  await page.getByTestId('listen-encap').selectOption('vxlan');
  // A bad port is an inline error.
  await page.getByTestId('listen-port').fill('70000');
  await page.getByTestId('start-listen').click();
  await expect(page.getByTestId('port-error')).toBeVisible();
  await expect(page.getByTestId('start-screen')).toBeVisible();

  const port = await freeUdpPort();
  await page.getByTestId('listen-port').fill(String(port));
  await page.getByTestId('start-listen').click();
  const status = page.getByTestId('capture-status');
  await expect(status).toContainText(`Capturing VXLAN udp/${port} (live): 0 packets`);
  await replay(payloads, port);
  await expect(status).toContainText(`: ${payloads.length} packets`);
  await expect(status).toContainText(`${cli.connections.length} connection`);
  // The views follow the capture while it runs.
  await expect(page.getByTestId('stat-connections')).toHaveText(String(cli.connections.length));
  await page.screenshot({ path: join(SHOTS, 'listen-feed.png') });
  await page.getByTestId('stop-capture').click();
  await expect(status).toHaveCount(0, { timeout: 20_000 });

  await expect(page.getByTestId('stat-connections')).toHaveText(String(cli.connections.length));
  const tap = page.getByTestId('tap-source');
  await expect(tap).toHaveCount(cli.tunnels.length);
  await expect(tap.first()).toContainText(/vxlan/i);
  await expect(tap.first()).toContainText(String(cli.tunnels[0].id));
  await expect(tap.first()).toContainText('127.0.0.1');
  await page.getByTestId('tab-connections').click();
  const c = cli.connections[0];
  await expect(page.locator('[data-testid=connections-table] .vrow').filter({ hasText: `${c.client.ip}:${c.client.port}` })).toHaveCount(1);
});
