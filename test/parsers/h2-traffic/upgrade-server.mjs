// A minimal h2c server that accepts `Upgrade: h2c` (RFC 7540 §3.2): it answers the HTTP/1.1
// request with 101, then speaks HTTP/2 — stream 1 answers the upgrading request, and every
// later HEADERS frame from the client is answered 200, except the second, answered 503.
// Neither Node's http2 nor nghttpd implements Upgrade; the client is Debian's nghttp -u.
// Usage: node upgrade-server.mjs PORT (prints "ready"; exits after one connection closes).
import net from 'node:net';

const port = Number(process.argv[2]);
const frame = (type, flags, stream, payload) => {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type; h[4] = flags; h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
};
// HPACK: :status from the static table (200 = index 8, 503 literal), content-type literal (index 31, not indexed).
const headers = (status) => Buffer.concat([
  status === 200 ? Buffer.from([0x88]) : Buffer.concat([Buffer.from([0x08, 3]), Buffer.from(String(status))]),
  Buffer.from([0x0f, 0x10, 10]), Buffer.from('text/plain'),
]);
const respond = (sock, stream, status) => {
  const body = Buffer.from(`stream ${stream}: ${status}\n`);
  sock.write(Buffer.concat([frame(1, 0x4, stream, headers(status)), frame(0, 0x1, stream, body)]));
};

const server = net.createServer((sock) => {
  let buf = Buffer.alloc(0);
  let upgraded = false;
  let preface = false;
  let requests = 0;
  sock.setNoDelay(true);
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (!upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      buf = buf.subarray(end + 4);
      upgraded = true;
      sock.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
      sock.write(frame(4, 0, 0, Buffer.alloc(0))); // server preface: SETTINGS
      respond(sock, 1, 200);
    }
    if (!preface) {
      if (buf.length < 24) return;
      buf = buf.subarray(24);
      preface = true;
    }
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const type = buf[3], flags = buf[4], stream = buf.readUInt32BE(5) & 0x7fffffff;
      buf = buf.subarray(9 + len);
      if (type === 4 && !(flags & 1)) sock.write(frame(4, 1, 0, Buffer.alloc(0))); // SETTINGS ACK
      if (type === 1) respond(sock, stream, ++requests === 2 ? 503 : 200);
      if (type === 7) sock.end();
    }
  });
  sock.on('error', () => {});
  sock.on('close', () => server.close());
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
setTimeout(() => process.exit(0), 15_000).unref();
