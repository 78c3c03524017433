/// <reference lib="dom" />
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, capture } from '../helpers/captures';
import { home, openPath, waitReady } from './helpers';

/*
 * The key log in the app (browser mode): a TLS 1.3 corpus capture opened without keys shows
 * its sessions undecrypted with the reason and no HTTP; the corpus key log, uploaded from the
 * TLS view, decrypts the open file again; chosen on the start screen by path, it is used
 * when the file opens. The HTTP exchanges shown are the CLI's with --keylog (the oracle, itself
 * checked against tshark in test/decrypt/tls-corpus.test.ts). Keys inside a pcapng (DSB) need
 * no key log, and the detail shows the decrypted exchanges' header lists as text.
 */

const FILE = capture('tls13-rfc8446-early-data-keylog.pcap');
const KEYS = capture('tls13-rfc8446-early-data.keys');
const DSB = capture('tls12-http-keys-in-pcapng-dsb.pcapng');

function cli(file: string, keys: string[] = []): { http: { uri: string; status: number | null; requestHeaders: [string, string][] | null; responseHeaders: [string, string][] | null }[]; tls: { decrypted: boolean }[] } {
  const args = [join(REPO_ROOT, 'bin', 'tapscope.mjs'), 'analyze', file, '--json', ...keys.flatMap((k) => ['--keylog', k])];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 }));
}

async function httpUris(page: import('@playwright/test').Page): Promise<string[]> {
  await page.getByTestId('tab-http').click();
  const rows = page.locator('[data-testid=http-table] .vrow');
  return rows.evaluateAll((rs) => rs.map((r) => Array.from(r.querySelectorAll('.vtd'), (c) => c.textContent ?? '').slice(1, 5).join(' ')));
}

test('a key log uploaded in the TLS view decrypts the open capture', async ({ page }) => {
  const plain = cli(FILE);
  const keyed = cli(FILE, [KEYS]);
  expect(plain.http).toHaveLength(0);
  expect(keyed.http.map((h) => h.uri)).toEqual(['/first', '/early', '/second']);

  await openPath(page, FILE);
  await page.getByTestId('tab-tls').click();
  const tls = page.locator('[data-testid=tls-table] .vrow');
  await expect(tls).toHaveCount(2);
  await expect(tls.first()).toContainText('no: no key log or Decryption Secrets Block with TLS secrets');
  await page.getByTestId('tab-http').click();
  await expect(page.getByTestId('http-table-count')).toHaveText('0 rows');

  await page.getByTestId('tab-tls').click();
  await page.getByTestId('keylog-file').setInputFiles(KEYS);
  await expect(page.getByTestId('keylog-path')).toHaveValue('tls13-rfc8446-early-data.keys');
  await page.getByTestId('keylog-reopen').click();
  await waitReady(page);
  await page.getByTestId('tab-tls').click();
  await expect(tls).toHaveCount(2);
  for (let i = 0; i < 2; i++) await expect(tls.nth(i)).toContainText('yes');
  await page.getByTestId('tab-http').click();
  await expect(page.getByTestId('http-table-count')).toHaveText(`${keyed.http.length} rows`);
  const shown = await httpUris(page);
  expect(shown.map((s) => s.split(' ').find((w) => w.startsWith('/')))).toEqual(keyed.http.map((h) => h.uri));
});

test('a key log chosen by path on the start screen is used when the file opens', async ({ page }) => {
  await home(page);
  await page.getByTestId('keylog-path').fill(KEYS);
  await page.getByTestId('keylog-path').blur();
  await page.getByTestId('open-path').fill(FILE);
  await page.getByTestId('open-button').click();
  await waitReady(page);
  await page.getByTestId('tab-http').click();
  await expect(page.getByTestId('http-table-count')).toHaveText('3 rows');
  await expect(page.locator('[data-testid=http-table] .vtd', { hasText: '/early' })).toBeVisible();
});

test('keys inside the pcapng decrypt without a key log; the detail lists the headers', async ({ page }) => {
  const r = cli(DSB);
  expect(r.tls.every((t) => t.decrypted)).toBe(true);
  const host = r.http[0].requestHeaders!.find(([n]) => n.toLowerCase() === 'host')!;
  await openPath(page, DSB);
  await page.getByTestId('tab-tls').click();
  await expect(page.locator('[data-testid=tls-table] .vrow').first()).toContainText('yes');
  await page.getByTestId('tab-http').click();
  await expect(page.getByTestId('http-table-count')).toHaveText(`${r.http.length} rows`);
  await page.locator('[data-testid=http-table] .vrow').first().click();
  const headers = page.getByTestId('exchange-headers').first();
  await headers.locator('summary').click();
  await expect(headers.getByTestId('request-headers')).toContainText(`${host[0]}${host[1]}`);
  const [name, value] = r.http[0].responseHeaders![0];
  await expect(headers.getByTestId('response-headers')).toContainText(`${name}${value}`);
});
