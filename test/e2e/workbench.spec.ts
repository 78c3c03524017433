/// <reference lib="dom" />
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture, REPO_ROOT } from '../helpers/captures';
import { SAMPLE, SHOTS, cliReport, footCount, home, inkedPixels, openPath, pixelsOfColor, waitReady } from './helpers';

mkdirSync(SHOTS, { recursive: true });
const DL = join(REPO_ROOT, 'test-results', 'downloads');
mkdirSync(DL, { recursive: true });

type Conn = { id: number; packets: number; state: string; client: { ip: string; port: number }; server: { ip: string; port: number } };

test('a corpus capture: connection count, sort, filter, detail with drawn charts', async ({ page }) => {
  const file = capture('many-conns-loopback-echo.pcap');
  const cli = cliReport(file);
  const conns = cli.connections as Conn[];
  await openPath(page, file);
  await expect(page.getByTestId('stat-connections')).toHaveText(conns.length.toLocaleString('en-US'));
  // Timeline drawn: the packets/s series is on the canvas.
  expect(await pixelsOfColor(page, '[data-testid=timeline-canvas]', '--chart-packets')).toBeGreaterThan(200);
  await page.screenshot({ path: join(SHOTS, 'overview-many-conns.png') });

  await page.getByTestId('tab-connections').click();
  await expect(page.getByTestId('connections-table-count')).toHaveText(`${conns.length.toLocaleString('en-US')} rows`);

  // Sort by packets, descending: the first row holds the CLI's maximum.
  const maxPackets = Math.max(...conns.map((c) => c.packets));
  await page.locator('[data-testid=connections-table] [data-sort=packets]').click();
  await page.locator('[data-testid=connections-table] [data-sort=packets]').click();
  await expect(page.locator('[data-testid=connections-table] .vrow').first().locator('.vtd').nth(6)).toHaveText(maxPackets.toLocaleString('en-US'));

  const rowsText = (n: number): string => (n === conns.length ? `${n.toLocaleString('en-US')} rows` : `${n.toLocaleString('en-US')} of ${conns.length.toLocaleString('en-US')} rows`);
  // Filter by state: the count equals the CLI's.
  const closed = conns.filter((c) => c.state === 'closed').length;
  await page.getByTestId('conn-filter-state').selectOption('closed');
  await expect(page.getByTestId('connections-table-count')).toHaveText(rowsText(closed));
  await page.getByTestId('conn-filter-state').selectOption('refused');
  await expect(page.getByTestId('connections-table-count')).toHaveText(rowsText(conns.filter((c) => c.state === 'refused').length));
  await page.getByTestId('conn-filter-state').selectOption('');
  // "Has problems": retransmissions, resets, SYN retries, loss, zero windows, out-of-order or a failed state.
  const COUNTERS = ['retransmissions', 'resets', 'lostSegments', 'ackedUnseen', 'zeroWindows', 'outOfOrder', 'synRetries'];
  const problems = (conns as any[]).filter((c) => COUNTERS.some((k) => c[k] > 0) || ['refused', 'syn-unanswered', 'reset'].includes(c.state)).length;
  await page.getByTestId('conn-filter-problems').check();
  await expect(page.getByTestId('connections-table-count')).toHaveText(rowsText(problems));
  await page.getByTestId('conn-filter-problems').uncheck();
  // Filter by client port: exactly one connection uses it as its client port.
  const pick = conns[Math.floor(conns.length / 2)];
  const samePort = conns.filter((c) => c.client.port === pick.client.port || c.server.port === pick.client.port).length;
  await page.getByTestId('conn-filter-port').fill(String(pick.client.port));
  await expect(page.getByTestId('connections-table-count')).toHaveText(rowsText(samePort));
  await page.screenshot({ path: join(SHOTS, 'connections-filtered.png') });

  // Detail of that connection: packet list with the connection's packets, both charts drawn.
  await page.locator('[data-testid=connections-table] .vrow').first().click();
  await expect(page.getByTestId('connection-detail')).toBeVisible();
  const expected = conns.find((c) => c.client.port === pick.client.port)!;
  await expect(page.getByTestId('detail-packets-count')).toHaveText(`${expected.packets} rows`);
  await expect.poll(() => pixelsOfColor(page, '[data-testid=seq-chart]', '--chart-c2s')).toBeGreaterThan(10);
  await expect.poll(() => inkedPixels(page, '[data-testid=rtt-chart]')).toBeGreaterThan(1000);
  await page.locator('[data-testid=detail-packets] .vrow').first().click();
  await expect(page.getByTestId('packet-decode')).toContainText('Transmission Control Protocol');
  await page.screenshot({ path: join(SHOTS, 'connection-detail.png'), fullPage: true });
});

