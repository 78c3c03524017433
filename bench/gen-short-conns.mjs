// Synthetic capture of many short HTTP/1.1 connections, as a TAP in front of a busy web
// server sees them (the bench's "many connections" shape; issue 10).
//
//   node bench/gen-short-conns.mjs --out FILE [--conns 200000] [--rate 2000] [--seed 1] [--vxlan]
//
// Every connection is a full TCP conversation (RFC 9293): SYN with MSS/SACK-permitted/
// timestamps/window scale (RFC 7323 §2-3, RFC 2018), SYN/ACK, ACK, one GET with a Host
// header (RFC 9112 §3), the server's 200 response with a small body (one to three
// segments of at most MSS bytes), the server's FIN (Connection: close, RFC 9112 §9.6),
// the client's ACK and FIN, the server's last ACK. Each client address has its own RTT
// (capture point next to the server, so the handshake RTT is the client's) and its own
// ephemeral-port counter, so 5-tuples never repeat. A few connections differ:
//   ~1.5 %  the response segment is lost after the TAP: the client's duplicate ACK carries a
//           SACK block for the FIN (RFC 2018 §3), the server retransmits after its RTO
//   ~0.5 %  the SYN/ACK is lost: the server retransmits it after 1 s (RFC 6298 §2.1)
//   ~1 %    503 Service Unavailable instead of 200
//   ~0.5 %  the client resets the connection after the response (RST instead of FIN)
//   ~0.3 %  the server refuses the SYN (RST/ACK; RFC 9293 §3.10.7.1)
// --vxlan wraps every frame in Ethernet/IPv4/UDP 4789/VXLAN (RFC 7348 §5), VNI 7001, from
// one mirror source to one collector, the outer UDP source port a hash of the inner flow
// (RFC 7348 §5 recommends it), like a cloud traffic-mirroring feed.
//
// The capture is streamed to disk: pending packets of the connections in progress sit in a
// time-ordered heap (a few hundred at a time), nothing else is kept. Writes FILE.tmp,
// renames it to FILE, and writes FILE.meta.json with the counts the capture must yield.
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const out = opt('out', null);
if (!out) {
  process.stderr.write('usage: node bench/gen-short-conns.mjs --out FILE [--conns N] [--rate CONNS_PER_S] [--seed N] [--vxlan]\n');
  process.exit(1);
}
const CONNS = Number(opt('conns', '200000'));
const RATE = Number(opt('rate', '2000'));
const VXLAN = args.includes('--vxlan');
let seed = Number(opt('seed', '1')) >>> 0;

// mulberry32: small, seeded, good enough for traffic shapes.
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (a) => a[Math.floor(rand() * a.length)];
/** Exponential inter-arrival (Poisson arrivals). */
const expo = (mean) => -Math.log(1 - rand()) * mean;

// ---------------------------------------------------------------- hosts -----------
const T0_US = Date.UTC(2026, 0, 15, 10, 0, 0) * 1000;
const SERVER_IP = [198, 19, 0, 80];
const SERVER_MAC = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x50];
const ROUTER_MAC = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
const nClients = Math.max(1000, Math.ceil(CONNS / 50));
if (nClients > 131000) throw new Error('too many connections for 198.18.0.0/15 at 50 per address');
/** Per client address: RTT to the server (lognormal, 2-300 ms), TTL seen at the TAP, port counter, TS clock. */
const clients = [];
for (let i = 0; i < nClients; i++) {
  const n = i + 1;
  clients.push({
    ip: [198, 18 + (n >> 16), (n >> 8) & 255, n & 255],
    rttUs: Math.min(300000, Math.max(2000, Math.exp(Math.log(25000) + 0.9 * normal()))),
    ttl: pick([64, 64, 128]) - randInt(3, 20),
    port: randInt(32768, 60999),
    tsBase: randInt(0, 0x7fffffff),
    ipId: randInt(0, 65535),
  });
}
function normal() {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}
const server = { tsBase: randInt(0, 0x7fffffff) };

