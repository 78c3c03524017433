// Scenario client (runs inside the tsB-cli network namespace). Every fault is chosen by
// path or name; the run prints one JSON line of what it saw.
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';

const seen = {};
const get = (ip, port, path, host) =>
  new Promise((resolve) => {
    const req = http.get({ host: ip, port, path, headers: { host }, agent: false }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes: n }));
      res.on('error', (e) => resolve({ error: e.code }));
    });
    req.on('error', (e) => resolve({ error: e.code }));
    req.setTimeout(20000, () => req.destroy(new Error('timeout')));
  });

function query(id, name, wait, retries, port = 53) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const q = Buffer.concat([
      Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
      ...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
      Buffer.from([0, 0, 1, 0, 1]),
    ]);
    let tries = 0;
    let timer;
    const send = () => {
      s.send(q, port, '10.77.0.2');
      timer = setTimeout(() => (tries++ < retries ? send() : done({ timeout: true })), wait);
    };
    const done = (r) => {
      clearTimeout(timer);
      s.close();
      resolve(r);
    };
    s.on('message', (m) => done({ rcode: m[3] & 15, answers: m[7] }));
    s.on('error', (e) => done({ error: e.code }));
    s.bind(0, send);
  });
}

const synDropped = () =>
  new Promise((resolve) => {
    const c = net.connect({ host: '10.77.0.2', port: 8081 });
    c.on('connect', () => { c.destroy(); resolve('connected'); });
    c.on('error', (e) => resolve(e.code));
    c.setTimeout(3500, () => { c.destroy(); resolve('timeout'); });
  });

const site = 'www.shop.test';
const tasks = [
  (async () => {
    seen.dnsOk = await query(0x1001, site, 1000, 0);
    seen.dnsNx = await query(0x1002, 'nosuch.shop.test', 1000, 0);
    seen.dnsSilent = await query(0x1003, 'silent.shop.test', 1000, 1);
    // A UDP port nobody listens on: the server's kernel answers ICMP port unreachable.
    seen.closedPort = await query(0x1004, 'www.shop.test', 300, 0, 5300);
  })(),
  (async () => {
    seen.ok = [];
    for (let i = 0; i < 6; i++) seen.ok.push(await get(i % 2 ? '10.77.0.3' : '10.77.0.2', 8080, `/page/${i}`, site));
    seen.slow = await get('10.77.0.2', 8080, '/slow', site);
    seen.lag = await get('10.77.0.2', 8080, '/lag', site);
    seen.fail = [await get('10.77.0.3', 8080, '/fail', site), await get('10.77.0.3', 8080, '/fail', site)];
    seen.reset = await get('10.77.0.2', 8080, '/reset', site);
    for (let i = 6; i < 10; i++) seen.ok.push(await get(i % 2 ? '10.77.0.3' : '10.77.0.2', 8080, `/page/${i}`, site));
  })(),
  (async () => { seen.synDrop = await synDropped(); })(),
  (async () => { seen.bulk = await get('10.77.0.2', 8082, '/bulk', 'bulk.shop.test'); })(),
];
await Promise.all(tasks);
// Let the last exchanges' closing packets reach the capture, and the silent query age.
await new Promise((r) => setTimeout(r, 1200));
console.log(JSON.stringify(seen));
