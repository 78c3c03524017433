/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect } from '@playwright/test';
import { capture, REPO_ROOT } from '../helpers/captures';
import { cliReport, openPath } from './helpers';

/*
 * QUIC in the workbench (browser mode) on the corpus capture of Chrome reaching
 * cloudflare-quic.com over QUIC (keys in the capture's DSBs) and HTTP/2: the QUIC conversation
 * is transport QUIC with its SNI as site in Connections, listed in the TLS view's QUIC
 * section as the CLI's quic[] says, and its detail shows its paths (UDP conversations), the
 * packets with their type and decryption, the handshake timeline and the HTTP/3 exchange (the CLI's JSON is the oracle;
 * test/services/quic-detail.test.ts checks the same detail against tshark frame by frame).
 */

const FILE = capture('quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng');

test('QUIC connection: Connections row, TLS view section, detail with packets, timeline and HTTP/3', async ({ page }) => {
  const cli = cliReport(FILE);
  const q = cli.quic[0];
  expect(q.sni).toBe('cloudflare-quic.com');
  const h3 = cli.http.filter((h: { connectionId: number; protocol: string }) => h.connectionId === q.connectionId && h.protocol === 'h3');
  expect(h3.length).toBeGreaterThan(0);

  await openPath(page, FILE);
  await page.getByTestId('tab-connections').click();
  const row = page.locator(`[data-testid=connections-table] .vrow[data-row="${q.connectionId}"]`);
  await expect(row).toContainText('QUIC');
  await expect(row).toContainText('cloudflare-quic.com');

  await page.getByTestId('tab-tls').click();
  const quicRows = page.locator('[data-testid=quic-table] .vrow');
  await expect(quicRows).toHaveCount(cli.quic.length);
  await expect(quicRows.first()).toContainText('cloudflare-quic.com');
  await expect(quicRows.first()).toContainText(q.state);
  await expect(quicRows.first()).toContainText(q.cipher);

  await quicRows.first().click();
  await expect(page.getByTestId('connection-detail')).toBeVisible();
  await expect(page.getByTestId('quic-summary').first()).toContainText(`SNI ${q.sni}`);
  const packets = page.locator('[data-testid=quic-packets] tbody tr');
  await expect(packets.first()).toContainText('Initial');
  await expect(page.getByTestId('quic-packets')).toContainText('Handshake');
  await expect(page.getByTestId('quic-packets')).toContainText('1-RTT');
  await expect(page.getByTestId('quic-packets')).toContainText('decrypted');
  // Its paths: the one UDP conversation it used (no migration), with the CLI's endpoints.
  const conn = cli.connections.find((c: { id: number }) => c.id === q.connectionId);
  const ep = (e: { ip: string; port: number }) => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);
  const paths = page.locator('[data-testid=quic-paths] tbody tr');
  await expect(paths).toHaveCount(q.paths.length);
  await expect(paths.first()).toContainText(`${q.connectionId} (first)`);
  await expect(paths.first()).toContainText(ep(conn.client));
  await expect(paths.first()).toContainText(ep(conn.server));
  await expect(paths.first()).toContainText(String(conn.packets));
  const timeline = page.getByTestId('quic-timeline');
  await expect(timeline).toContainText('client Initial');
  await expect(timeline).toContainText(`handshake complete after ${(q.handshakeTime * 1000).toFixed(1)} ms`);
  for (const h of h3) await expect(page.getByTestId('detail-http')).toContainText(h.uri);
});

test('a capture that starts mid-connection: the QUIC conversation is still transport QUIC, its detail says the handshake is missing', async ({ page }) => {
  // The draft-29 capture without its long-header packets (frames 1-10): only 1-RTT is left.
  mkdirSync(join(REPO_ROOT, 'test-results'), { recursive: true });
  const cut = join(REPO_ROOT, 'test-results', 'quic-draft29-from-11.pcap');
  execFileSync('editcap', ['-r', capture('quic-draft29-localhost.pcap'), cut, '11-1000']);
  const cli = cliReport(cut);
  expect(cli.quic.map((q: { state: string; version: string | null; sni: string | null }) => [q.state, q.version, q.sni])).toEqual([['mid-connection', null, null]]);
  const q = cli.quic[0];

  await openPath(page, cut);
  await page.getByTestId('tab-connections').click();
  const row = page.locator(`[data-testid=connections-table] .vrow[data-row="${q.connectionId}"]`);
  await expect(row).toContainText('QUIC');

  await page.getByTestId('tab-tls').click();
  const quicRows = page.locator('[data-testid=quic-table] .vrow');
  await expect(quicRows).toHaveCount(1);
  await expect(quicRows.first()).toContainText('mid-connection');
  await quicRows.first().click();
  await expect(page.getByTestId('quic-summary').first()).toContainText('handshake not in the capture');
  await expect(page.getByTestId('quic-timeline')).toContainText('capture starts in the middle of the connection');
  await expect(page.locator('[data-testid=quic-packets] tbody tr')).toHaveCount(cli.connections.find((c: { id: number }) => c.id === q.connectionId).packets);
  await expect(page.getByTestId('quic-packets')).not.toContainText('Initial');
});
