// Summarises a V8 CPU profile (node --cpu-prof) by self time: the functions where the
// samples landed, with their share of the whole run. Usage:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof out/cli/tapscope.mjs analyze FILE --json > /dev/null
//   node bench/profile-summary.mjs /tmp/prof/CPU.*.cpuprofile [--top 25]
// Self time of a node = its sample count × the mean sampling interval; nodes of one function
// (same name, file, line) are added together. "(garbage collector)", "(program)" and "(idle)"
// are V8's own buckets.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const ti = args.indexOf('--top');
const top = ti >= 0 ? Number(args[ti + 1]) : 25;
const file = args.find((a, i) => !a.startsWith('--') && (ti < 0 || i !== ti + 1));
if (!file) {
  process.stderr.write('usage: node bench/profile-summary.mjs PROFILE.cpuprofile [--top N]\n');
  process.exit(1);
}
const prof = JSON.parse(readFileSync(file, 'utf8'));
const hits = new Map(prof.nodes.map((n) => [n.id, 0]));
for (const s of prof.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
const total = prof.samples.length;
const seconds = (prof.endTime - prof.startTime) / 1e6;
const byFn = new Map();
for (const n of prof.nodes) {
  const cf = n.callFrame;
  const where = cf.url ? `${cf.url.replace(/^.*\//, '')}:${cf.lineNumber + 1}` : '';
  const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
  byFn.set(key, (byFn.get(key) ?? 0) + (hits.get(n.id) ?? 0));
}
const rows = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top);
console.log(`${file}: ${seconds.toFixed(2)} s profiled, ${total} samples`);
console.log('| self % | self s | function |');
console.log('|---:|---:|---|');
for (const [k, n] of rows) console.log(`| ${((100 * n) / total).toFixed(1)} | ${((seconds * n) / total).toFixed(2)} | \`${k}\` |`);
