import { realpathSync, statSync } from 'node:fs';
import { extname, join, sep } from 'node:path';

/*
 * The renderer is served from a custom protocol, app://tapscope/…, confined to one folder
 * (out/renderer), instead of file:// (Electron security checklist 18: file:// pages may read
 * any file; a standard, secure custom scheme gives the page an origin of its own).
 * resolveAppRequest is the whole policy, as a plain function (tested without Electron):
 *   - only app://tapscope/ URLs; the path's segments are percent-decoded one by one, and a
 *     segment that is empty, '.', '..', starts with a dot, or holds anything but
 *     [A-Za-z0-9._~@+-] after decoding (an encoded '/', '\', NUL, ':' …) is refused;
 *   - the file's real path (symlinks resolved) must stay inside the real root folder;
 *   - only regular files; '/' is index.html.
 * Query strings and fragments are ignored (the page keeps its state in them).
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'tapscope';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
/** The page the window loads. */
export const APP_URL = `${APP_ORIGIN}/index.html`;

/** The page's Content-Security-Policy, sent as a header too (the same as renderer/index.html's meta tag). */
export const APP_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'";

export type AppResource =
  | { ok: true; path: string; mime: string }
  | { ok: false; status: 400 | 403 | 404; reason: string };

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.json': 'application/json',
};

const SEGMENT = /^[A-Za-z0-9_~@+-][A-Za-z0-9._~@+-]*$/;

function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** The file under root that an app:// request names, or why it is refused. Never throws. */
export function resolveAppRequest(url: string, root: string): AppResource {
  const prefix = `${APP_ORIGIN}/`;
  if (typeof url !== 'string' || !url.startsWith(prefix)) return { ok: false, status: 403, reason: 'not an app://tapscope/ URL' };
  // Raw path up to a query or fragment: the URL parser would resolve '..' and keep '%2F',
  // so the segments are judged here, before anything is decoded.
  const raw = url.slice(prefix.length).split(/[?#]/, 1)[0];
  const parts = raw === '' ? ['index.html'] : raw.split('/');
  const segments: string[] = [];
  for (const part of parts) {
    const seg = decodeSegment(part);
    if (seg === null) return { ok: false, status: 400, reason: 'bad percent-encoding' };
    if (!SEGMENT.test(seg)) return { ok: false, status: 400, reason: `refused path segment ${JSON.stringify(seg)}` };
    segments.push(seg);
  }
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return { ok: false, status: 404, reason: 'the renderer is not built' };
  }
  const path = join(realRoot, ...segments);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return { ok: false, status: 404, reason: 'not found' };
  }
  if (!real.startsWith(realRoot + sep)) return { ok: false, status: 403, reason: 'outside the renderer folder' };
  try {
    if (!statSync(real).isFile()) return { ok: false, status: 404, reason: 'not a file' };
  } catch {
    return { ok: false, status: 404, reason: 'not found' };
  }
  return { ok: true, path: real, mime: MIME[extname(real).toLowerCase()] ?? 'application/octet-stream' };
}

/** Response headers for a served file: its type, no sniffing; the page also gets the CSP. */
export function appResponseHeaders(r: { mime: string }, csp: string): Record<string, string> {
  const h: Record<string, string> = { 'content-type': r.mime, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
  if (r.mime.startsWith('text/html')) h['content-security-policy'] = csp;
  return h;
}
