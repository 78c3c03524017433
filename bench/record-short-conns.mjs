// Records many real short HTTP/1.1 connections between two network namespaces (the bench's
// "many connections, recorded" capture; issue 10). Needs root, iproute2, ethtool, tcpdump.
//
//   node bench/record-short-conns.mjs --out FILE [--conns 200000] [--concurrency 128]
//
// Namespaces tsSsrv and tsScli joined by the veth pair tsSa/tsSb, offloads off (TSO, GSO,
// GRO, checksum), so every frame is wire-sized as a TAP sees it. A Node HTTP server in
// tsSsrv (10.79.0.1:80) answers GET /N with N bytes (1 in 100 paths gets a 503); a bounded
// client loop in tsScli makes --conns requests, each on its own connection (agent: false,
// Connection: close), --concurrency at a time. The client binds every connection to its own
// (address, port) from 8 addresses on the veth × a port range, so no 5-tuple repeats and
// TIME_WAIT never runs out of ports. tcpdump -B 65536 writes the server's veth. Writes
// FILE.tmp, renames it to FILE and writes FILE.meta.json (client and tcpdump counts).
import { spawnSync } from 'node:child_process';
import * as lab from './netns-lab.mjs';
import { renameSync, rmSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const out = opt('out', null);
if (!out) {
  process.stderr.write('usage: node bench/record-short-conns.mjs --out FILE [--conns N] [--concurrency N]\n');
  process.exit(1);
}
const CONNS = Number(opt('conns', '200000'));
const CONC = Number(opt('concurrency', '128'));
const NS_SRV = 'tsSsrv';
const NS_CLI = 'tsScli';
const CLIENT_ADDRS = Array.from({ length: 8 }, (_, i) => `10.79.0.${i + 2}`);
const FIRST_PORT = 10000;
if (CONNS / CLIENT_ADDRS.length > 65535 - FIRST_PORT) throw new Error(`at most ${(65535 - FIRST_PORT) * CLIENT_ADDRS.length} connections`);

const sh = (cmd, a, o = {}) => spawnSync(cmd, a, { encoding: 'utf8', ...o });
const log = (s) => process.stderr.write(`record-short-conns: ${s}\n`);

const SERVER = `
const http = require('http');
const body = Buffer.alloc(65536, 'abcdefghijklmnopqrstuvwxyz');
let n = 0;
const srv = http.createServer((req, res) => {
  const size = Math.min(Number(req.url.slice(1)) || 0, body.length);
  const fail = ++n % 100 === 0;
  res.writeHead(fail ? 503 : 200, { 'content-type': fail ? 'text/plain' : 'text/html; charset=utf-8', 'content-length': fail ? 19 : size, connection: 'close' });
  res.end(fail ? 'service unavailable' : body.subarray(0, size));
});
srv.listen({ port: 80, host: '10.79.0.1', backlog: 4096 }, () => console.log('ready'));`;

// Bounded: CONNS requests in all, CONC in flight; connection i binds (addrs[i % 8], FIRST_PORT + i / 8).
const CLIENT = `
const http = require('http');
const ADDRS = ${JSON.stringify(CLIENT_ADDRS)};
let next = 0, ok = 0, status5xx = 0, failed = 0;
function one(i) {
  return new Promise((done) => {
    const size = 100 + ((i * 7919) % 1100) + (i % 10 === 0 ? 2000 : 0);
    const req = http.request({
      host: '10.79.0.1', port: 80, path: '/' + size, agent: false, headers: { host: 'bench.tapscope.test', connection: 'close' },
      localAddress: ADDRS[i % ADDRS.length], localPort: ${FIRST_PORT} + Math.floor(i / ADDRS.length),
    }, (res) => {
      if (res.statusCode >= 500) status5xx++;
      res.resume();
      res.on('end', () => { ok++; done(); });
    });
    req.on('error', () => { failed++; done(); });
    req.setTimeout(10000, () => req.destroy());
    req.end();
  });
}
async function worker() { while (next < ${CONNS}) await one(next++); }
const t0 = Date.now();
Promise.all(Array.from({ length: ${CONC} }, worker)).then(() => {
  console.log(JSON.stringify({ requests: ${CONNS}, ok, status5xx, failed, seconds: (Date.now() - t0) / 1000 }));
});`;

const tmp = out + '.tmp';
let server = null;
let tcpdump = null;
try {
  lab.makePair({ nsSrv: NS_SRV, nsCli: NS_CLI, devSrv: 'tsSa', devCli: 'tsSb', srvAddr: '10.79.0.1', cliAddrs: CLIENT_ADDRS });
  sh('ip', ['netns', 'exec', NS_SRV, 'sysctl', '-qw', 'net.core.somaxconn=4096', 'net.ipv4.tcp_max_syn_backlog=4096']);
  server = await lab.startServer(NS_SRV, SERVER);
  tcpdump = await lab.startTcpdump(NS_SRV, 'tsSa', tmp, ['tcp port 80']);
  log(`${CONNS} connections (${CONC} at a time) from ${CLIENT_ADDRS[0]}..${CLIENT_ADDRS[CLIENT_ADDRS.length - 1]} to 10.79.0.1:80, tcpdump on tsSa`);
  const clientOut = await lab.runClient(NS_CLI, CLIENT);
  const result = JSON.parse(clientOut);
  log(`client: ${clientOut}`);
  await new Promise((r) => setTimeout(r, 1000)); // last FIN/ACKs
  const tdErr = await lab.stopTcpdump(tcpdump);
  tcpdump = null;
  const n = (re) => Number(re.exec(tdErr)?.[1] ?? NaN);
  const td = { captured: n(/(\d+) packets? captured/), receivedByFilter: n(/(\d+) packets? received by filter/), droppedByKernel: n(/(\d+) packets? dropped by kernel/) };
  log(`tcpdump: ${JSON.stringify(td)}`);
  renameSync(tmp, out);
  writeFileSync(out + '.meta.json', JSON.stringify({ generator: 'bench/record-short-conns.mjs', conns: CONNS, concurrency: CONC, clientAddresses: CLIENT_ADDRS.length, client: result, tcpdump: td }, null, 1) + '\n');
} finally {
  if (tcpdump) tcpdump.proc.kill('SIGINT');
  if (server) server.kill('SIGKILL');
  lab.deletePair(NS_SRV, NS_CLI);
  rmSync(tmp, { force: true });
}
