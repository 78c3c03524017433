import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { request } from 'node:http';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../main/cli/serve';
import { REPO_ROOT } from '../helpers/captures';
import { rngUint32 } from '../helpers/rng';
import { TOKEN, makeService } from './harness';

/*
 * Browser mode must survive whatever bytes any web page (or any local process) sends it:
 * each hostile request gets an answer (a 4xx or a closed socket), never a crash, and the
 * token URL is still served afterwards.
 */

/** Sends raw bytes, returns what came back (status line or '') once the peer closes or 1.5 s pass. */
function raw(port: number, bytes: string | Buffer, opts: { endAfterWrite?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 1500);
    s.on('connect', () => {
      s.write(bytes);
      if (opts.endAfterWrite) s.end();
    });
    s.on('data', (c) => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n') && !opts.endAfterWrite) done();
    });
    s.on('error', done);
    s.on('close', done);
  });
}

function statusOf(reply: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(reply);
  return m ? Number(m[1]) : 0;
}

function tokenPage(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/?token=${TOKEN}`, headers: { host: `127.0.0.1:${port}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tapscope serve under hostile requests', () => {
  let s: RunningServer;
  let port = 0;
  let host = '';
  beforeAll(async () => {
    const service = await makeService({ inProcess: true });
    s = await startServer({ port: 0, host: '127.0.0.1', token: TOKEN, files: [], decodeAs: [], rendererDir: join(REPO_ROOT, 'renderer'), service });
    port = s.port;
    host = `127.0.0.1:${port}`;
  });
  afterAll(async () => s.close());

  const corpus = (): { name: string; bytes: string | Buffer; end?: boolean; expect: (status: number) => boolean }[] => {
    const is4xx = (st: number): boolean => st >= 400 && st < 500;
    const closedOr4xx = (st: number): boolean => st === 0 || is4xx(st);
    return [
      { name: 'authority-form target with a bad port (//x:99999)', bytes: `GET //x:99999 HTTP/1.1\r\nHost: ${host}\r\n\r\n`, expect: is4xx },
      { name: 'authority-form target with the token', bytes: `GET //x:99999/?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, expect: is4xx },
      { name: 'lone percent', bytes: `GET /% HTTP/1.1\r\nHost: ${host}\r\n\r\n`, expect: is4xx },
      { name: 'cut UTF-8 percent-encoding with the token', bytes: `GET /assets/%E0%A4%A?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, expect: is4xx },
      { name: 'encoded NUL with the token', bytes: `GET /index.html%00.js?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, expect: is4xx },
      { name: 'encoded traversal with the token', bytes: `GET /..%2f..%2f..%2fetc%2fpasswd?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, expect: is4xx },
      { name: 'absolute-form target', bytes: `GET http://evil.example/?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, expect: is4xx },
      { name: 'asterisk target', bytes: `OPTIONS * HTTP/1.1\r\nHost: ${host}\r\n\r\n`, expect: is4xx },
      { name: 'no Host header', bytes: `GET /?token=${TOKEN} HTTP/1.0\r\n\r\n`, expect: is4xx },
      { name: 'rebinding Host', bytes: `GET /?token=${TOKEN} HTTP/1.1\r\nHost: attacker.example:${port}\r\n\r\n`, expect: is4xx },
      { name: 'Host with a bad port', bytes: `GET /?token=${TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:99999999999\r\n\r\n`, expect: is4xx },
      { name: 'oversized header block', bytes: `GET / HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(80_000)}\r\n\r\n`, expect: closedOr4xx },
      { name: 'garbage bytes', bytes: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]), expect: closedOr4xx },
      { name: 'bare LF and a space in the method', bytes: `G ET / HTTP/1.1\nHost: ${host}\n\n`, expect: closedOr4xx },
      { name: 'half-sent request line, then close', bytes: 'GET /?tok', end: true, expect: closedOr4xx },
      { name: 'half-sent headers, then close', bytes: `GET /?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\nX-A: b`, end: true, expect: closedOr4xx },
      { name: 'bad Content-Length', bytes: `POST /upload?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: -5\r\n\r\n`, expect: closedOr4xx },
      { name: 'upload that stops early', bytes: `POST /upload?token=${TOKEN}&name=x.pcap HTTP/1.1\r\nHost: ${host}\r\nX-Tapscope-Token: ${TOKEN}\r\nContent-Length: 100000\r\n\r\nabc`, end: true, expect: closedOr4xx },
      { name: 'upload with bad chunked framing', bytes: `POST /upload?token=${TOKEN}&name=x.pcap HTTP/1.1\r\nHost: ${host}\r\nX-Tapscope-Token: ${TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`, expect: closedOr4xx },
      { name: 'upload named with a traversal', bytes: `POST /upload?token=${TOKEN}&name=%2e%2e%2f%2e%2e%2fx HTTP/1.1\r\nHost: ${host}\r\nX-Tapscope-Token: wrong-token-0123456789\r\nContent-Length: 1\r\n\r\nx`, expect: is4xx },
      { name: 'WebSocket upgrade without a key', bytes: `GET /ws?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`, expect: closedOr4xx },
      { name: 'WebSocket upgrade with a bad version', bytes: `GET /ws?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99\r\n\r\n`, expect: closedOr4xx },
      { name: 'WebSocket upgrade to a bad target', bytes: `GET //x:99999/ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`, expect: closedOr4xx },
      { name: 'WebSocket upgrade from a foreign origin', bytes: `GET /ws?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`, expect: closedOr4xx },
      { name: 'WebSocket upgrade with percent garbage', bytes: `GET /ws?token=%E0%A4%A HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`, expect: closedOr4xx },
      { name: 'download of a traversal', bytes: `GET /download/..%2f..%2fetc%2fpasswd?token=${TOKEN} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, expect: is4xx },
    ];
  };

  it('answers every request of the hostile corpus with a 4xx or a close, and keeps serving', async () => {
    for (const c of corpus()) {
      const st = statusOf(await raw(port, c.bytes, { endAfterWrite: c.end }));
      expect(c.expect(st), `${c.name}: got status ${st}`).toBe(true);
      expect(await tokenPage(port), `token page after: ${c.name}`).toBe(200);
    }
  });

  it('survives a seeded fuzz of request lines and headers', async () => {
    const next = rngUint32(20261202);
    const pieces = ['/', '//', '%', '%E0%A4%A', '%00', '?', '#', '..', ':', '99999', '\\', '@', 'x', ' ', '\t', '\u00ff', `token=${TOKEN}`, '&', '='];
    const methods = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'G\u0000T', 'PRI'];
    const pick = <T>(a: T[]): T => a[next() % a.length];
    const word = (n: number): string => Array.from({ length: n }, () => pick(pieces)).join('');
    for (let i = 0; i < 120; i++) {
      const headers = [`Host: ${pick([host, word(3), '', `[::1]:${port}`, `localhost:${word(1)}`])}`];
      for (let h = next() % 4; h > 0; h--) headers.push(`${pick(['Cookie', 'Origin', 'Upgrade', 'Connection', 'Content-Length', 'Transfer-Encoding', 'X-Tapscope-Token', word(2)])}: ${word(next() % 6)}`);
      const line = `${pick(methods)} ${word(1 + (next() % 6))} ${pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/9', ''])}`;
      await raw(port, `${line}\r\n${headers.join('\r\n')}\r\n\r\n`, { endAfterWrite: next() % 3 === 0 });
    }
    expect(await tokenPage(port)).toBe(200);
  }, 120_000);
});
