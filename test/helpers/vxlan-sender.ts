import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './captures.js';

/** bench/vxlan-sender.c built as out/bench/vxlan-sender (the bench's own binary). */
export const VXLAN_SENDER = join(REPO_ROOT, 'out', 'bench', 'vxlan-sender');

/**
 * Builds the VXLAN feed generator for the live tests: into a file of this process's, then
 * renamed over VXLAN_SENDER, so test files building it at the same time never run a
 * half-written binary. Returns null, or why it could not be built (the tests' skip reason).
 */
export function buildVxlanSender(): string | null {
  if (process.platform !== 'linux') return 'Linux only';
  mkdirSync(join(REPO_ROOT, 'out', 'bench'), { recursive: true });
  const tmp = `${VXLAN_SENDER}.${process.pid}.tmp`;
  const cc = spawnSync(process.env.CC || 'cc', ['-O2', '-Wall', join(REPO_ROOT, 'bench', 'vxlan-sender.c'), '-o', tmp], { encoding: 'utf8' });
  if (cc.status !== 0) {
    rmSync(tmp, { force: true });
    return `cannot compile bench/vxlan-sender.c: ${cc.error?.message ?? cc.stderr}`;
  }
  renameSync(tmp, VXLAN_SENDER);
  return null;
}
