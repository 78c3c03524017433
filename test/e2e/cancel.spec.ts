import { test, expect } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/captures';
import { writeUdpFlows } from './craft';
import { SHOTS, home } from './helpers';

/*
 * Opening a large file shows progress and partial results while it is read; Cancel stops
 * reading and keeps what was read.
 */
const N = 100_000;
const file = join(REPO_ROOT, 'test-results', 'udp-100k-cancel.pcapng');

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
  await page.getByTestId('cancel-open').click();
  await expect(page.getByTestId('session-message')).toContainText('cancelled');
  await page.getByTestId('tab-connections').click();
  const count = async (): Promise<number> => Number(((await page.getByTestId('connections-table-count').textContent()) ?? '').split(' ')[0].replace(/,/g, ''));
  await expect.poll(count).toBeGreaterThan(0);
  expect(await count()).toBeLessThan(N);
  await page.screenshot({ path: join(SHOTS, 'cancelled.png') });
});
