/// <reference lib="dom" />
import { test, expect, type Locator, type Page } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCaptureWriter } from '../../main/pcap/writer';
import { REPO_ROOT, capture, tsharkFields } from '../helpers/captures';
import { replay, vxlanPayloads } from '../services/live-feed';
import { ACK, FIN, PSH, SYN, tcp } from './craft';
import { SHOTS, footCount, freeUdpPort, openPath, pixelsOfColor, startListening } from './helpers';

/*
 * The workbench's Wireshark-hand interactions (issue 14): charts that zoom, resizable and
 * chosen columns, the display-filter bar, the I/O graph, and the close confirmation.
 */

mkdirSync(SHOTS, { recursive: true });
const WORK = join(REPO_ROOT, 'test-results', 'workbench-ui');
mkdirSync(WORK, { recursive: true });

const C = '10.1.0.1', S = '10.1.0.2', CP = 40000, SP = 80;

/** The example: all data in the first 0.5 s, the FIN after 65 s. */
function writeLongTail(path: string): void {
  const t0 = 1_700_000_000;
  const pkts: [number, Uint8Array][] = [
    [0, tcp(C, CP, S, SP, 1000, 0, SYN)],
    [0.01, tcp(S, SP, C, CP, 5000, 1001, SYN | ACK)],
    [0.02, tcp(C, CP, S, SP, 1001, 5001, ACK)],
  ];
  let seq = 1001;
  for (let k = 0; k < 20; k++) {
    const t = 0.03 + k * 0.022;
    const data = 'x'.repeat(100);
    pkts.push([t, tcp(C, CP, S, SP, seq, 5001, PSH | ACK, data)]);
    seq += data.length;
    pkts.push([t + 0.005, tcp(S, SP, C, CP, 5001, seq, ACK)]);
  }
  pkts.push([65, tcp(C, CP, S, SP, seq, 5001, FIN | ACK)]);
  pkts.push([65.01, tcp(S, SP, C, CP, 5001, seq + 1, FIN | ACK)]);
  pkts.push([65.02, tcp(C, CP, S, SP, seq + 1, 5002, ACK)]);
  const w = openCaptureWriter(path, { format: 'pcap', interfaces: [{ id: 0, linkType: 1, snaplen: 65535, name: null, description: null, tsUnitsPerSec: 1e6 }] });
  for (const [t, b] of pkts) {
    const us = Math.round(t * 1e6);
    w.write({ tsSec: t0 + Math.floor(us / 1e6), tsNsec: (us % 1e6) * 1000, caplen: b.length, origLen: b.length, data: b, offset: 0, interfaceId: 0, comment: null });
  }
  w.close();
}

async function xrange(chart: Locator): Promise<{ min: number; max: number; left: number; right: number }> {
  return chart.evaluate((el) => ({
    min: Number(el.getAttribute('data-xmin')), max: Number(el.getAttribute('data-xmax')),
    left: Number(el.getAttribute('data-left')), right: Number(el.getAttribute('data-right')),
  }));
}

/** Page x of a value on a chart's x axis (linear scale). */
async function pageX(chart: Locator, v: number): Promise<number> {
  const r = await xrange(chart);
  const box = (await chart.boundingBox())!;
  return box.x + r.left + ((v - r.min) / (r.max - r.min)) * (r.right - r.left);
}

async function dragBox(page: Page, chart: Locator, from: number, to: number): Promise<void> {
  const box = (await chart.boundingBox())!;
  const y1 = box.y + box.height * 0.25;
  const y2 = box.y + box.height * 0.75;
  await page.mouse.move(await pageX(chart, from), y1);
  await page.mouse.down();
  await page.mouse.move(await pageX(chart, to), y2, { steps: 8 });
  await page.mouse.up();
}

