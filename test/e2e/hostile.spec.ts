/// <reference lib="dom" />
import { test, expect } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/captures';
import { ACK, FIN, PSH, SYN, dns, tcp, udp, writeCapture } from './craft';
import { SHOTS, cliReport, openPath } from './helpers';

/*
 * Captured data is hostile: HTTP request line and headers, the response reason, DNS
 * names and a packet comment carry script and onerror payloads. Every view must show
 * them as text and no script may run.
 */
const C = '10.9.0.1';
const S = '10.9.0.2';
const HOST = '<img src=x onerror=window.__xss=2>';
const URI = '/<script>window.__xss=1</script>';
const REASON = '<script>window.__xss=3</script>';
const QNAME_LABEL = '<img/src=x/onerror=alert(5)>';
const COMMENT = '<script>window.__xss=8</script><img src=x onerror=window.__xss=9>';

const file = join(REPO_ROOT, 'test-results', 'hostile.pcapng');

test.beforeAll(() => {
  mkdirSync(join(REPO_ROOT, 'test-results'), { recursive: true });
  const req = `GET ${URI} HTTP/1.1\r\nHost: ${HOST}\r\nUser-Agent: <svg onload=window.__xss=6>\r\n\r\n`;
  const res = `HTTP/1.1 500 ${REASON}\r\nContent-Type: text/html<img src=x onerror=window.__xss=4>\r\nContent-Length: 0\r\n\r\n`;
  const ci = 1000, si = 5000;
  writeCapture(file, [
    { bytes: tcp(C, 40000, S, 80, ci, 0, SYN), comment: COMMENT },
    { bytes: tcp(S, 80, C, 40000, si, ci + 1, SYN | ACK) },
    { bytes: tcp(C, 40000, S, 80, ci + 1, si + 1, ACK) },
    { bytes: tcp(C, 40000, S, 80, ci + 1, si + 1, PSH | ACK, req) },
    { bytes: tcp(S, 80, C, 40000, si + 1, ci + 1 + req.length, PSH | ACK, res) },
    { bytes: tcp(C, 40000, S, 80, ci + 1 + req.length, si + 1 + res.length, FIN | ACK) },
    { bytes: tcp(S, 80, C, 40000, si + 1 + res.length, ci + 2 + req.length, FIN | ACK) },
    { bytes: tcp(C, 40000, S, 80, ci + 2 + req.length, si + 2 + res.length, ACK) },
    { bytes: udp(C, 5353, S, 53, dns(7, false, 0, [QNAME_LABEL, '<script>window', '__xss=10</script>', 'test'])) },
    { bytes: udp(S, 53, C, 5353, dns(7, true, 3, [QNAME_LABEL, '<script>window', '__xss=10</script>', 'test'])) },
  ]);
});

test('script and onerror payloads in HTTP, DNS and comments render as inert text', async ({ page }) => {
  const cli = cliReport(file);
  // The engine really extracted the payloads (else this test would prove nothing).
  expect(cli.http.length).toBe(1);
  expect(cli.http[0].host).toBe(HOST);
  expect(cli.dns.length).toBe(1);
  const qname: string = cli.dns[0].qname;
  expect(qname).toContain(QNAME_LABEL);
  expect(qname).toContain('<script>window.__xss=10</script>');

  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const violations: string[] = [];
  await page.exposeFunction('__reportViolation', (v: string) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e: SecurityPolicyViolationEvent) => (window as any).__reportViolation(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await openPath(page, file);
  await expect(page.getByText(COMMENT)).toBeVisible();

  await page.getByTestId('tab-connections').click();
  await expect(page.locator('[data-testid=connections-table] .vtd', { hasText: HOST }).first()).toBeVisible();
  await page.getByTestId('tab-http').click();
  await expect(page.locator('[data-testid=http-table] .vtd', { hasText: URI })).toBeVisible();
  await expect(page.locator('[data-testid=http-table] .vtd', { hasText: HOST })).toBeVisible();
  await page.screenshot({ path: join(SHOTS, 'hostile-http.png') });
  await page.getByTestId('tab-dns').click();
  await expect(page.locator('[data-testid=dns-table] .vtd', { hasText: qname })).toBeVisible();
  await page.screenshot({ path: join(SHOTS, 'hostile-dns.png') });
  await page.getByTestId('tab-http').click();
  await page.locator('[data-testid=http-table] .vrow').first().click();
  await expect(page.getByTestId('detail-http')).toContainText(URI);
  // The header lists (User-Agent and Content-Type carry payloads) are shown as text.
  const headers = page.getByTestId('exchange-headers').first();
  await headers.locator('summary').click();
  await expect(headers.getByTestId('request-headers')).toContainText('User-Agent<svg onload=window.__xss=6>');
  await expect(headers.getByTestId('response-headers')).toContainText('Content-Typetext/html<img src=x onerror=window.__xss=4>');
  await page.locator('[data-testid=detail-packets] .vrow').nth(3).click();
  await expect(page.getByTestId('packet-decode')).toBeVisible();

  // Nothing ran: no flag set, no dialog, no element injected from packet data.
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
  expect(dialogs).toEqual([]);
  expect(await page.locator('img[src=x], svg[onload], script:not([src])').count()).toBe(0);
  // The CSP blocked nothing either: no inline script was even attempted.
  expect(violations).toEqual([]);
});
