/// <reference lib="dom" />
import { test, expect, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, capture, tsharkFields } from '../helpers/captures';
import { ACK, FIN, PSH, SYN, tcp, writeCapture } from './craft';
import { SHOTS, openPath } from './helpers';

/*
 * Packet details in Chromium: the Info column's application text (DNS, HTTP, TLS with SNI)
 * as tshark gives it, the bytes pane highlighting a field's bytes, and Follow Stream showing
 * both directions in two colours with a hostile payload escaped as text.
 */

const hostile = join(REPO_ROOT, 'test-results', 'follow-hostile.pcapng');
const C = '10.7.0.1';
const S = '10.7.0.2';
const REQ = 'GET /<script>window.__xss=1</script> HTTP/1.1\r\nHost: x\r\nX-Bin: \x00\x1b[31m\x7f\\end é\r\n\r\n';
const RES = 'HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\n<img src=x onerror=alert(2)>';

test.beforeAll(() => {
  mkdirSync(join(REPO_ROOT, 'test-results'), { recursive: true });
  mkdirSync(SHOTS, { recursive: true });
  const reqLen = new TextEncoder().encode(REQ).length;
  const resLen = new TextEncoder().encode(RES).length;
  const ci = 7000, si = 9000;
  writeCapture(hostile, [
    { bytes: tcp(C, 41000, S, 80, ci, 0, SYN) },
    { bytes: tcp(S, 80, C, 41000, si, ci + 1, SYN | ACK) },
    { bytes: tcp(C, 41000, S, 80, ci + 1, si + 1, ACK) },
    { bytes: tcp(C, 41000, S, 80, ci + 1, si + 1, PSH | ACK, REQ) },
    { bytes: tcp(S, 80, C, 41000, si + 1, ci + 1 + reqLen, PSH | ACK, RES) },
    { bytes: tcp(C, 41000, S, 80, ci + 1 + reqLen, si + 1 + resLen, FIN | ACK) },
    { bytes: tcp(S, 80, C, 41000, si + 1 + resLen, ci + 2 + reqLen, FIN | ACK) },
  ]);
});

/** The Info cell of packet `n` in the Packets table. */
function infoCell(page: Page, n: number) {
  return page.locator(`[data-testid=packets-table] .vrow[data-row="${n}"] .vtd`).nth(6);
}

test('Info column shows DNS, HTTP and TLS text as tshark does', async ({ page }) => {
  const wiki = 'http-dns-ipv6-wikipedia.pcap';
  const ref = new Map(tsharkFields(capture(wiki), ['frame.number', '_ws.col.Protocol', '_ws.col.Info']).map(([n, p, i]) => [Number(n), { p, i }]));
  await openPath(page, capture(wiki));
  await page.getByTestId('tab-packets').click();
  for (const n of [6, 16, 17, 19]) {
    await expect(infoCell(page, n)).toHaveText(ref.get(n)!.i.trim());
    await expect(page.locator(`[data-testid=packets-table] .vrow[data-row="${n}"] .vtd`).nth(4)).toHaveText(ref.get(n)!.p);
  }
  expect(ref.get(16)!.i).toMatch(/^Standard query 0x[0-9a-f]{4} AAAA /);
  expect(ref.get(6)!.i).toMatch(/^GET \/ HTTP\/1\.1/);
  await page.screenshot({ path: join(SHOTS, 'packet-info-dns-http.png') });

  const tls = 'tls-sni-multi-hosts.pcap';
  const sni = tsharkFields(capture(tls), ['frame.number', 'tls.handshake.extensions_server_name']).find(([n]) => n === '3')![1];
  expect(sni.length).toBeGreaterThan(3);
  await openPath(page, capture(tls));
  await page.getByTestId('tab-packets').click();
  await expect(infoCell(page, 3)).toHaveText(`Client Hello (SNI=${sni})`);
  await expect(infoCell(page, 7)).toHaveText('Certificate, Server Key Exchange, Server Hello Done');
  await page.screenshot({ path: join(SHOTS, 'packet-info-tls.png') });
});

