import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Transform, pipeline } from 'node:stream';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import type { SessionInfo } from '../../preload/api.js';
import { TapscopeService, defaultWorker } from '../services/service.js';
import { MAX_MESSAGE, serveSocket } from './ws-transport.js';
import { parseArgs, UsageError } from './args.js';

export const SERVE_USAGE = `tapscope serve [--port N] [--host 127.0.0.1] [--decode udp:PORT=PROTO]... [file...]
  Browser mode: serves the workbench on http://127.0.0.1:N/ (default port 8417; 0 picks
  a free one) and opens the given files. The printed URL carries a random access token;
  set TAPSCOPE_TOKEN to choose it. Only loopback addresses are accepted for --host.`;

/*
 * Security: the server listens on loopback only. Every request must carry the token:
 * in the URL (?token=) of the page, which sets an HttpOnly SameSite=Strict cookie for the
 * assets, the WebSocket and downloads; uploads also need it in a header. The Host header
 * must name the loopback address and port (DNS rebinding), and the WebSocket Origin must
 * be the page's own origin. Pages get a strict Content-Security-Policy.
 */

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json',
  '.woff2': 'font/woff2', '.map': 'application/json',
};

const MAX_UPLOAD = 2 * 1024 * 1024 * 1024;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface ServeOptions {
  port: number;
  host: string;
  token: string;
  files: string[];
  decodeAs: string[];
  rendererDir: string;
  service: TapscopeService;
  log?: (line: string) => void;
}

export interface RunningServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** This module's directory: out/cli when bundled, main/cli from source. */
function hereDir(): string {
  return dirname(fileURLToPath(import.meta.url));
}

/** Repository (or installed package) root: the folder holding package.json above this module. */
export function packageRoot(): string {
  let d = hereDir();
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(d, 'package.json'))) return d;
    d = dirname(d);
  }
  return resolve(hereDir(), '..', '..');
}

export function samplePath(root = packageRoot()): string {
  return join(root, 'resources', 'sample', 'tapscope-sample.pcapng');
}

/**
 * The request target as a URL, or null when it is not one. Only origin-form targets
 * ("/path?query") are accepted: "//x:99999" or "http://…" would make new URL() read an
 * authority (and throw on a bad port), so they are refused before any parsing.
 */
