import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { CSP, startServer, type RunningServer } from '../../main/cli/serve';
import { REPO_ROOT } from '../helpers/captures';
import { TOKEN, makeService } from './harness';

/*
 * Browser mode's guard: the token on every HTTP request and on the WebSocket, the Host
 * header (DNS rebinding), the WebSocket Origin, no path traversal, a strict CSP.
 */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function wsOpens(url: string, origin: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { origin });
    ws.on('open', () => {
      ws.close();
      resolve(true);
    });
    ws.on('error', () => resolve(false));
    ws.on('unexpected-response', () => resolve(false));
  });
}

describe('tapscope serve', () => {
  let s: RunningServer;
  let port = 0;
  beforeAll(async () => {
    const service = await makeService({ inProcess: true });
    // Serve the repository's renderer folder: enough to test routing without a build.
    s = await startServer({ port: 0, host: '127.0.0.1', token: TOKEN, files: [], decodeAs: [], rendererDir: join(REPO_ROOT, 'renderer'), service });
    port = s.port;
  });
  afterAll(async () => s.close());

  it('prints a URL with the token and serves the page with a strict CSP and a cookie', async () => {
    expect(s.url).toBe(`http://127.0.0.1:${port}/?token=${TOKEN}`);
    const r = await get(port, `/?token=${TOKEN}`);
    expect(r.status).toBe(200);
    expect(r.headers['content-security-policy']).toBe(CSP);
    expect(CSP).toMatch(/script-src 'self'(;|$)/);
    expect(CSP).not.toMatch(/script-src[^;]*unsafe/);
    expect(String(r.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
  });

  it('refuses requests without the right token', async () => {
    expect((await get(port, '/')).status).toBe(403);
    expect((await get(port, '/?token=wrong-token-0123456789abc')).status).toBe(403);
    expect((await get(port, '/index.html', { cookie: `tapscope_token_${port}=${TOKEN}` })).status).toBe(200);
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    expect((await get(port, `/?token=${TOKEN}`, { host: `evil.example:${port}` })).status).toBe(421);
    expect((await get(port, `/?token=${TOKEN}`, { host: `127.0.0.1:${port + 1}` })).status).toBe(421);
  });

  it('does not serve files outside the renderer folder', async () => {
    const r = await get(port, `/..%2Fpackage.json?token=${TOKEN}`);
    expect(r.status).toBe(404);
    expect((await get(port, `/../package.json?token=${TOKEN}`)).status).toBe(404);
  });

  it('accepts the WebSocket only with the token and the page origin', async () => {
    const origin = `http://127.0.0.1:${port}`;
    expect(await wsOpens(`ws://127.0.0.1:${port}/ws?token=${TOKEN}`, origin)).toBe(true);
    expect(await wsOpens(`ws://127.0.0.1:${port}/ws?token=nope`, origin)).toBe(false);
    expect(await wsOpens(`ws://127.0.0.1:${port}/ws?token=${TOKEN}`, 'http://evil.example')).toBe(false);
  });

  it('takes uploads only with the token header, and unknown downloads are 404', async () => {
    const cookie = `tapscope_token_${port}=${TOKEN}`;
    expect((await get(port, '/upload?name=a.pcap', { cookie }, 'POST', Buffer.from('x'))).status).toBe(403);
    const ok = await get(port, '/upload?name=../a.pcap', { cookie, 'x-tapscope-token': TOKEN }, 'POST', Buffer.from('abc'));
    expect(ok.status).toBe(200);
    const path = JSON.parse(ok.body).path as string;
    expect(path.endsWith('/__a.pcap')).toBe(true);
    const dots = await get(port, '/upload?name=..', { cookie, 'x-tapscope-token': TOKEN }, 'POST', Buffer.from('abc'));
    expect(JSON.parse(dots.body).path).toMatch(/\/_$/);
    expect((await get(port, '/download/nothing', { cookie })).status).toBe(404);
  });
});

describe('tapscope serve FILE', () => {
  it('opens the files named on the command line and tells each client that connects', async () => {
    const service = await makeService({ inProcess: true });
    const { capture } = await import('../helpers/captures');
    const { createWsClient } = await import('../../renderer/src/api/ws-client');
    const file = capture('http-get-basic.pcap');
    const s = await startServer({ port: 0, host: '127.0.0.1', token: TOKEN, files: [file], decodeAs: [], rendererDir: join(REPO_ROOT, 'renderer'), service });
    try {
      const origin = `http://127.0.0.1:${s.port}`;
      const client = await createWsClient(new WebSocket(`ws://127.0.0.1:${s.port}/ws?token=${TOKEN}`, { origin }) as never, origin);
      const opened = await new Promise<{ sessionId: string; name: string }>((resolve) => client.on('opened', resolve));
      expect(opened.name).toBe('http-get-basic.pcap');
      await service.whenDone(opened.sessionId);
      expect((await client.summary(opened.sessionId)).state).toBe('ready');
      client.close();
    } finally {
      await s.close();
    }
  });
});