test('selecting a field highlights its bytes in the bytes pane', async ({ page }) => {
  const file = capture('http-get-basic.pcap');
  const [sport, src] = tsharkFields(file, ['tcp.srcport', 'ip.src'])[3];
  await openPath(page, file);
  await page.getByTestId('tab-packets').click();
  await page.locator('[data-testid=packets-table] .vrow[data-row="4"]').click();
  const bytes = page.getByTestId('packet-bytes');
  await expect(bytes).toBeVisible();
  await expect(bytes.locator('.hl')).toHaveCount(0);
  await page.locator('[data-testid=field][data-field="Source port"]').click();
  const hex = Number(sport).toString(16).padStart(4, '0');
  await expect(bytes.locator('.hexcol .hl')).toHaveText([hex.slice(0, 2), hex.slice(2)]);
  await expect(bytes.locator('.asc .hl')).toHaveCount(2);
  await page.screenshot({ path: join(SHOTS, 'packet-bytes-port.png') });
  await page.locator('[data-testid=field][data-field="Source"]').first().click();
  await expect(bytes.locator('.hexcol .hl')).toHaveText(src.split('.').map((x) => Number(x).toString(16).padStart(2, '0')));
});

test('Follow Stream shows both directions in two colours, hostile bytes as escaped text', async ({ page }) => {
  const dialogs: string[] = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
  await openPath(page, hostile);
  await page.getByTestId('tab-packets').click();
  await page.locator('[data-testid=packets-table] .vrow[data-row="4"]').click();
  await page.getByTestId('follow-stream-button').click();
  const text = page.getByTestId('follow-text');
  await expect(text.locator('[data-dir=c2s]')).toHaveCount(1);
  await expect(text.locator('[data-dir=s2c]')).toHaveCount(1);
  await expect(text.locator('[data-dir=c2s]')).toHaveText('GET /<script>window.__xss=1</script> HTTP/1.1\nHost: x\nX-Bin: \\x00\\x1b[31m\\x7f\\\\end \\xc3\\xa9\n\n');
  await expect(text.locator('[data-dir=s2c]')).toContainText('<img src=x onerror=alert(2)>');
  const colours = await text.locator('span').evaluateAll((els) => els.map((e) => getComputedStyle(e).backgroundColor));
  expect(colours[0]).not.toBe(colours[1]);
  await page.screenshot({ path: join(SHOTS, 'follow-stream-hostile.png') });
  // The same stream from the connection detail.
  await page.getByTestId('close-follow').click();
  await page.getByTestId('open-connection').click();
  await expect(page.getByTestId('connection-detail')).toBeVisible();
  await page.getByTestId('detail-follow-stream').click();
  await expect(page.locator('[data-testid=connection-detail] [data-testid=follow-text] [data-dir=s2c]')).toContainText('<img src=x onerror=alert(2)>');
  await page.screenshot({ path: join(SHOTS, 'follow-stream-detail.png') });
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
  expect(dialogs).toEqual([]);
  expect(await page.locator('img[src=x], script:not([src])').count()).toBe(0);
});

test('Follow Stream decrypts TLS with the capture keys and follows one HTTP/2 stream', async ({ page }) => {
  const file = capture('quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng');
  const path = tsharkFields(file, ['http2.header.value'], ['-Y', 'http2.type == 1 && http2.streamid == 1 && http2.header.name == ":path"'])[0][0].split(',').find((v) => v.startsWith('/'))!;
  await openPath(page, file);
  await page.getByTestId('tab-packets').click();
  await page.locator('[data-testid=packets-table] .vrow[data-row="12"]').click();
  await page.getByTestId('follow-stream-button').click();
  await expect(page.getByTestId('follow-stream')).toContainText('TLS (decrypted)');
  await expect(page.getByTestId('follow-text').locator('[data-dir=c2s]').first()).toContainText('PRI * HTTP/2.0');
  await page.getByTestId('follow-h2-stream').selectOption('1');
  await expect(page.getByTestId('follow-text').locator('[data-dir=c2s]').first()).toContainText(`:path: ${path}`);
  await expect(page.getByTestId('follow-text').locator('[data-dir=s2c]').first()).toContainText(':status: 200');
  await page.screenshot({ path: join(SHOTS, 'follow-http2-stream.png') });
});

test('Follow Stream of an HTTP/3 request stream (QUIC decrypted with the capture keys)', async ({ page }) => {
  const file = capture('quic-v2-http3-keys-in-pcapng-dsb.pcapng');
  await openPath(page, file);
  await page.getByTestId('tab-packets').click();
  await page.locator('[data-testid=packets-table] .vrow[data-row="1"]').click();
  await page.getByTestId('follow-stream-button').click();
  await page.getByTestId('follow-h3-stream').selectOption('0');
  await expect(page.getByTestId('follow-stream')).toContainText('HTTP/3 stream 0');
  await expect(page.getByTestId('follow-text').locator('[data-dir=c2s]').first()).toContainText(':path: /index.html');
  await expect(page.getByTestId('follow-text').locator('[data-dir=s2c]').first()).toContainText(':status: 200');
  await page.screenshot({ path: join(SHOTS, 'follow-http3-stream.png') });
});