test('zoom: the Stevens and RTT charts zoom to a connection\'s first half second and reset; the timeline wheel-zooms', async ({ page }) => {
  const file = join(WORK, 'long-tail-fin-after-65s.pcap');
  writeLongTail(file);
  await openPath(page, file);

  // Timeline: the wheel over the plot narrows the x axis; a double-click gives it back.
  const tl = page.getByTestId('timeline');
  await expect.poll(async () => (await xrange(tl)).max).toBeGreaterThan(64);
  const full = await xrange(tl);
  const tb = (await tl.boundingBox())!;
  await page.mouse.move(tb.x + full.left + 20, tb.y + 100);
  for (let i = 0; i < 5; i++) await page.mouse.wheel(0, -100);
  await expect.poll(async () => (await xrange(tl)).max - (await xrange(tl)).min).toBeLessThan((full.max - full.min) / 2);
  await expect(tl).toHaveAttribute('data-zoomed', 'true');
  await page.screenshot({ path: join(SHOTS, 'ui-timeline-zoomed.png') });
  await page.mouse.dblclick(tb.x + full.left + 20, tb.y + 100);
  await expect.poll(async () => (await xrange(tl)).max).toBeCloseTo(full.max, 6);
  await expect(tl).toHaveAttribute('data-zoomed', 'false');

  // Connection detail: the Stevens chart spans 65 s; a box over [0, 0.5] s shows only that.
  await page.getByTestId('tab-connections').click();
  await page.locator('[data-testid=connections-table] .vrow').first().click();
  const seq = page.getByTestId('seq-chart');
  await expect.poll(async () => (await xrange(seq)).max).toBeGreaterThanOrEqual(65);
  // The window / bytes-in-flight chart is drawn (windows as lines, in-flight points).
  await expect.poll(() => pixelsOfColor(page, '[data-testid=flight-chart]', '--chart-c2s')).toBeGreaterThan(10);
  await expect.poll(() => pixelsOfColor(page, '[data-testid=flight-chart]', '--chart-retrans')).toBeGreaterThan(10);
  await page.screenshot({ path: join(SHOTS, 'ui-stevens-unzoomed.png'), fullPage: true });
  await dragBox(page, seq, 0.001, 0.5);
  const z = await xrange(seq);
  expect(z.max).toBeLessThan(0.6);
  expect(z.max).toBeGreaterThan(0.4);
  expect(z.min).toBeLessThan(0.05);
  await expect(seq).toHaveAttribute('data-zoomed', 'true');
  await page.screenshot({ path: join(SHOTS, 'ui-stevens-zoomed.png'), fullPage: true });
  // The RTT chart zooms by the wheel too, independently.
  const rtt = page.getByTestId('rtt-chart');
  const rFull = await xrange(rtt);
  const rb = (await rtt.boundingBox())!;
  await page.mouse.move(await pageX(rtt, 0.2), rb.y + rb.height / 2);
  for (let i = 0; i < 6; i++) await page.mouse.wheel(0, -100);
  await expect.poll(async () => (await xrange(rtt)).max - (await xrange(rtt)).min).toBeLessThan((rFull.max - rFull.min) / 2);
  // Double-click resets the Stevens chart to the whole connection.
  await seq.locator('canvas').dblclick();
  await expect.poll(async () => (await xrange(seq)).max).toBeGreaterThanOrEqual(65);
  await expect(seq).toHaveAttribute('data-zoomed', 'false');
});

