import { lookup } from 'node:dns/promises';
import { parseCommunityIdSeed } from '../flows/community-id.js';
import { DEFAULT_ACTIVE_SEC, DEFAULT_IDLE_SEC, DEFAULT_MAX_FLOWS } from '../flows/flow-cache.js';
import { parseCollector, type Collector } from '../flows/flow-export.js';
import type { LiveFlowOptions, LiveFlowStats } from '../flows/live-export.js';
import { UsageError, type ParsedArgs } from './args.js';

/*
 * The flow options of `tapscope capture` and `tapscope listen` (docs/flows.md "Live export").
 */

export const LIVE_FLOW_OPTIONS = ['flow-idle', 'flow-active', 'flow-max', 'ipfix', 'netflow9', 'community-id-seed', 'analysis-budget'] as const;

/** Connections the CLI's live analysis holds before starting afresh (about 40 MB; docs/flows.md). */
export const DEFAULT_ANALYSIS_BUDGET = 50_000;

export const LIVE_FLOW_USAGE = `  Flows: --flow-idle SEC (default ${DEFAULT_IDLE_SEC}), --flow-active SEC (default ${DEFAULT_ACTIVE_SEC}), --flow-max N
  flows held at once (default ${DEFAULT_MAX_FLOWS}); expired flows go to --ipfix HOST:PORT and/or --netflow9 HOST:PORT
  (flushed at exit). --community-id-seed N. --analysis-budget N: connections analysed before the
  analysis starts afresh (default ${DEFAULT_ANALYSIS_BUDGET}; memory stays bounded on a 24/7 feed).`;

const last = (a: ParsedArgs, k: string) => a.options.get(k)?.at(-1);

function seconds(a: ParsedArgs, k: string, def: number): number {
  const v = last(a, k);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`bad --${k} "${v}": expected a positive number of seconds`);
  return n;
}

function count(a: ParsedArgs, k: string, def: number): number {
  const v = last(a, k);
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`bad --${k} "${v}": expected a positive integer`);
  return Number(v);
}

/** The collector with its name resolved once (not at every datagram). */
async function collector(a: ParsedArgs, k: 'ipfix' | 'netflow9'): Promise<Collector | null> {
  const v = last(a, k);
  if (v === undefined) return null;
  let c: Collector;
  try {
    c = parseCollector(v, k);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  try {
    return { host: (await lookup(c.host)).address, port: c.port };
  } catch (e) {
    throw new UsageError(`--${k}: cannot resolve ${c.host}: ${(e as Error).message}`);
  }
}

export async function liveFlowOptions(a: ParsedArgs): Promise<LiveFlowOptions> {
  const seed = last(a, 'community-id-seed');
  let communityIdSeed = 0;
  if (seed !== undefined) {
    try {
      communityIdSeed = parseCommunityIdSeed(seed);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  return {
    idleSec: seconds(a, 'flow-idle', DEFAULT_IDLE_SEC),
    activeSec: seconds(a, 'flow-active', DEFAULT_ACTIVE_SEC),
    maxFlows: count(a, 'flow-max', DEFAULT_MAX_FLOWS),
    communityIdSeed,
    ipfix: await collector(a, 'ipfix'),
    netflow9: await collector(a, 'netflow9'),
  };
}

export function analysisBudget(a: ParsedArgs): number {
  return count(a, 'analysis-budget', DEFAULT_ANALYSIS_BUDGET);
}

/** The end-of-capture lines about flows (stderr). */
export function flowSummaryText(f: LiveFlowStats): string {
  const e = f.ended;
  const lines = [
    `${e.idle + e.active + e.endOfFlow + e.forced + e.lackOfResources} flows ended (${e.idle} idle ${f.idleSec} s, ${e.active} active ${f.activeSec} s, ${e.endOfFlow} end of flow, ${e.forced} at exit, ${e.lackOfResources} cache full at ${f.maxFlows}): ${f.records} flow records`,
  ];
  for (const x of f.exporters) {
    lines.push(`${x.messages} ${x.protocol === 'ipfix' ? 'IPFIX messages' : 'NetFlow v9 packets'} sent to ${x.collector}${x.dropped ? `, ${x.dropped} dropped` : ''}${x.error ? ` (${x.error})` : ''}`);
  }
  return lines.join('\n') + '\n';
}