const HOSTS = ['www.example.com', 'shop.example.com', 'api.example.com', 'static.example.com'];
const PATHS = ['/', '/index.html', '/api/v1/items', '/api/v1/cart', '/static/app.css', '/static/logo.png', '/health', '/search'];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'curl/8.5.0',
  'okhttp/4.12.0',
];
const FILLER = Buffer.alloc(65536);
for (let i = 0; i < FILLER.length; i++) FILLER[i] = 0x61 + (i % 26);
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n) => String(n).padStart(2, '0');
/** RFC 9110 §5.6.7 IMF-fixdate. */
function httpDate(us) {
  const d = new Date(us / 1000);
  return `${DAYS[d.getUTCDay()]}, ${p2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} GMT`;
}

// ---------------------------------------------------------------- time-ordered heap ---
// Packets: { t (µs), k (tie-break), c (connection), dir (0 client->server), flags, seq, ack,
// opts (OPT_*), payload, sack }
const heap = [];
let tieBreak = 0;
const before = (a, b) => a.t < b.t || (a.t === b.t && a.k < b.k);
function push(p) {
  p.k = tieBreak++;
  heap.push(p);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i], heap[parent])) break;
    [heap[i], heap[parent]] = [heap[parent], heap[i]];
    i = parent;
  }
}
function pop() {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l], heap[m])) m = l;
      if (r < heap.length && before(heap[r], heap[m])) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  }
  return top;
}

// ---------------------------------------------------------------- one connection ------
const FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16;
const OPT_NONE = 0, OPT_SYN = 1, OPT_TS = 2, OPT_TS_SACK = 3;
const MSS = 1460;
const SEG = MSS - 12; // payload per segment with the timestamps option
const counts = { connections: 0, packets: 0, bytes: 0, http200: 0, http503: 0, dataRetransmissions: 0, synAckRetransmissions: 0, clientResets: 0, refused: 0, requests: 0 };

