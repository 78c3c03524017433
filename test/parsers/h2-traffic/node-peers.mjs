// HTTP/2 server and client in one process, on 127.0.0.1, with injected faults, for
// test/parsers/http2-live.test.ts (which captures them with tcpdump): h2c with prior
// knowledge, or h2 over TLS writing the server's NSS key log (SSLKEYLOGFILE format).
// Usage: node node-peers.mjs PORT [KEYLOG KEY.pem CERT.pem]. Prints one JSON line: what the
// client saw per request.
import { appendFileSync, readFileSync } from 'node:fs';
import http2 from 'node:http2';

const port = Number(process.argv[2]);
const [keylog, keyFile, certFile] = process.argv.slice(3);
const scheme = keylog ? 'https' : 'http';
const C = http2.constants;
const big = Buffer.alloc(200_000, 0x61);

const server = keylog
  ? http2.createSecureServer({ key: readFileSync(keyFile), cert: readFileSync(certFile), paddingStrategy: C.PADDING_STRATEGY_MAX })
  : http2.createServer({ paddingStrategy: C.PADDING_STRATEGY_MAX });
if (keylog) server.on('keylog', (line) => appendFileSync(keylog, line));
server.on('stream', (stream, headers) => {
  stream.on('error', () => {});
  const path = headers[':path'];
  if (path === '/ok') stream.respond({ ':status': 200, 'content-type': 'text/plain' }), stream.end('hello');
  else if (path === '/big' || path === '/paused') stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' }), stream.end(big);
  else if (path === '/slow') setTimeout(() => { stream.respond({ ':status': 200, 'content-type': 'text/plain' }); stream.end('late'); }, 1200);
  else if (path === '/fail') stream.respond({ ':status': 503, 'content-type': 'text/plain' }), stream.end('busy');
  else if (path === '/reset') stream.close(C.NGHTTP2_INTERNAL_ERROR);
  else if (path === '/hang') { /* never answered: the client cancels */ }
  else if (path === '/long-header') stream.respond({ ':status': 200, 'x-long': 'v'.repeat(40_000) }), stream.end();
  else if (path === '/upload') {
    let n = 0;
    stream.on('data', (d) => (n += d.length));
    stream.on('end', () => { stream.respond({ ':status': 201, 'content-type': 'application/json' }); stream.end(JSON.stringify({ n })); });
  } else if (path === '/push') {
    stream.pushStream({ ':path': '/pushed.css' }, (err, push) => {
      if (!err) { push.on('error', () => {}); push.respond({ ':status': 200, 'content-type': 'text/css' }); push.end('p{}'); }
      stream.respond({ ':status': 200, 'content-type': 'text/html' });
      stream.end('<p>');
    });
  } else if (path === '/calm') {
    const session = stream.session;
    session.goaway(C.NGHTTP2_ENHANCE_YOUR_CALM, 0);
    setTimeout(() => session.destroy(), 50);
  } else stream.respond({ ':status': 404 }), stream.end();
});

function request(session, path, opts = {}) {
  return new Promise((resolve) => {
    const req = session.request({ ':path': path, ':method': opts.method ?? 'GET', ...(opts.headers ?? {}) }, { endStream: !opts.body });
    const out = { path, status: null, bytes: 0, error: null };
    req.on('response', (h) => (out.status = h[':status']));
    req.on('data', (d) => (out.bytes += d.length));
    req.on('end', () => resolve(out));
    req.on('error', (e) => { out.error = e.code; resolve(out); });
    req.on('close', () => { if (req.rstCode) out.error ??= `rst ${req.rstCode}`; resolve(out); });
    if (opts.body) req.end(opts.body);
    if (opts.cancelAfter) setTimeout(() => req.close(C.NGHTTP2_CANCEL), opts.cancelAfter);
    // A client that stops reading: Node stops granting window, the server waits (flow control).
    if (opts.pauseFor) req.once('data', () => { req.pause(); setTimeout(() => req.resume(), opts.pauseFor); });
  });
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

server.listen(port, '127.0.0.1', async () => {
  const seen = [];
  // Connection 1: a small receive window, so /big stalls on flow control repeatedly.
  const s1 = http2.connect(`${scheme}://127.0.0.1:${port}`, { settings: { initialWindowSize: 8192, enablePush: true }, rejectUnauthorized: false });
  s1.on('error', () => {});
  s1.on('stream', (push) => { push.on('error', () => {}); push.resume(); });
  seen.push(await request(s1, '/ok'));
  seen.push(await request(s1, '/fail'));
  seen.push(await request(s1, '/slow'));
  seen.push(await request(s1, '/reset'));
  seen.push(await request(s1, '/upload', { method: 'POST', body: Buffer.alloc(30_000, 0x62), headers: { 'content-type': 'application/octet-stream' } }));
  seen.push(await request(s1, '/hang', { cancelAfter: 100 }));
  seen.push(await request(s1, '/long-header'));
  seen.push(await request(s1, '/push'));
  await pause(50);
  seen.push(await request(s1, '/big'));
  seen.push(await request(s1, '/paused', { pauseFor: 600 }));
  s1.close();
  await pause(100);
  // Connection 2: the server answers with GOAWAY ENHANCE_YOUR_CALM and closes.
  const s2 = http2.connect(`${scheme}://127.0.0.1:${port}`, { rejectUnauthorized: false });
  s2.on('error', () => {});
  seen.push(await request(s2, '/calm'));
  s2.destroy();
  await pause(100);
  server.close();
  console.log(JSON.stringify(seen));
  setTimeout(() => process.exit(0), 100).unref();
});
