/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { expect, type Page } from '@playwright/test';
import { E2E_TOKEN } from '../../playwright.config';
import { REPO_ROOT } from '../helpers/captures';
import { join } from 'node:path';

export const SAMPLE = join(REPO_ROOT, 'resources', 'sample', 'tapscope-sample.pcapng');
export const SHOTS = join(REPO_ROOT, 'test-results', 'screenshots');

type Obj = Record<string, any>;

/** The CLI's JSON for a file: the oracle the UI's numbers are compared with. */
export function cliReport(file: string, decodeAs: string[] = []): Obj {
  const args = [join(REPO_ROOT, 'bin', 'tapscope.mjs'), 'analyze', file, '--json', ...decodeAs.flatMap((d) => ['--decode', d])];
  let out: string;
  try {
    out = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  } catch (e) {
    out = (e as { stdout: string }).stdout;
  }
  return JSON.parse(out) as Obj;
}

export async function home(page: Page): Promise<void> {
  await page.goto(`/?token=${E2E_TOKEN}`);
  await expect(page.getByTestId('start-screen')).toBeVisible();
}

/** Opens a capture by path from the start screen and waits until it is read. */
export async function openPath(page: Page, file: string): Promise<void> {
  await home(page);
  await page.getByTestId('open-path').fill(file);
  await page.getByTestId('open-button').click();
  await waitReady(page);
}

export async function waitReady(page: Page): Promise<void> {
  await expect(page.getByTestId('session-name')).toBeVisible();
  await expect(page.getByTestId('progress')).toHaveCount(0, { timeout: 30_000 });
  await expect(page.getByTestId('save-pcap')).toBeEnabled();
}

/** Non-background pixels drawn on a canvas (0 for a blank one). */
export async function inkedPixels(page: Page, selector: string): Promise<number> {
  return page.locator(selector).first().evaluate((el) => {
    const c = el.tagName === 'CANVAS' ? (el as HTMLCanvasElement) : el.querySelector('canvas')!;
    const ctx = c.getContext('2d')!;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
}

/** Pixels in a dataset's colour: proves the series itself was drawn, not only the axes. */
export async function pixelsOfColor(page: Page, selector: string, cssVar: string): Promise<number> {
  return page.locator(selector).first().evaluate((el, v) => {
    const c = el.tagName === 'CANVAS' ? (el as HTMLCanvasElement) : el.querySelector('canvas')!;
    const probe = document.createElement('div');
    probe.style.color = getComputedStyle(document.documentElement).getPropertyValue(v).trim();
    document.body.appendChild(probe);
    const m = /rgba?\((\d+), (\d+), (\d+)/.exec(getComputedStyle(probe).color)!;
    probe.remove();
    const [r, g, b] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 200 && Math.abs(d[i] - r) < 24 && Math.abs(d[i + 1] - g) < 24 && Math.abs(d[i + 2] - b) < 24) n++;
    }
    return n;
  }, cssVar);
}

export async function footCount(page: Page, testid: string): Promise<number> {
  const t = (await page.getByTestId(`${testid}-count`).textContent()) ?? '';
  return Number(t.trim().split(' ')[0].replace(/,/g, ''));
}

/** A UDP port free on loopback right now (for a cloud-TAP feed the test replays to). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Opens the start screen and starts Listen (a cloud-TAP feed, the form's default VXLAN) on a
 * UDP port free on loopback; returns the port, for the feed the test replays.
 */
export async function startListening(page: Page): Promise<number> {
  await home(page);
  await page.getByTestId('capture-source').selectOption('listen');
  const port = await freeUdpPort();
  await page.getByTestId('listen-port').fill(String(port));
  await page.getByTestId('start-listen').click();
  return port;
}
