import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './captures.js';

/*
 * TAPSCOPE_REQUIRE_PRIVILEGED=1 (CI) turns "cannot run here" into a failure with the reason;
 * without it the reason is returned for describe.skipIf. Run in a child so the flag is read at
 * import as in a test file.
 */
function probe(require: string): { status: number | null; out: string; err: string } {
  const code = "import('./test/helpers/privileged.ts').then((m) => console.log(String(m.skipUnlessRequired('probe suite', 'tshark is not installed')), String(m.skipUnlessRequired('other', null))))";
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs'), '-e', code], {
    cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, TAPSCOPE_REQUIRE_PRIVILEGED: require },
  });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr };
}

describe('skipUnlessRequired', () => {
  it('returns the reason to skip with, or null when the suite can run', () => {
    expect(probe('')).toMatchObject({ status: 0, out: 'tshark is not installed null' });
  });

  it('throws with the suite and the reason under TAPSCOPE_REQUIRE_PRIVILEGED=1', () => {
    const r = probe('1');
    expect(r.status).not.toBe(0);
    expect(r.err).toMatch(/probe suite cannot run: tshark is not installed \(TAPSCOPE_REQUIRE_PRIVILEGED=1/);
  });
});