test('tables: headers are never cut, a dragged column width persists, the Connections column chooser hides a column', async ({ page }) => {
  const file = join(REPO_ROOT, '..', 'shared', 'captures', 'many-conns-loopback-echo.pcap');
  await openPath(page, file);
  await page.getByTestId('tab-connections').click();
  const head = page.locator('[data-testid=connections-table] .vhead');
  await expect(head.locator('.vth-cell[data-col=site]')).toHaveCount(1);
  const columns = await head.locator('.vth').count();
  // Every header shows its whole label (no ellipsis) and names the column in full on hover.
  const cut = await head.locator('.vth').evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent));
  expect(cut).toEqual([]);
  await expect(head.locator('[data-sort=handshakeRtt]')).toHaveAttribute('title', /Handshake RTT/);
  await page.screenshot({ path: join(SHOTS, 'ui-connections-headers.png') });

  // Drag the Site column's edge 120 px to the right: it widens by that much, and stays so after a reload.
  const cell = head.locator('.vth-cell[data-col=site]');
  const w0 = (await cell.boundingBox())!.width;
  const h = (await head.locator('[data-resize=site]').boundingBox())!;
  await page.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
  await page.mouse.down();
  await page.mouse.move(h.x + h.width / 2 + 120, h.y + h.height / 2, { steps: 6 });
  await page.mouse.up();
  const w1 = (await cell.boundingBox())!.width;
  expect(Math.abs(w1 - (w0 + 120))).toBeLessThan(3);
  // Rows follow the header.
  const td = page.locator('[data-testid=connections-table] .vrow').first().locator('.vtd[data-col=site]');
  expect(Math.abs((await td.boundingBox())!.width - w1)).toBeLessThan(2);

  // Hide "Site" in the chooser: one header and one cell a row fewer.
  await page.getByTestId('connections-table-columns').click();
  await page.locator('[data-testid=connections-table-chooser] [data-choose=site]').uncheck();
  await expect(head.locator('.vth')).toHaveCount(columns - 1);
  await expect(page.locator('[data-testid=connections-table] .vrow').first().locator('.vtd')).toHaveCount(columns - 1);
  await expect(page.locator('[data-testid=connections-table] .vtd[data-col=site]')).toHaveCount(0);
  await page.screenshot({ path: join(SHOTS, 'ui-column-chooser.png') });

  await page.reload();
  await openPath(page, file);
  await page.getByTestId('tab-connections').click();
  await expect(head.locator('.vth')).toHaveCount(columns - 1);
  await page.getByTestId('connections-table-columns').click();
  await page.locator('[data-testid=connections-table-chooser] [data-choose=site]').check();
  await expect(head.locator('.vth')).toHaveCount(columns);
  expect(Math.abs((await cell.boundingBox())!.width - w1)).toBeLessThan(2);
});


/** Drops a file on the workbench (as the browser's drag and drop does). */
async function dropFile(page: Page, file: string, name: string): Promise<void> {
  const b64 = readFileSync(file).toString('base64');
  const dt = await page.evaluateHandle(([data, n]) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const t = new DataTransfer();
    t.items.add(new File([bytes], n, { type: 'application/vnd.tcpdump.pcap' }));
    return t;
  }, [b64, name] as const);
  await page.locator('.app').dispatchEvent('dragover', { dataTransfer: dt });
  await page.locator('.app').dispatchEvent('drop', { dataTransfer: dt });
}

test('closing asks first while a live capture runs or is unsaved; a file closes at once', async ({ page }) => {
  // A file: the title closes it without a question.
  await openPath(page, capture('http-get-basic.pcap'));
  await page.getByTestId('brand').click();
  await expect(page.getByTestId('start-screen')).toBeVisible();
  await expect(page.getByTestId('confirm-dialog')).toHaveCount(0);

  // A running live capture (a cloud-TAP feed on loopback): the title asks; "Keep it open" keeps it.
  const port = await startListening(page);
  const status = page.getByTestId('capture-status');
  await expect(status).toContainText('(live): 0 packets');
  const payloads = vxlanPayloads();
  await replay(payloads, port);
  await expect(status).toContainText(`: ${payloads.length} packets`);
  await page.getByTestId('brand').click();
  await expect(page.getByTestId('confirm-message')).toContainText('is still running');
  await page.screenshot({ path: join(SHOTS, 'ui-close-confirm.png') });
  await page.getByTestId('confirm-cancel').click();
  await expect(page.getByTestId('confirm-dialog')).toHaveCount(0);
  await expect(status).toBeVisible();
  // Ctrl+O asks too; Esc answers "keep".
  await page.keyboard.press('Control+o');
  await expect(page.getByTestId('confirm-dialog')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('confirm-dialog')).toHaveCount(0);
  await expect(page.getByTestId('session-name')).toBeVisible();

  // Stopped but never saved: still asks.
  await page.getByTestId('stop-capture').click();
  await expect(status).toHaveCount(0, { timeout: 20_000 });
  await page.getByTestId('brand').click();
  await expect(page.getByTestId('confirm-message')).toContainText('has not been saved');
  await page.getByTestId('confirm-cancel').click();
  // A file dropped on the workbench would replace it: asks too, and "keep" keeps it.
  const liveName = (await page.getByTestId('session-name').textContent())!;
  await dropFile(page, capture('http-get-basic.pcap'), 'dropped-http.pcap');
  await expect(page.getByTestId('confirm-dialog')).toContainText('Open dropped-http.pcap?');
  await page.getByTestId('confirm-cancel').click();
  await expect(page.getByTestId('session-name')).toHaveText(liveName);
  // Saved in full: closing loses nothing and no longer asks.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save-pcapng').click()]);
  await dl.saveAs(join(WORK, 'saved-live.pcapng'));
  await expect(page.getByTestId('notice')).toContainText(`Saved ${payloads.length} packet(s)`);
  // Now a drop replaces the capture without a question.
  await dropFile(page, capture('http-get-basic.pcap'), 'dropped-http.pcap');
  await expect(page.getByTestId('session-name')).toHaveText('dropped-http.pcap');
  await expect(page.getByTestId('confirm-dialog')).toHaveCount(0);
  await page.getByTestId('brand').click();
  await expect(page.getByTestId('start-screen')).toBeVisible();

  // Confirming closes: a new live capture, the title, then the confirm button.
  await page.getByTestId('capture-source').selectOption('listen');
  await page.getByTestId('listen-port').fill(String(await freeUdpPort()));
  await page.getByTestId('start-listen').click();
  await expect(status).toContainText('(live): 0 packets');
  await page.getByTestId('brand').click();
  await page.getByTestId('confirm-yes').click();
  await expect(page.getByTestId('start-screen')).toBeVisible();
});