function requestUrl(target: string | undefined): URL | null {
  if (!target || target[0] !== '/' || target[1] === '/') return null;
  try {
    return new URL(target, 'http://localhost');
  } catch {
    return null;
  }
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

function tokenOk(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Cookies are shared by every port of 127.0.0.1, so the cookie's name carries the port. */
function cookieName(port: number): string {
  return `tapscope_token_${port}`;
}

function cookieToken(req: IncomingMessage, port: number): string | null {
  const c = req.headers.cookie ?? '';
  const m = new RegExp(`(?:^|;\\s*)${cookieName(port)}=([A-Za-z0-9_-]+)`).exec(c);
  return m ? m[1] : null;
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  // Uploaded files live in one private temporary folder, removed when the server closes.
  let uploads: string | null = null;
  const uploadRoot = (): string => (uploads ??= mkdtempSync(join(tmpdir(), 'tapscope-uploads-')));
  let port = o.port;
  const hostOk = (req: IncomingMessage): boolean => {
    const h = req.headers.host ?? '';
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(h);
    if (!m) return false;
    const name = m[1].replace(/^\[|\]$/g, '');
    return LOOPBACK.has(name) && Number(m[2] ?? 80) === port;
  };
  const authed = (req: IncomingMessage, url: URL): boolean => tokenOk(url.searchParams.get('token'), o.token) || tokenOk(cookieToken(req, port), o.token);

  const deny = (res: ServerResponse, code: number, text: string): void => {
    res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
    res.end(text + '\n');
  };

  const server = createServer((req, res) => {
    try {
      handleRequest(req, res);
    } catch (e) {
      // Whatever the bytes, a request gets an answer and the server stays up.
      if (!res.headersSent) deny(res, 400, 'bad request');
      else res.destroy();
      o.log?.(`request error: ${(e as Error).message}`);
    }
  });
  // Unparseable requests (garbage, oversized headers, half-sent): answer 400 and close.
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 0; // uploads may take long; headersTimeout bounds a stalled request head

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = requestUrl(req.url);
    if (!url) return deny(res, 400, 'bad request target');
    if (!hostOk(req)) return deny(res, 421, 'wrong Host header');
    if (!authed(req, url)) return deny(res, 403, 'missing or wrong token: open the URL tapscope serve printed');
    const common = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' };
    if (req.method === 'POST' && url.pathname === '/upload') {
      // Browser mode has no file system access: dropped files are uploaded, then opened by path.
      if (!tokenOk(String(req.headers['x-tapscope-token'] ?? ''), o.token)) return deny(res, 403, 'upload needs the token header');
      // Only a plain file name: no separators, no leading dots (no '..', no hidden files).
      const name = (url.searchParams.get('name') ?? 'upload.pcap').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(-120) || 'upload.pcap';
      const len = Number(req.headers['content-length'] ?? 0);
      if (len > MAX_UPLOAD) return deny(res, 413, 'file too large');
      const dir = mkdtempSync(join(uploadRoot(), 'u-'));
      const path = join(dir, name);
      let size = 0;
      const limit = new Transform({
        transform(c: Buffer, _enc, done) {
          size += c.length;
          done(size > MAX_UPLOAD ? new Error('file too large') : null, c);
        },
      });
      // pipeline closes every stream on error or an upload that stops early; the partial
      // file is removed so nothing half-written is left to open.
      pipeline(req, limit, createWriteStream(path, { mode: 0o600 }), (err) => {
        if (err) {
          rmSync(dir, { recursive: true, force: true });
          if (!res.headersSent && !res.destroyed) deny(res, size > MAX_UPLOAD ? 413 : 400, `upload failed: ${err.message}`);
          return;
        }
        // Removed when the session that opens it closes (and with the rest at close).
        o.service.adoptUpload(path, dir);
        res.writeHead(200, { 'content-type': 'application/json', ...common });
        res.end(JSON.stringify({ path }));
      });
      return;
    }
    if (req.method === 'POST' || req.method === 'PUT') req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'method not allowed');
    if (url.pathname.startsWith('/download/')) {
      const p = o.service.downloadPath(url.pathname.slice('/download/'.length));
      if (!p || !existsSync(p)) return deny(res, 404, 'no such download');
      const name = p.slice(p.lastIndexOf(sep) + 1);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(p).size, 'content-disposition': `attachment; filename="${name}"`, ...common });
      pipeline(createReadStream(p), res, () => { /* a reader that went away: nothing to clean */ });
      return;
    }
    const decoded = safeDecode(url.pathname);
    if (decoded === null || decoded.includes('\0')) return deny(res, 400, 'bad percent-encoding');
    const rel = url.pathname === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
    const file = normalize(join(o.rendererDir, rel));
    if (!file.startsWith(o.rendererDir + sep) || !existsSync(file) || !statSync(file).isFile()) return deny(res, 404, 'not found');
    const headers: Record<string, string | number> = { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', ...common };
    if (extname(file) === '.html') {
      headers['content-security-policy'] = CSP;
      headers['x-frame-options'] = 'DENY';
      headers['set-cookie'] = `${cookieName(port)}=${o.token}; HttpOnly; SameSite=Strict; Path=/`;
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.end(readFileSync(file));
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE });
  const opened: SessionInfo[] = [];
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const url = requestUrl(req.url);
    const refuse = (): void => {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      socket.destroy();
    };
    if (!url) return refuse();
    const origin = req.headers.origin ?? '';
    const originOk = [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`].includes(origin);
    if (url.pathname !== '/ws' || !hostOk(req) || !originOk || !authed(req, url)) return refuse();
    try {
      // ws answers a malformed handshake (bad key, version) with a 400 itself.
      wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, o.service, opened.map(() => 'opened' as const), opened));
    } catch {
      refuse();
    }
  });

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port, o.host, () => res());
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : o.port;
  const hostInUrl = o.host.includes(':') ? `[${o.host}]` : o.host;
  const url = `http://${hostInUrl}:${port}/?token=${o.token}`;
  for (const f of o.files) opened.push(await o.service.openFile({ path: f, decodeAs: o.decodeAs }));
  return {
    server, url, port,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => server.close(() => r()));
      await o.service.dispose();
      if (uploads) rmSync(uploads, { recursive: true, force: true });
    },
  };
}

export async function createService(transport: string): Promise<TapscopeService> {
  const root = packageRoot();
  let version = '0.0.0';
  try {
    version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch { /* keep the default */ }
  const worker = await defaultWorker(hereDir());
  return new TapscopeService({
    ...worker,
    stateDir: process.env.TAPSCOPE_STATE_DIR ?? join(homedir(), '.config', 'tapscope'),
    exportDir: join(tmpdir(), `tapscope-exports-${process.pid}`),
    samplePath: samplePath(root),
    version,
    transport,
  });
}

export async function runServe(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['port', 'host', 'decode', 'token']);
  for (const f of args.flags) if (f !== 'help' && f !== 'h') throw new UsageError(`unknown option --${f}`);
  if (args.flags.size) {
    process.stdout.write(SERVE_USAGE + '\n');
    return 0;
  }
  const port = Number(args.options.get('port')?.at(-1) ?? 8417);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0-65535');
  const host = args.options.get('host')?.at(-1) ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new UsageError('--host must be a loopback address (127.0.0.1, ::1 or localhost)');
  const token = args.options.get('token')?.at(-1) ?? process.env.TAPSCOPE_TOKEN ?? randomBytes(16).toString('hex');
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(token)) throw new UsageError('the token must be 16-128 characters of A-Z a-z 0-9 _ -');
  const rendererDir = resolve(packageRoot(), 'out', 'renderer');
  if (!existsSync(join(rendererDir, 'index.html'))) {
    process.stderr.write(`tapscope serve: the user interface is not built (${rendererDir}); run "npm run build"\n`);
    return 1;
  }
  const service = await createService('browser');
  const running = await startServer({ port, host, token, files: args.positionals, decodeAs: args.options.get('decode') ?? [], rendererDir, service });
  process.stdout.write(`Tapscope is serving on ${running.url}\nOpen that URL in a browser. Press Ctrl-C to stop.\n`);
  await new Promise<void>((res) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void running.close().then(res);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
