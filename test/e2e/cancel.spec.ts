import { test, expect } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/captures';
import { writeUdpFlows } from './craft';
import { SHOTS, home } from './helpers';
import { E2E_CANCEL_FILE } from '../../playwright.config';

/*
 * Opening a large file shows progress and partial results while it is read; Cancel stops
 * reading and keeps what was read. The served app holds this file's reader after its first
 * batch until Cancel arrives (TAPSCOPE_TEST_HOLD in playwright.config.ts), so the click never
 * races the end of the file: reading stops at the first batch, whatever the machine's speed.
 */
const N = 100_000;
const file = join(REPO_ROOT, 'test-results', E2E_CANCEL_FILE);

test.beforeAll(() => {
  mkdirSync(join(REPO_ROOT, 'test-results'), { recursive: true });
  writeUdpFlows(file, N);
});

test('progress with partial results, then cancel keeps the part read', async ({ page }) => {
  await home(page);
  await page.getByTestId('open-path').fill(file);
  await page.getByTestId('open-button').click();
  const progress = page.getByTestId('progress');
  await expect(progress).toBeVisible();
  await expect(progress).toContainText(/[1-9][\d,]* packets/);
  await page.screenshot({ path: join(SHOTS, 'opening-progress.png') });
  // The reader is held after this first batch, so the text is stable until Cancel.
  const heldConnections = Number((/([\d,]+) connections so far/.exec((await progress.textContent()) ?? '')?.[1] ?? '-1').replace(/,/g, ''));
  expect(heldConnections).toBeGreaterThan(0);
  await page.getByTestId('cancel-open').click();
  await expect(page.getByTestId('session-message')).toContainText('cancelled');
  await page.getByTestId('tab-connections').click();
  const count = async (): Promise<number> => Number(((await page.getByTestId('connections-table-count').textContent()) ?? '').split(' ')[0].replace(/,/g, ''));
  await expect.poll(count).toBeGreaterThan(0);
  expect(await count()).toBeLessThan(N);
  // Reading stopped where it was held: the connections kept are the ones shown at the click.
  expect(await count()).toBe(heldConnections);
  await page.screenshot({ path: join(SHOTS, 'cancelled.png') });
});
