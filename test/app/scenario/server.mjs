// Scenario server (runs inside the tsB-srv network namespace): HTTP with faults chosen by
// path, a bulk download port (random loss is injected on it by iptables), and a tiny DNS
// server with one good name, one NXDOMAIN name and one name it never answers.
import http from 'node:http';
import dgram from 'node:dgram';

const app = http.createServer((req, res) => {
  if (req.url === '/slow') {
    setTimeout(() => res.end('slow but fine\n'), 1500);
  } else if (req.url === '/lag') {
    // Under the 1 s bar, but far slower than the site's other pages (http.slow-path).
    setTimeout(() => res.end('late but fine\n'), 400);
  } else if (req.url === '/fail') {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('service unavailable\n');
  } else if (req.url === '/reset') {
    req.socket.resetAndDestroy();
  } else {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>ok</html>\n');
  }
});
app.keepAliveTimeout = 100;
app.listen(8080, '0.0.0.0');

const BULK = Buffer.alloc(2 * 1024 * 1024, 0x61);
const bulk = http.createServer((req, res) => {
  // Headers go out alone (a small packet, never dropped: the loss rule matches full-size
  // segments only), then the body.
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BULK.length });
  res.flushHeaders();
  setTimeout(() => res.end(BULK), 50);
});
bulk.listen(8082, '0.0.0.0');

// DNS (RFC 1035 §4.1): answer the first question.
const dns = dgram.createSocket('udp4');
dns.on('message', (m, rinfo) => {
  if (m.length < 12) return;
  let o = 12;
  const labels = [];
  while (o < m.length && m[o] !== 0) {
    labels.push(m.subarray(o + 1, o + 1 + m[o]).toString('latin1'));
    o += 1 + m[o];
  }
  const qEnd = o + 5;
  const name = labels.join('.').toLowerCase();
  if (name === 'silent.shop.test') return;
  const nx = name !== 'www.shop.test';
  const hdr = Buffer.from([m[0], m[1], 0x81, nx ? 0x83 : 0x80, 0, 1, 0, nx ? 0 : 2, 0, 0, 0, 0]);
  const question = m.subarray(12, qEnd);
  const parts = [hdr, question];
  if (!nx) {
    for (const ip of ['10.77.0.2', '10.77.0.3']) {
      parts.push(Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip.split('.').map(Number)]));
    }
  }
  dns.send(Buffer.concat(parts), rinfo.port, rinfo.address);
});
dns.bind(53, '0.0.0.0', () => console.log('ready'));