test('display filter: red and green as you type, the error with its caret, Enter applies; history, saved filters, detail, I/O graph and Save follow it', async ({ page }) => {
  const file = capture('http-retx-fastretx-dupack-ooo.pcap');
  const tsharkNumbers = (filter: string): number[] =>
    tsharkFields(file, ['frame.number'], ['-Y', filter]).map((r) => Number(r[0]));
  await openPath(page, file);
  await page.getByTestId('tab-packets').click();
  const input = page.getByTestId('display-filter-input');
  const all = tsharkFields(file, ['frame.number']).length;
  await expect(page.getByTestId('packets-table-count')).toHaveText(`${all.toLocaleString('en-US')} rows`);

  // A broken filter turns red and says where; an unknown field is named.
  await input.fill('tcp.analysis.retransmission && ip.src ==');
  await expect(input).toHaveAttribute('data-status', 'bad');
  await expect(page.getByTestId('display-filter-message')).not.toBeEmpty();
  await expect(page.getByTestId('display-filter-caret')).toContainText('^');
  await page.screenshot({ path: join(SHOTS, 'ui-filter-error.png') });
  await input.press('Enter');
  await expect(page.getByTestId('packets-table-count')).toHaveText(`${all.toLocaleString('en-US')} rows`);
  await input.fill('tcp.prot == 1');
  await expect(input).toHaveAttribute('data-status', 'bad');
  await expect(page.getByTestId('display-filter-message')).toContainText('tcp.prot');

  // A good one turns green; Enter applies it: the rows are tshark -Y's packets, in order.
  const f1 = 'tcp.analysis.retransmission || tcp.flags.syn == 1';
  await input.fill(f1);
  await expect(input).toHaveAttribute('data-status', 'ok');
  await input.press('Enter');
  const want = tsharkNumbers(f1);
  expect(want.length).toBeGreaterThan(0);
  expect(want.length).toBeLessThan(all);
  await expect(page.getByTestId('packets-table-count')).toHaveText(`${want.length} of ${all.toLocaleString('en-US')} rows`);
  const shown = await page.locator('[data-testid=packets-table] .vrow').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-row'))));
  expect(shown).toEqual(want.slice(0, shown.length));
  await expect(page.getByTestId('chip-display')).toContainText(f1);
  await page.screenshot({ path: join(SHOTS, 'ui-filter-applied.png') });

  // The saved default replaces the old "analysis flags" checkbox; the history keeps f1.
  await page.getByTestId('display-filter-menu').click();
  await expect(page.getByTestId('recent-filter').first()).toHaveText(f1);
  await page.screenshot({ path: join(SHOTS, 'ui-filter-menu.png') });
  await page.getByTestId('saved-filter').filter({ hasText: 'tcp.analysis.flags' }).click();
  const flagged = tsharkNumbers('tcp.analysis.flags');
  await expect(page.getByTestId('packets-table-count')).toHaveText(`${flagged.length} of ${all.toLocaleString('en-US')} rows`);
  // Save a filter under a name: it is offered after a reload.
  await input.fill(f1);
  await expect(input).toHaveAttribute('data-status', 'ok');
  await page.getByTestId('display-filter-save').click();
  await page.getByTestId('display-filter-name').fill('retx or syn');
  await page.getByTestId('display-filter-save-confirm').click();
  await input.press('Enter');
  await expect(page.getByTestId('packets-table-count')).toHaveText(`${want.length} of ${all.toLocaleString('en-US')} rows`);

  // Save: the saved pcap holds exactly the filtered packets.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save-pcap').click()]);
  const saved = join(WORK, 'filtered.pcap');
  await dl.saveAs(saved);
  expect(tsharkFields(saved, ['frame.len']).map((r) => Number(r[0]))).toEqual(tsharkFields(file, ['frame.len'], ['-Y', f1]).map((r) => Number(r[0])));

  // I/O graph on the overview counts the filtered packets.
  await page.getByTestId('tab-overview').click();
  await expect(page.getByTestId('io-graph')).toHaveAttribute('data-packets', String(want.length));

  // The connection detail's packet list follows the filter too.
  await page.getByTestId('tab-connections').click();
  await page.locator('[data-testid=connections-table] .vrow').first().click();
  await expect(page.getByTestId('detail-display-filter')).toContainText(f1);
  const detailRows = await footCount(page, 'detail-packets');
  const first = (await page.locator('[data-testid=detail-packets] .vrow').first().getAttribute('data-row'))!;
  expect(want).toContain(Number(first));
  expect(detailRows).toBeLessThanOrEqual(want.length);

  // After a reload the saved filter is still offered.
  await page.reload();
  await openPath(page, file);
  await page.getByTestId('tab-packets').click();
  await page.getByTestId('display-filter-menu').click();
  await expect(page.getByTestId('saved-filter').filter({ hasText: 'retx or syn' })).toHaveCount(1);
});

