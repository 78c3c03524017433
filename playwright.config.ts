import { defineConfig } from '@playwright/test';

/*
 * Browser-mode tests: `tapscope serve` with a fixed token, Debian's Chromium (never
 * `playwright install`). scripts/test.mjs reads the JSON report (PLAYWRIGHT_JSON_OUTPUT_NAME).
 */
export const E2E_PORT = 8917;
export const E2E_TOKEN = 'e2e-token-0123456789abcdef';
/** Where the served app spools live captures and looks for unfinished ones (relative to the repo). */
export const E2E_SPOOL_DIR = 'test-results/e2e-spool';
/** The file cancel.spec.ts opens and cancels (held after its first batch: see webServer.env). */
export const E2E_CANCEL_FILE = 'udp-100k-cancel.pcapng';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];

export default defineConfig({
  testDir: 'test/e2e',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list'], ['json']],
  outputDir: 'test-results/playwright',
  use: {
    baseURL: `http://127.0.0.1:${E2E_PORT}`,
    browserName: 'chromium',
    viewport: { width: 1400, height: 900 },
    acceptDownloads: true,
    launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS },
  },
  webServer: {
    command: `node bin/tapscope.mjs serve --port ${E2E_PORT}`,
    // TAPSCOPE_TEST_HOLD: cancel.spec.ts's file pauses after its first batch until cancelled
    // (up to 30 s), so Cancel never races the reader (ServiceOptions.holdForCancel).
    env: { TAPSCOPE_TOKEN: E2E_TOKEN, TAPSCOPE_STATE_DIR: 'test-results/e2e-state', TAPSCOPE_SPOOL_DIR: E2E_SPOOL_DIR, TAPSCOPE_TEST_HOLD: `${E2E_CANCEL_FILE}:30000` },
    url: `http://127.0.0.1:${E2E_PORT}/?token=${E2E_TOKEN}`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
  },
});