function startConnection(t, id) {
  const cl = clients[Math.floor(rand() * clients.length)];
  const cport = cl.port;
  cl.port = cl.port >= 60999 ? 32768 : cl.port + 1;
  const c = {
    cl, cport, sport: 80, serverIpId: randInt(0, 65535), tsval: [0, 0],
    cWin: 64240, sWin: 65160, vxPort: 49152 + ((cl.ip[2] * 256 + cl.ip[3]) * 31 + cport) % 16384,
  };
  counts.connections++;
  const rtt = cl.rttUs * (0.9 + 0.2 * rand());
  const cIsn = randInt(0, 0xffffffff);
  const sIsn = randInt(0, 0xffffffff);
  const roll = rand();
  const refused = roll < 0.003;
  const synAckLost = !refused && roll < 0.008;
  const dataLost = !refused && roll >= 0.008 && roll < 0.023;
  const clientReset = roll >= 0.023 && roll < 0.028;
  const is503 = roll >= 0.028 && roll < 0.038;
  const send = (dt, dir, flags, seq, ack, opts, payload = null, sack = null) => push({ t: t + dt, c, dir, flags, seq: seq >>> 0, ack: ack >>> 0, opts, payload, sack });

  send(0, 0, SYN, cIsn, 0, OPT_SYN);
  if (refused) {
    counts.refused++;
    send(randInt(15, 60), 1, RST | ACK, 0, cIsn + 1, OPT_NONE);
    return;
  }
  let now = randInt(15, 60);
  send(now, 1, SYN | ACK, sIsn, cIsn + 1, OPT_SYN);
  if (synAckLost) {
    counts.synAckRetransmissions++;
    now += 1000000 + randInt(0, 2000);
    send(now, 1, SYN | ACK, sIsn, cIsn + 1, OPT_SYN);
  }
  now += rtt;
  send(now, 0, ACK, cIsn + 1, sIsn + 1, OPT_TS);
  const host = pick(HOSTS);
  const req = Buffer.from(`GET ${pick(PATHS)}?id=${id} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${pick(AGENTS)}\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
  counts.requests++;
  now += randInt(5, 40);
  send(now, 0, PSH | ACK, cIsn + 1, sIsn + 1, OPT_TS, req);
  const cSeqEnd = cIsn + 1 + req.length;
  const proc = rand() < 0.05 ? randInt(20000, 80000) : randInt(200, 6000);
  if (proc > 2000) send(now + randInt(20, 60), 1, ACK, sIsn + 1, cSeqEnd, OPT_TS);
  now += proc;
  const bodyLen = is503 ? randInt(50, 200) : rand() < 0.1 ? randInt(1500, 4000) : randInt(100, 1200);
  const status = is503 ? '503 Service Unavailable' : '200 OK';
  counts[is503 ? 'http503' : 'http200']++;
  const head = `HTTP/1.1 ${status}\r\nDate: ${httpDate(T0_US + t + now)}\r\nServer: nginx/1.24.0\r\nContent-Type: ${is503 ? 'text/plain' : 'text/html; charset=utf-8'}\r\nContent-Length: ${bodyLen}\r\nConnection: close\r\n\r\n`;
  const resp = Buffer.concat([Buffer.from(head), FILLER.subarray(0, bodyLen)]);
  let off = 0;
  const segs = [];
  while (off < resp.length) {
    const n = Math.min(SEG, resp.length - off);
    segs.push([sIsn + 1 + off, resp.subarray(off, off + n)]);
    off += n;
  }
  for (const [seq, data] of segs) {
    send(now, 1, PSH | ACK, seq, cSeqEnd, OPT_TS, data);
    now += randInt(3, 15);
  }
  const sFinSeq = sIsn + 1 + resp.length;
  now += randInt(10, 60);
  send(now, 1, FIN | ACK, sFinSeq, cSeqEnd, OPT_TS);
  const sentFin = now;
  if (dataLost) {
    // The first response segment never reached the client; it saw the rest and the FIN.
    counts.dataRetransmissions++;
    const firstLen = segs[0][1].length;
    const sackLeft = segs.length > 1 ? sIsn + 1 + firstLen : sFinSeq;
    send(sentFin + rtt, 0, ACK, cSeqEnd, sIsn + 1, OPT_TS_SACK, null, [sackLeft, sFinSeq + 1]);
    now = Math.max(sentFin + rtt + 200, now + 200000 + randInt(0, 40000));
    send(now, 1, PSH | ACK, segs[0][0], cSeqEnd, OPT_TS, segs[0][1]);
  }
  now += rtt;
  if (clientReset) {
    counts.clientResets++;
    send(now, 0, ACK, cSeqEnd, sFinSeq, OPT_TS);
    send(now + randInt(50, 500), 0, RST | ACK, cSeqEnd, sFinSeq, OPT_NONE);
    return;
  }
  send(now, 0, ACK, cSeqEnd, sFinSeq + 1, OPT_TS);
  now += randInt(100, 1500);
  send(now, 0, FIN | ACK, cSeqEnd, sFinSeq + 1, OPT_TS);
  now += rtt;
  send(now, 1, ACK, sFinSeq + 1, cSeqEnd + 1, OPT_TS);
}

// ---------------------------------------------------------------- serialisation ------
const BUF = Buffer.alloc(8 << 20);
let pos = 0;
const tmp = out + '.tmp';
const fd = openSync(tmp, 'w');
function flush() {
  writeSync(fd, BUF, 0, pos);
  pos = 0;
}
// pcap file header (µs, Ethernet, snaplen 262144).
BUF.writeUInt32LE(0xa1b2c3d4, 0); BUF.writeUInt16LE(2, 4); BUF.writeUInt16LE(4, 6);
BUF.writeInt32LE(0, 8); BUF.writeUInt32LE(0, 12); BUF.writeUInt32LE(262144, 16); BUF.writeUInt32LE(1, 20);
pos = 24;

/** RFC 1071 one's-complement sum of BUF[off, off+len) added to `sum`. */
function sum16(off, len, sum) {
  let i = off;
  for (; i + 1 < off + len; i += 2) sum += (BUF[i] << 8) | BUF[i + 1];
  if (i < off + len) sum += BUF[i] << 8;
  return sum;
}
const fold = (s) => { while (s > 0xffff) s = (s & 0xffff) + (s >>> 16); return ~s & 0xffff; };
const putBytes = (o, a) => { for (let i = 0; i < a.length; i++) BUF[o + i] = a[i]; };

/** Writes Ethernet + IPv4 header at `o` for `ipLen` bytes of IP; returns the IP header offset. */
function putEthIp(o, srcMac, dstMac, src, dst, ttl, id, proto, ipLen) {
  putBytes(o, dstMac); putBytes(o + 6, srcMac); BUF.writeUInt16BE(0x0800, o + 12);
  const ip = o + 14;
  BUF[ip] = 0x45; BUF[ip + 1] = 0; BUF.writeUInt16BE(ipLen, ip + 2); BUF.writeUInt16BE(id & 0xffff, ip + 4);
  BUF.writeUInt16BE(0x4000, ip + 6); BUF[ip + 8] = ttl; BUF[ip + 9] = proto; BUF.writeUInt16BE(0, ip + 10);
  putBytes(ip + 12, src); putBytes(ip + 16, dst);
  BUF.writeUInt16BE(fold(sum16(ip, 20, 0)), ip + 10);
  return ip;
}

const optLen = (p) => (p.opts === OPT_SYN ? 20 : p.opts === OPT_TS ? 12 : p.opts === OPT_TS_SACK ? 24 : 0);
const VX_SRC_IP = [10, 0, 1, 15], VX_DST_IP = [10, 0, 9, 9];
const VX_SRC_MAC = [0x02, 0x00, 0x0a, 0x00, 0x01, 0x0f], VX_DST_MAC = [0x02, 0x00, 0x0a, 0x00, 0x09, 0x09];
let vxIpId = 0;

function writePacket(p) {
  const c = p.c;
  const cl = c.cl;
  const payLen = p.payload ? p.payload.length : 0;
  const tcpLen = 20 + optLen(p) + payLen;
  const frameLen = 14 + 20 + tcpLen;
  const wireLen = frameLen + (VXLAN ? 14 + 20 + 8 + 8 : 0);
  if (pos + 16 + wireLen > BUF.length) flush();
  const tUs = T0_US + Math.round(p.t);
  BUF.writeUInt32LE(Math.floor(tUs / 1e6), pos); BUF.writeUInt32LE(tUs % 1e6, pos + 4);
  BUF.writeUInt32LE(wireLen, pos + 8); BUF.writeUInt32LE(wireLen, pos + 12);
  let o = pos + 16;
  if (VXLAN) {
    // RFC 7348 §5: outer Ethernet/IPv4/UDP (checksum 0), VXLAN flags I, VNI, inner frame.
    const ip = putEthIp(o, VX_SRC_MAC, VX_DST_MAC, VX_SRC_IP, VX_DST_IP, 64, vxIpId++, 17, 20 + 8 + 8 + frameLen);
    const udp = ip + 20;
    BUF.writeUInt16BE(c.vxPort, udp); BUF.writeUInt16BE(4789, udp + 2); BUF.writeUInt16BE(8 + 8 + frameLen, udp + 4); BUF.writeUInt16BE(0, udp + 6);
    BUF.writeUInt32BE(0x08000000, udp + 8); BUF.writeUInt32BE(7001 << 8, udp + 12);
    o = udp + 16;
  }
  const fromClient = p.dir === 0;
  const ip = fromClient
    ? putEthIp(o, ROUTER_MAC, SERVER_MAC, cl.ip, SERVER_IP, cl.ttl, cl.ipId++, 6, 20 + tcpLen)
    : putEthIp(o, SERVER_MAC, ROUTER_MAC, SERVER_IP, cl.ip, 64, c.serverIpId++, 6, 20 + tcpLen);
  const tcp = ip + 20;
  BUF.writeUInt16BE(fromClient ? c.cport : c.sport, tcp); BUF.writeUInt16BE(fromClient ? c.sport : c.cport, tcp + 2);
  BUF.writeUInt32BE(p.seq, tcp + 4); BUF.writeUInt32BE(p.flags & ACK ? p.ack : 0, tcp + 8);
  BUF[tcp + 12] = ((20 + optLen(p)) / 4) << 4; BUF[tcp + 13] = p.flags;
  const synWin = fromClient ? c.cWin : c.sWin;
  // Window scale 7 after the handshake (RFC 7323 §2.3); a closing RST advertises 0.
  BUF.writeUInt16BE(p.flags & SYN ? synWin : p.flags & RST ? 0 : fromClient ? 502 : 509, tcp + 14);
  BUF.writeUInt32BE(0, tcp + 16);
  let q = tcp + 20;
  const tsval = ((fromClient ? cl.tsBase : server.tsBase) + Math.floor((T0_US + p.t) / 1000)) >>> 0;
  const tsecr = p.flags === SYN ? 0 : c.tsval[fromClient ? 1 : 0];
  c.tsval[p.dir] = tsval;
  if (p.opts === OPT_SYN) {
    // MSS(4) SACK-permitted(2) timestamps(10) NOP window-scale(3), as Linux sends them.
    BUF[q] = 2; BUF[q + 1] = 4; BUF.writeUInt16BE(MSS, q + 2);
    BUF[q + 4] = 4; BUF[q + 5] = 2;
    BUF[q + 6] = 8; BUF[q + 7] = 10; BUF.writeUInt32BE(tsval, q + 8); BUF.writeUInt32BE(tsecr, q + 12);
    BUF[q + 16] = 1; BUF[q + 17] = 3; BUF[q + 18] = 3; BUF[q + 19] = 7;
    q += 20;
  } else if (p.opts === OPT_TS || p.opts === OPT_TS_SACK) {
    BUF[q] = 1; BUF[q + 1] = 1; BUF[q + 2] = 8; BUF[q + 3] = 10; BUF.writeUInt32BE(tsval, q + 4); BUF.writeUInt32BE(tsecr, q + 8);
    q += 12;
    if (p.opts === OPT_TS_SACK) {
      BUF[q] = 1; BUF[q + 1] = 1; BUF[q + 2] = 5; BUF[q + 3] = 10;
      BUF.writeUInt32BE(p.sack[0] >>> 0, q + 4); BUF.writeUInt32BE(p.sack[1] >>> 0, q + 8);
      q += 12;
    }
  }
  if (p.payload) p.payload.copy(BUF, q);
  // RFC 9293 §3.1: checksum over the pseudo-header and the segment.
  let s = sum16(ip + 12, 8, 0) + 6 + tcpLen;
  s = sum16(tcp, tcpLen, s);
  BUF.writeUInt16BE(fold(s), tcp + 16);
  pos += 16 + wireLen;
  counts.packets++;
  counts.bytes += wireLen;
}

// ---------------------------------------------------------------- main loop ----------
const meanGap = 1e6 / RATE;
let nextStart = 0;
const started = Date.now();
for (let id = 0; id < CONNS; id++) {
  while (heap.length && heap[0].t <= nextStart) writePacket(pop());
  startConnection(nextStart, id);
  nextStart += expo(meanGap);
  if ((id & 0xffff) === 0xffff) process.stderr.write(`gen-short-conns: ${id + 1}/${CONNS} connections, ${counts.packets} packets\r`);
}
while (heap.length) writePacket(pop());
flush();
closeSync(fd);
renameSync(tmp, out);
const meta = { generator: 'bench/gen-short-conns.mjs', conns: CONNS, rate: RATE, vxlan: VXLAN, clientAddresses: nClients, ...counts, seconds: (Date.now() - started) / 1000 };
writeFileSync(out + '.meta.json', JSON.stringify(meta, null, 1) + '\n');
process.stderr.write(`\ngen-short-conns: ${out}: ${counts.connections} connections, ${counts.packets} packets, ${(counts.bytes / 1e6).toFixed(1)} MB in ${meta.seconds.toFixed(1)} s\n`);
