/*
 * Suites that need root, network namespaces, live capture or tshark skip with their reason
 * where those are truly absent. CI runs as root with every tool installed and sets
 * TAPSCOPE_REQUIRE_PRIVILEGED=1 (.ci/run): there, a suite that cannot run fails with its
 * reason instead of skipping silently. scripts/test.mjs prints every skip and its reason.
 */

/** True when skipping a privileged or tool-dependent suite is a failure (CI). */
export const REQUIRE_PRIVILEGED = process.env.TAPSCOPE_REQUIRE_PRIVILEGED === '1';

/**
 * The reason `suite` cannot run (null: it can), for describe.skipIf. Under
 * TAPSCOPE_REQUIRE_PRIVILEGED=1 a reason throws instead, so the test file fails to load and
 * the runner counts it as a failure with this message.
 */
export function skipUnlessRequired(suite: string, reason: string | null): string | null {
  if (reason && REQUIRE_PRIVILEGED) {
    throw new Error(`${suite} cannot run: ${reason} (TAPSCOPE_REQUIRE_PRIVILEGED=1: this suite must run here, not skip)`);
  }
  return reason;
}

/**
 * ctx.skip with the reason kept where the runner's JSON report shows it (task meta: the
 * report drops the note ctx.skip takes).
 */
export function skipTest(ctx: { skip(note?: string): void; task: { meta: object } }, reason: string): void {
  (ctx.task.meta as { skipReason?: string }).skipReason = reason;
  ctx.skip(reason);
}
