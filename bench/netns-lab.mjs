// Two network namespaces joined by a veth pair, as the bench's recorded captures need them:
// offloads off (TSO, GSO, GRO, checksum) so every frame is wire-sized as a TAP sees it, a
// Node script started in one namespace, tcpdump on its veth, a bounded client in the other.
// Needs root, iproute2, ethtool and tcpdump. Shared by scripts/bench.mjs and
// bench/record-short-conns.mjs.
import { spawn, spawnSync } from 'node:child_process';

const sh = (cmd, a) => spawnSync(cmd, a, { encoding: 'utf8' });

export function must(cmd, a) {
  const r = sh(cmd, a);
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')}: ${r.stderr || r.error}`);
}

const inNs = (ns, cmd, a) => must('ip', ['netns', 'exec', ns, cmd, ...a]);

/** Deletes the namespaces (and with them the veth pair); absent ones are fine. */
export function deletePair(nsSrv, nsCli) {
  sh('ip', ['netns', 'del', nsSrv]);
  sh('ip', ['netns', 'del', nsCli]);
}

/** Namespaces nsSrv/nsCli, veth devSrv (address srvAddr) <-> devCli (every address of cliAddrs), prefix /24. */
export function makePair({ nsSrv, nsCli, devSrv, devCli, srvAddr, cliAddrs }) {
  deletePair(nsSrv, nsCli);
  must('ip', ['netns', 'add', nsSrv]);
  must('ip', ['netns', 'add', nsCli]);
  must('ip', ['link', 'add', devSrv, 'type', 'veth', 'peer', 'name', devCli]);
  must('ip', ['link', 'set', devSrv, 'netns', nsSrv]);
  must('ip', ['link', 'set', devCli, 'netns', nsCli]);
  inNs(nsSrv, 'ip', ['addr', 'add', `${srvAddr}/24`, 'dev', devSrv]);
  for (const a of cliAddrs) inNs(nsCli, 'ip', ['addr', 'add', `${a}/24`, 'dev', devCli]);
  for (const [ns, dev] of [[nsSrv, devSrv], [nsCli, devCli]]) {
    inNs(ns, 'ip', ['link', 'set', dev, 'up']);
    inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
    // Wire-sized frames: a TAP never sees 64 KB "packets".
    sh('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off']);
  }
}

/** Runs a Node script in a namespace; resolves once it prints its first line (its "ready"). */
export async function startServer(ns, script) {
  const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((ok, fail) => { p.stdout.once('data', ok); p.once('exit', () => fail(new Error('HTTP server exited'))); });
  return p;
}

/** tcpdump -B 65536 on dev in ns writing path; resolves once it is listening. `stderr()` gives its messages so far. */
export async function startTcpdump(ns, dev, path, filter = []) {
  const proc = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', dev, '-s', '0', '-B', '65536', '-n', '-w', path, ...filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  await new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error('tcpdump did not start: ' + err)), 10000);
    const check = () => { if (/listening on/.test(err)) { clearTimeout(t); ok(); } else setTimeout(check, 50); };
    check();
  });
  return { proc, stderr: () => err };
}

/** Stops tcpdump as tcpdump stops itself (SIGINT: the file is complete) and returns its messages. */
export async function stopTcpdump(td) {
  td.proc.kill('SIGINT');
  await new Promise((r) => td.proc.once('exit', r));
  return td.stderr();
}

/** Runs a bounded Node client script in a namespace (killed after 30 minutes); throws unless it exits 0; returns its stdout. */
export async function runClient(ns, script) {
  const client = await new Promise((ok) => {
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    const kill = setTimeout(() => p.kill('SIGKILL'), 30 * 60 * 1000);
    p.stdout.on('data', (d) => (s += d));
    p.on('close', (code) => { clearTimeout(kill); ok({ code, s }); });
  });
  if (client.code !== 0) throw new Error(`client exited with ${client.code}`);
  return client.s.trim();
}
