import { test, expect } from '@playwright/test';
import { join } from 'node:path';
import { capture } from '../helpers/captures';
import { DNS_RCODES } from '../../renderer/src/lib/format';
import { SHOTS, cliReport, openPath } from './helpers';

/* The TLS and DNS tables show what the engine reports (the CLI's JSON), row for row. */
test('TLS table: one row per handshake with its SNI; the site column uses it', async ({ page }) => {
  const file = capture('tls-sni-multi-hosts.pcap');
  const cli = cliReport(file);
  await openPath(page, file);
  await page.getByTestId('tab-tls').click();
  await expect(page.getByTestId('tls-table-count')).toHaveText(`${cli.tls.length} rows`);
  const snis = await page.locator('[data-testid=tls-table] .vrow').evaluateAll((rs) => rs.map((r) => r.children[1].textContent));
  expect(snis).toEqual(cli.tls.map((t: { sni: string }) => t.sni));
  await page.screenshot({ path: join(SHOTS, 'tls.png') });
  await page.getByTestId('tab-connections').click();
  for (const t of cli.tls) await expect(page.locator(`[data-testid=connections-table] .vrow[data-row="${t.connectionId}"]`)).toContainText(t.sni);
});

test('DNS table: names, results and answers as the engine reports them', async ({ page }) => {
  const file = capture('gre-teb-http-dns.pcap');
  const cli = cliReport(file);
  await openPath(page, file);
  await page.getByTestId('tab-dns').click();
  await expect(page.getByTestId('dns-table-count')).toHaveText(`${cli.dns.length} rows`);
  const rows = await page.locator('[data-testid=dns-table] .vrow').evaluateAll((rs) => rs.map((r) => [r.children[3].textContent, r.children[5].textContent]));
  expect(rows).toEqual(cli.dns.map((d: { qname: string; rcode: number | null }) => [d.qname, d.rcode === null ? 'unanswered' : DNS_RCODES[d.rcode] ?? String(d.rcode)]));
  await page.screenshot({ path: join(SHOTS, 'dns.png') });
});
