/// <reference lib="dom" />
import { test, expect } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../helpers/captures';
import { alert, eveTs, tsharkStreams } from '../ids/eve-records';
import { home, waitReady } from './helpers';

/*
 * IDS alerts in the app (browser mode): an eve.json chosen by path on the start screen is
 * joined when the file opens; the connection detail lists the alert of that connection and
 * shows its Community ID (tshark's) with a Copy button; the Connections text filter finds
 * the connection by its Community ID.
 */

const FILE = capture('tls-sni-multi-hosts.pcap');

test('an eve.json chosen on the start screen: alerts in the connection detail, Community ID shown and searchable', async ({ page }) => {
  const streams = tsharkStreams(FILE);
  const s = streams[1];
  const eve = join(mkdtempSync(join(tmpdir(), 'tapscope-e2e-eve-')), 'eve.json');
  writeFileSync(eve, alert({ ts: eveTs(s.toServerTs), src: s.client, dst: s.server, sid: 5001, sig: 'ET POLICY e2e alert', sev: 1 }) + '\n');
  await home(page);
  await page.getByTestId('alerts-path').fill(eve);
  await page.getByTestId('alerts-path').blur();
  await page.getByTestId('open-path').fill(FILE);
  await page.getByTestId('open-button').click();
  await waitReady(page);
  await page.getByTestId('tab-connections').click();
  // The Community ID is in the text filter's reach: exactly one connection matches.
  await page.locator('#main-filter').fill(s.cid);
  const rows = page.locator('[data-testid=connections-table] .vrow');
  await expect(rows).toHaveCount(1);
  await rows.first().click();
  await expect(page.getByTestId('detail-community-id')).toHaveText(s.cid);
  await expect(page.getByTestId('copy-community-id')).toBeVisible();
  const table = page.getByTestId('detail-alerts');
  await expect(table).toContainText('ET POLICY e2e alert');
  await expect(table).toContainText('5001');
  await expect(table.locator('tbody tr')).toHaveCount(1);
});
