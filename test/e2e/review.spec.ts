/// <reference lib="dom" />
import { test, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { capture } from '../helpers/captures';
import { SHOTS, cliReport, openPath } from './helpers';

/*
 * A user's review of the workbench at the default 1400×900 window, on corpus captures: what
 * was seen wrong on screen is asserted here so it stays fixed (cut addresses and ports, a
 * table wider than the window hiding its last columns, finding summaries running out of their
 * card, "1 rows"), and no view logs a console error or throws on these captures.
 */

const IPV4_ENDPOINT = /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/;

/** Cells of a column whose text is cut (an ellipsis on screen). */
async function cutCells(page: Page, table: string, col: string): Promise<string[]> {
  return page.locator(`[data-testid=${table}] .vrow .vtd[data-col=${col}]`).evaluateAll((els) =>
    els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent ?? ''));
}

async function cutHeaders(page: Page, table: string): Promise<string[]> {
  return page.locator(`[data-testid=${table}] .vth`).evaluateAll((els) =>
    els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent ?? ''));
}

async function cellTexts(page: Page, table: string, col: string): Promise<string[]> {
  return page.locator(`[data-testid=${table}] .vrow .vtd[data-col=${col}]`).allTextContents();
}

/** How far a table is wider than its scroll box (0 when every column is in view). */
async function sidewaysOverflow(page: Page, table: string): Promise<number> {
  return page.locator(`[data-testid=${table}] .vscroll`).evaluate((el) => el.scrollWidth - el.clientWidth);
}

test('IPv4 address:port cells are never cut, and the Connections and Packets tables fit a 1400 px window', async ({ page }) => {
  const file = capture('http-206-zerowindow-retx-ooo.pcap');
  await openPath(page, file);

  await page.getByTestId('tab-connections').click();
  await expect(page.locator('[data-testid=connections-table] .vrow')).toHaveCount(2);
  for (const col of ['client', 'server']) {
    const texts = await cellTexts(page, 'connections-table', col);
    expect(texts.every((t) => IPV4_ENDPOINT.test(t))).toBe(true);
    expect(await cutCells(page, 'connections-table', col)).toEqual([]);
  }
  // Times from the start of a 25-minute capture ("1501.832") show whole.
  expect(await cutCells(page, 'connections-table', 'firstTs')).toEqual([]);
  expect(await cutHeaders(page, 'connections-table')).toEqual([]);
  // The last column (State) is on screen without scrolling sideways.
  expect(await sidewaysOverflow(page, 'connections-table')).toBeLessThanOrEqual(0);
  await expect(page.locator('[data-testid=connections-table] .vth-cell[data-col=state]')).toBeInViewport({ ratio: 1 });
  // Sorting widens only the sorted header by its arrow; it still shows whole.
  await page.locator('[data-testid=connections-table] [data-sort=duration]').click();
  await expect(page.locator('[data-testid=connections-table] [data-sort=duration]')).toHaveText('Duration ▲');
  expect(await cutHeaders(page, 'connections-table')).toEqual([]);
  await page.screenshot({ path: join(SHOTS, 'review-connections.png') });

  await page.getByTestId('tab-packets').click();
  await expect(page.locator('[data-testid=packets-table] .vrow').first()).toBeVisible();
  for (const col of ['src', 'dst']) {
    const texts = await cellTexts(page, 'packets-table', col);
    expect(texts.length).toBeGreaterThan(10);
    expect(texts.every((t) => IPV4_ENDPOINT.test(t))).toBe(true);
    expect(await cutCells(page, 'packets-table', col)).toEqual([]);
  }
  // A full-size data segment's Info ("80 → 3254 [ACK] Seq=1401 Ack=288 Win=65535 Len=1400") shows whole.
  const tcpInfo = (await cutCells(page, 'packets-table', 'info')).filter((t) => / Len=\d+$/.test(t));
  expect(tcpInfo).toEqual([]);
  expect(await sidewaysOverflow(page, 'packets-table')).toBeLessThanOrEqual(0);
  await page.screenshot({ path: join(SHOTS, 'review-packets.png') });
});

test('DNS endpoints uncut; a one-row table says "1 row"', async ({ page }) => {
  await openPath(page, capture('http-dns-ipv6-wikipedia.pcap'));
  await page.getByTestId('tab-dns').click();
  const cli = cliReport(capture('http-dns-ipv6-wikipedia.pcap'));
  await expect(page.getByTestId('dns-table-count')).toHaveText(`${cli.dns.length} rows`);
  for (const col of ['client', 'server']) {
    const texts = await cellTexts(page, 'dns-table', col);
    expect(texts.filter((t) => IPV4_ENDPOINT.test(t)).length).toBeGreaterThan(0);
    expect(await cutCells(page, 'dns-table', col)).toEqual([]);
  }
  await page.screenshot({ path: join(SHOTS, 'review-dns.png') });

  await openPath(page, capture('vxlan-http.pcap'));
  await page.getByTestId('tab-connections').click();
  await expect(page.getByTestId('connections-table-count')).toHaveText('1 row');
});

