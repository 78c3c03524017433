// `npm test`: build, typecheck, unit/integration tests (Vitest), browser tests
// (Playwright, when configured), electron-builder config check. Every stage's result
// is counted; the last line is "N passed, N failed" from the runners' JSON reports.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const reports = join(root, '.reports');
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });

let passed = 0;
let failed = 0;
let skipped = 0;
/** Every skipped test with its reason ("file: name — reason"), printed at the end. */
const skips = [];
const bin = (name) => join(root, 'node_modules', '.bin', name);

function step(name, cmd, args, env = {}) {
  process.stdout.write(`\n== ${name}: ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0;
}

function countStep(name, ok) {
  if (ok) passed++; else { failed++; console.log(`FAILED: ${name}`); }
}

countStep('build', step('build', process.execPath, ['scripts/build.mjs']));
countStep('typecheck', step('typecheck', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']));
if (existsSync('renderer/tsconfig.json')) {
  countStep('svelte-check', step('svelte-check', bin('svelte-check'), ['--tsconfig', 'renderer/tsconfig.json', '--fail-on-warnings']));
}

// Vitest: one JSON report.
const vitestReport = join(reports, 'vitest.json');
const extra = process.argv.slice(2);
step('vitest', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestReport}`, ...extra]);
if (existsSync(vitestReport)) {
  const j = JSON.parse(readFileSync(vitestReport, 'utf8'));
  passed += j.numPassedTests ?? 0;
  failed += (j.numFailedTests ?? 0);
  skipped += (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
  // A suite that failed to load has no tests but is a failure.
  for (const s of j.testResults ?? []) if (s.status === 'failed' && (s.assertionResults ?? []).length === 0) failed++;
  // Skipped tests: the reason is the suite title's "(skipped: ...)", or ctx.skip's kept in
  // meta.skipReason (test/helpers/privileged.ts skipTest); else the name says it.
  for (const s of j.testResults ?? []) {
    for (const a of s.assertionResults ?? []) {
      if (a.status !== 'skipped' && a.status !== 'pending' && a.status !== 'todo') continue;
      const file = String(s.name ?? '').replace(`${root}/`, '');
      skips.push(`${file}: ${a.fullName}${a.meta?.skipReason ? ` — ${a.meta.skipReason}` : ''}`);
    }
  }
} else {
  failed++;
  console.log('FAILED: vitest wrote no report');
}

// Playwright browser tests.
if (existsSync('playwright.config.ts') && extra.length === 0) {
  const pwReport = join(reports, 'playwright.json');
  step('playwright', bin('playwright'), ['test'], { PLAYWRIGHT_JSON_OUTPUT_NAME: pwReport });
  if (existsSync(pwReport)) {
    const j = JSON.parse(readFileSync(pwReport, 'utf8'));
    const s = j.stats ?? {};
    passed += (s.expected ?? 0) + (s.flaky ?? 0) * 0;
    failed += (s.unexpected ?? 0) + (s.flaky ?? 0);
    skipped += s.skipped ?? 0;
    if ((j.errors ?? []).length) failed += j.errors.length;
    // Skipped browser tests with test.skip(condition, reason): the reason is a 'skip' annotation.
    const walk = (suite, file) => {
      for (const spec of suite.specs ?? []) {
        for (const t of spec.tests ?? []) {
          if (t.status !== 'skipped') continue;
          const why = [...(t.annotations ?? []), ...(t.results ?? []).flatMap((r) => r.annotations ?? [])].find((a) => a.type === 'skip')?.description;
          skips.push(`${suite.file ?? file}: ${spec.title}${why ? ` — ${why}` : ''}`);
        }
      }
      for (const sub of suite.suites ?? []) walk(sub, suite.file ?? file);
    };
    for (const suite of j.suites ?? []) walk(suite, suite.file);
  } else {
    failed++;
    console.log('FAILED: playwright wrote no report');
  }
}

if (skips.length) {
  console.log(`\n${skips.length} skipped test(s), with the reason:`);
  for (const s of skips) console.log(`  SKIPPED ${s}`);
}
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 ? 0 : 1);