test('the sample: findings lead to their connections; save a connection as pcap; export HAR', async ({ page }) => {
  const cli = cliReport(SAMPLE);
  await home(page);
  await page.getByTestId('open-sample').click();
  await waitReady(page);
  const findings = cli.findings as { summary: string; connectionIds: number[] }[];
  expect(findings.length).toBeGreaterThan(0);
  await expect(page.getByTestId('finding')).toHaveCount(findings.length);
  await page.screenshot({ path: join(SHOTS, 'sample-overview.png') });

  // Follow the first finding: the connections view shows exactly its evidence.
  const f = findings[0];
  await page.getByTestId('finding').filter({ hasText: f.summary.slice(0, 40) }).first().click();
  await expect(page.getByTestId('chip-evidence')).toBeVisible();
  await expect(page.getByTestId('connections-table-count')).toHaveText(`${f.connectionIds.length} of ${cli.connections.length} rows`);
  const ids = await page.locator('[data-testid=connections-table] .vrow').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-row'))));
  expect(ids.sort((a, b) => a - b)).toEqual([...f.connectionIds].sort((a, b) => a - b));
  await page.screenshot({ path: join(SHOTS, 'finding-evidence.png') });
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('chip-evidence')).toHaveCount(0);

  // Save the busiest connection as pcapng (the sample's format) and check it with tshark.
  const conns = cli.connections as Conn[];
  const big = [...conns].sort((a, b) => b.packets - a.packets)[0];
  await page.locator(`[data-testid=connections-table] .vrow[data-row="${big.id}"]`).click();
  await expect(page.getByTestId('connection-detail')).toBeVisible();
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save-connection').click()]);
  const saved = join(DL, dl.suggestedFilename());
  await dl.saveAs(saved);
  const lines = execFileSync('tshark', ['-r', saved, '-T', 'fields', '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'tcp.dstport'], { encoding: 'utf8' })
    .trim().split('\n');
  expect(lines.length).toBe(big.packets);
  const ends = new Set([`${big.client.ip}:${big.client.port}`, `${big.server.ip}:${big.server.port}`]);
  for (const l of lines) {
    const [sip, sp, dip, dp] = l.split('\t');
    expect(ends.has(`${sip}:${sp}`) && ends.has(`${dip}:${dp}`)).toBe(true);
  }
  await page.getByTestId('close-detail').click();

  // HAR export: parses, HAR 1.2, one entry per HTTP exchange with the same method/URI/status.
  await page.getByTestId('tab-http').click();
  await expect(page.getByTestId('http-table-count')).toHaveText(`${cli.http.length} rows`);
  await page.screenshot({ path: join(SHOTS, 'http-waterfall.png') });
  const [har] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-har').click()]);
  const harPath = join(DL, har.suggestedFilename());
  await har.saveAs(harPath);
  const doc = JSON.parse(readFileSync(harPath, 'utf8'));
  expect(doc.log.version).toBe('1.2');
  expect(doc.log.entries).toHaveLength(cli.http.length);
  const http = [...cli.http].sort((a: any, b: any) => a.requestTs - b.requestTs);
  doc.log.entries.forEach((e: any, i: number) => {
    expect(e.request.method).toBe(http[i].method);
    expect(new URL(e.request.url).pathname).toBe(http[i].uri);
    expect(e.response.status).toBe(http[i].status ?? 0);
    expect(Date.parse(e.startedDateTime)).toBe(Math.floor(http[i].requestTs * 1000));
  });
});

test('tap sources filter every view; the timeline brush sets a time range', async ({ page }) => {
  const file = capture('gre-teb-http-dns.pcap');
  const cli = cliReport(file);
  await openPath(page, file);
  const taps = page.getByTestId('tap-source');
  await expect(taps).toHaveCount(cli.tunnels.length);
  await taps.first().click();
  await expect(page.getByTestId('chip-tunnel')).toBeVisible();
  const t = cli.tunnels[0];
  const inTap = (cli.connections as any[]).filter((c) => c.tunnel.some((x: any) => x.type === t.type && x.id === t.id)).length;
  await page.getByTestId('tab-connections').click();
  await expect(page.getByTestId('connections-table-count')).toHaveText(`${inTap} of ${cli.connections.length} rows`);
  await page.screenshot({ path: join(SHOTS, 'tap-filter.png') });
  await page.keyboard.press('Escape');

  // Brush: drag across the left half of the timeline.
  await page.getByTestId('tab-overview').click();
  const box = (await page.locator('.brush-layer').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.1, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await expect(page.getByTestId('chip-time')).toBeVisible();
  await page.screenshot({ path: join(SHOTS, 'brush.png') });
  await page.getByTestId('tab-connections').click();
  const n = await footCount(page, 'connections-table');
  expect(n).toBeLessThan(cli.connections.length);
});