test('finding summaries wrap inside their card', async ({ page }) => {
  const file = capture('http-206-zerowindow-retx-ooo.pcap');
  const cli = cliReport(file);
  await openPath(page, file);
  const findings = page.getByTestId('finding');
  await expect(findings).toHaveCount(cli.findings.length);
  const card = (await page.getByTestId('findings').boundingBox())!;
  for (let i = 0; i < cli.findings.length; i++) {
    await expect(findings.nth(i)).toContainText(cli.findings[i].summary);
    const b = (await findings.nth(i).boundingBox())!;
    expect(b.x + b.width).toBeLessThanOrEqual(card.x + card.width);
    expect(await findings.nth(i).evaluate((e) => e.scrollWidth - e.clientWidth)).toBeLessThanOrEqual(1);
  }
  await page.getByTestId('findings').screenshot({ path: join(SHOTS, 'review-findings.png') });
});

test('a capture starting mid-stream: Seq/Ack in the Packets view are tshark\'s relative numbers', async ({ page }) => {
  const file = capture('tcp-zerowindow-recovery.pcapng');
  // tshark's tcp.seq / tcp.ack (relative) per frame; the receiver ACKs before the sender's first captured segment.
  const oracle = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number', '-e', 'tcp.seq', '-e', 'tcp.ack'], { encoding: 'utf8' })
    .trim().split('\n').map((l) => l.split('\t'));
  expect(oracle.length).toBe(7);
  await openPath(page, file);
  await page.getByTestId('tab-packets').click();
  const info = page.locator('[data-testid=packets-table] .vtd[data-col=info]');
  await expect(info).toHaveCount(oracle.length);
  const texts = await info.allTextContents();
  for (const [i, [, seq, ack]] of oracle.entries()) expect(texts[i]).toContain(`Seq=${seq} Ack=${ack} `);
});

test('a connection detail chart without points says why instead of showing bare axes', async ({ page }) => {
  const file = capture('tcp-zerowindow-recovery.pcapng');
  const cli = cliReport(file);
  expect(cli.connections).toHaveLength(1);
  expect(cli.connections[0].rtt).toBeNull();
  await openPath(page, file);
  await page.getByTestId('tab-connections').click();
  await page.locator('[data-testid=connections-table] .vrow').first().click();
  await expect(page.getByTestId('connection-detail')).toBeVisible();
  await expect(page.getByTestId('rtt-chart-empty')).toHaveText('No ACK RTT samples: no captured data segment was acknowledged.');
  // The server's two data segments are drawn: no note there.
  await expect(page.getByTestId('flight-chart')).toBeVisible();
  await expect(page.getByTestId('seq-chart-empty')).toHaveCount(0);
  await page.getByTestId('rtt-chart').screenshot({ path: join(SHOTS, 'review-rtt-empty.png') });

  // A connection with RTT samples has no note.
  const withRtt = capture('http-get-basic.pcap');
  expect(cliReport(withRtt).connections[0].rtt.samples).toBeGreaterThan(0);
  await openPath(page, withRtt);
  await page.getByTestId('tab-connections').click();
  await page.locator('[data-testid=connections-table] .vrow').first().click();
  await expect(page.getByTestId('seq-chart')).toBeVisible();
  await expect(page.getByTestId('rtt-chart-empty')).toHaveCount(0);
});