test('I/O graph: the interval changes the bins; every packet is counted', async ({ page }) => {
  const file = capture('http-retx-fastretx-dupack-ooo.pcap');
  const rel = tsharkFields(file, ['frame.time_relative']).map((r) => Number(r[0]));
  const span = rel[rel.length - 1];
  await openPath(page, file);
  const g = page.getByTestId('io-graph');
  await expect(g).toHaveAttribute('data-packets', String(rel.length));
  for (const [label, iv] of [['10 ms', 0.01], ['100 ms', 0.1], ['1 s', 1]] as const) {
    await page.getByTestId('io-interval').selectOption(label);
    await expect(g).toHaveAttribute('data-interval', String(iv));
    await expect(g).toHaveAttribute('data-bins', String(Math.floor(span / iv + 1e-9) + 1));
    await expect(g).toHaveAttribute('data-packets', String(rel.length));
  }
  expect(await pixelsOfColor(page, '[data-testid=io-graph]', '--chart-packets')).toBeGreaterThan(20);
  expect(await pixelsOfColor(page, '[data-testid=io-graph]', '--chart-retrans')).toBeGreaterThan(20);
  await page.screenshot({ path: join(SHOTS, 'ui-io-graph.png'), fullPage: true });
  // Wheel zoom on the I/O graph narrows its x axis; double-click resets.
  const full = await xrange(g);
  const b = (await g.boundingBox())!;
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
  for (let i = 0; i < 4; i++) await page.mouse.wheel(0, -100);
  await expect.poll(async () => (await xrange(g)).max - (await xrange(g)).min).toBeLessThan((full.max - full.min) * 0.8);
  await g.locator('canvas').dblclick();
  await expect.poll(async () => (await xrange(g)).max).toBeCloseTo(full.max, 6);
});