test('no view logs a console error or throws on the review captures', async ({ page }) => {
  test.setTimeout(90_000);
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`); });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  const files = [
    'tls12-http-keys-in-pcapng-dsb.pcapng', // TLS, keys in a DSB
    'quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng', // QUIC v1 + HTTP/2 over TLS, keys in a DSB
    'http2-cleartext-hpack-headers-port3000.pcapng', // h2c
    'vxlan-http.pcap', // tunnel
    'geneve-http-many-options.pcap',
    'http-206-zerowindow-retx-ooo.pcap', // retransmissions, zero windows
    'dns-servfail.pcapng',
  ];
  for (const f of files) {
    await openPath(page, capture(f));
    for (const tab of ['overview', 'connections', 'http', 'dns', 'tls', 'packets']) {
      await page.getByTestId(`tab-${tab}`).click();
      await expect(page.getByTestId(`tab-${tab}`)).toHaveClass(/active/);
    }
    // A packet's layers and bytes, then each connection's detail (at most two).
    await page.locator('[data-testid=packets-table] .vrow').first().click();
    await expect(page.getByTestId('packet-decode')).toBeVisible();
    await page.getByTestId('tab-connections').click();
    const rows = page.locator('[data-testid=connections-table] .vrow');
    const n = Math.min(await rows.count(), 2);
    for (let i = 0; i < n; i++) {
      await page.getByTestId('tab-connections').click();
      await rows.nth(i).click();
      await expect(page.getByTestId('connection-detail')).toBeVisible();
      await expect(page.locator('[data-testid=detail-packets] .vrow').first()).toBeVisible();
    }
  }
  expect(errors).toEqual([]);
});

test('connection detail under a display filter that hides its packets: the filter as typed, and why the list is empty', async ({ page }) => {
  const file = capture('http-get-basic.pcap');
  const filter = 'tcp.port == 9';
  // tshark agrees that nothing matches.
  expect(execFileSync('tshark', ['-r', file, '-Y', filter], { encoding: 'utf8' }).trim()).toBe('');
  await openPath(page, file);
  await page.getByTestId('tab-packets').click();
  await page.getByTestId('display-filter-input').fill(filter);
  await page.getByTestId('display-filter-input').press('Enter');
  await expect(page.getByTestId('packets-table-count')).toHaveText('0 of 14 rows');
  await page.getByTestId('tab-connections').click();
  await page.locator('[data-testid=connections-table] .vrow').first().click();
  const shown = page.getByTestId('detail-display-filter');
  await expect(shown).toContainText(filter);
  // Inside the upper-case heading, the filter keeps its case (field names are case-sensitive).
  await expect(shown).toHaveCSS('text-transform', 'none');
  await expect(page.locator('[data-testid=detail-packets] .vempty')).toHaveText('No packet of this connection matches the display filter.');
  await expect(page.getByTestId('detail-packets-count')).toHaveText('0 of 14 rows');
  await page.locator('.packets-card').screenshot({ path: join(SHOTS, 'review-detail-filtered.png') });
});

test('a long capture\'s duration reads in days, not 5182711.5 min', async ({ page }) => {
  const file = capture('pcapng-comments-2if-rtp.pcapng');
  const cli = cliReport(file);
  const span = cli.file.lastTs - cli.file.firstTs;
  expect(span).toBeGreaterThan(86400 * 2);
  await openPath(page, file);
  await expect(page.getByTestId('file-stats')).toContainText(`Duration ${(span / 86400).toFixed(1)} d`);
  await expect(page.getByTestId('file-stats')).not.toContainText(' min');
  // The I/O graph stays within its bin limits (auto: 500; 1 min asked: 10,000, widened and said so), every packet counted.
  const io = page.getByTestId('io-graph');
  await expect(io).toHaveAttribute('data-packets', String(cli.file.packets));
  expect(Number(await io.getAttribute('data-bins'))).toBeLessThanOrEqual(500);
  await page.getByTestId('io-interval').selectOption('1 min');
  await expect(page.getByTestId('io-adjusted')).toContainText('60 s intervals would make');
  await expect(io).toHaveAttribute('data-packets', String(cli.file.packets));
  expect(Number(await io.getAttribute('data-bins'))).toBeLessThanOrEqual(10_000);
});

test('Esc closes Follow stream first, then the connection detail', async ({ page }) => {
  await openPath(page, capture('http2-cleartext-hpack-headers-port3000.pcapng'));
  await page.getByTestId('tab-connections').click();
  await page.locator('[data-testid=connections-table] .vrow').first().click();
  await page.getByTestId('detail-follow-stream').click();
  await expect(page.getByTestId('follow-stream')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('follow-stream')).toHaveCount(0);
  await expect(page.getByTestId('connection-detail')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('connection-detail')).toHaveCount(0);
  // From the Packets view's packet details too: the packet list stays.
  await page.getByTestId('tab-packets').click();
  await page.locator('[data-testid=packets-table] .vrow').nth(3).click();
  await page.getByTestId('follow-stream-button').click();
  await expect(page.getByTestId('follow-stream')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('follow-stream')).toHaveCount(0);
  await expect(page.getByTestId('packet-decode')).toBeVisible();
});

test('an empty view says what the capture lacks, not that the analysis may be missing from the build', async ({ page }) => {
  const file = capture('quic-v1-retry-quic-go-interop-ppp.pcap');
  const cli = cliReport(file);
  expect([cli.http.length, cli.dns.length, cli.tls.length, cli.quic.length]).toEqual([0, 0, 0, 1]);
  await openPath(page, file);
  for (const [tab, text] of [['http', 'No HTTP exchanges in this capture'], ['dns', 'No DNS transactions in this capture'], ['tls', 'No TLS handshakes over TCP in this capture.']]) {
    await page.getByTestId(`tab-${tab}`).click();
    await expect(page.locator(`[data-testid=${tab}-table] .vempty`)).toContainText(text);
  }
  // The QUIC handshake is listed under the TLS view's QUIC section.
  await expect(page.locator('[data-testid=quic-table] .vrow')).toHaveCount(1);
});

test('the HTTP view names each exchange\'s HTTP version and stream, as the CLI reports them', async ({ page }) => {
  const file = capture('quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng');
  const cli = cliReport(file);
  const want = (cli.http as { protocol: string; streamId: number | null; requestTs: number }[])
    .sort((a, b) => a.requestTs - b.requestTs)
    .map((h) => (h.streamId !== null ? `${h.protocol} #${h.streamId}` : h.protocol));
  expect(new Set(want.map((w) => w.split(' ')[0]))).toEqual(new Set(['h2', 'h3']));
  await openPath(page, file);
  await page.getByTestId('tab-http').click();
  await expect(page.locator('[data-testid=http-table] .vrow')).toHaveCount(want.length);
  expect(await cellTexts(page, 'http-table', 'protocol')).toEqual(want);
  expect(await cutCells(page, 'http-table', 'protocol')).toEqual([]);
  await page.screenshot({ path: join(SHOTS, 'review-http.png') });
});
