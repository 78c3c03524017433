// The Electron window's policies, as the plain functions Electron calls (no Electron here):
// the app:// protocol's confinement to the renderer folder, the request filter, navigation,
// window opening, the save dialog's default name, and the IPC error envelope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP_CSP, APP_URL, appResponseHeaders, resolveAppRequest } from '../../main/electron/app-protocol.js';
import { isAppUrl, requestAllowed, saveDialogDefaults, windowOpenDecision } from '../../main/electron/policy.js';
import { errorEnvelope, openEnvelope, resultEnvelope } from '../../preload/envelope.js';
import { ApiError } from '../../preload/api.js';
import { REPO_ROOT } from '../helpers/captures.js';

describe('app:// protocol: files of the renderer folder only', () => {
  let work = '';
  let root = '';
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tapscope-appproto-'));
    root = join(work, 'renderer');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html>');
    writeFileSync(join(root, 'assets', 'index-C9MpPyyt.js'), 'export {}');
    writeFileSync(join(root, 'assets', 'index-BS8Vo4bG.css'), 'body{}');
    writeFileSync(join(root, '.hidden'), 'x');
    writeFileSync(join(work, 'secret.txt'), 'outside');
    mkdirSync(join(work, 'renderer-other'));
    writeFileSync(join(work, 'renderer-other', 'x.js'), 'outside');
    // Symlinks: one leaving the folder, one staying inside.
    symlinkSync(join(work, 'secret.txt'), join(root, 'assets', 'leak.js'));
    symlinkSync(join(work, 'renderer-other'), join(root, 'other'));
    symlinkSync(join(root, 'index.html'), join(root, 'assets', 'alias.html'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const get = (url: string) => resolveAppRequest(url, root);

  it('serves the page, its assets and their types; a query or fragment does not change the file', () => {
    for (const u of [APP_URL, 'app://tapscope/', 'app://tapscope/index.html?x=1#view=http', 'app://tapscope/index.html#a/../../b']) {
      expect(get(u), u).toEqual({ ok: true, path: join(root, 'index.html'), mime: 'text/html; charset=utf-8' });
    }
    expect(get('app://tapscope/assets/index-C9MpPyyt.js')).toMatchObject({ ok: true, mime: 'text/javascript; charset=utf-8' });
    expect(get('app://tapscope/assets/index-BS8Vo4bG.css')).toMatchObject({ ok: true, mime: 'text/css; charset=utf-8' });
    expect(get('app://tapscope/assets/alias.html')).toEqual({ ok: true, path: join(root, 'index.html'), mime: 'text/html; charset=utf-8' });
    // Percent-encoded ordinary characters are fine.
    expect(get('app://tapscope/assets/index%2DC9MpPyyt.js')).toMatchObject({ ok: true });
  });

  it('refuses traversal, encoded separators, NUL, hidden files and other schemes or hosts', () => {
    const refused: [string, number][] = [
      ['app://tapscope/../secret.txt', 400],
      ['app://tapscope/assets/../../secret.txt', 400],
      ['app://tapscope/%2e%2e/secret.txt', 400],
      ['app://tapscope/..%2Fsecret.txt', 400],
      ['app://tapscope/assets%2F..%2F..%2Fsecret.txt', 400],
      ['app://tapscope/..%5Csecret.txt', 400],
      ['app://tapscope/index.html%00.js', 400],
      ['app://tapscope/%00', 400],
      ['app://tapscope/assets//index-C9MpPyyt.js', 400],
      ['app://tapscope/assets/', 400],
      ['app://tapscope/%E0%A4%A', 400],
      ['app://tapscope/%', 400],
      ['app://tapscope/C:%5Cwindows', 400],
      ['app://tapscope/.hidden', 400],
      ['app://tapscope/assets/leak.js', 403],
      ['app://tapscope/other/x.js', 403],
      ['app://tapscope/assets', 404],
      ['app://tapscope/nope.js', 404],
      ['app://evil/index.html', 403],
      ['app://tapscope.evil/index.html', 403],
      ['file:///etc/passwd', 403],
      [`file://${join(root, 'index.html')}`, 403],
      ['https://tapscope/index.html', 403],
    ];
    for (const [u, status] of refused) {
      const r = get(u);
      expect(r.ok, u).toBe(false);
      expect(r.ok ? 0 : r.status, u).toBe(status);
    }
    expect(resolveAppRequest(APP_URL, join(work, 'missing'))).toMatchObject({ ok: false, status: 404 });
  });

  it('a small fuzz of paths never leaves the folder and never throws', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const pieces = ['..', '.', '%2e', '%2E%2e', '%2f', '%5c', '%00', '/', '\\', 'assets', 'index.html', 'leak.js', 'other', 'x.js', '%', '%zz', '~', ':', 'secret.txt'];
    for (let i = 0; i < 3000; i++) {
      let p = '';
      for (let k = 0, n = 1 + rnd(6); k < n; k++) p += pieces[rnd(pieces.length)] + (rnd(2) ? '/' : '');
      const r = get(`app://tapscope/${p}`);
      if (r.ok) expect(r.path.startsWith(root + '/'), p).toBe(true);
    }
  });

  it('the page gets the CSP header, the same policy as its meta tag', () => {
    expect(appResponseHeaders({ mime: 'text/html; charset=utf-8' }, APP_CSP)).toMatchObject({ 'content-security-policy': APP_CSP, 'x-content-type-options': 'nosniff' });
    expect(appResponseHeaders({ mime: 'text/javascript; charset=utf-8' }, APP_CSP)['content-security-policy']).toBeUndefined();
    const html = readFileSync(join(REPO_ROOT, 'renderer', 'index.html'), 'utf8');
    expect(/http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1]).toBe(APP_CSP);
  });
});

describe('window policies', () => {
  it('navigation stays on the app page', () => {
    expect(isAppUrl(APP_URL)).toBe(true);
    expect(isAppUrl(`${APP_URL}#http`)).toBe(true);
    expect(isAppUrl(`${APP_URL}?token=1`)).toBe(true);
    for (const u of ['app://tapscope/assets/index.js', 'app://tapscope/index.html.evil', 'file:///work/out/renderer/index.html', 'https://example.com/', 'app://evil/index.html']) {
      expect(isAppUrl(u), u).toBe(false);
    }
  });

  it('every window-open request is denied, external links too', () => {
    for (const url of ['https://example.com/', 'http://127.0.0.1:8417/', APP_URL, 'file:///etc/passwd', 'javascript:alert(1)', '']) {
      expect(windowOpenDecision({ url })).toEqual({ action: 'deny' });
    }
  });

  it('the request filter lets only app:// files through (no file://, no network)', () => {
    expect(requestAllowed('app://tapscope/assets/index.js', 'script', true)).toBe(true);
    expect(requestAllowed('data:image/png;base64,AAAA', 'image', true)).toBe(true);
    expect(requestAllowed('data:text/html,<script>1</script>', 'subFrame', true)).toBe(false);
    expect(requestAllowed('devtools://devtools/bundled/inspector.html', 'mainFrame', false)).toBe(true);
    expect(requestAllowed('devtools://devtools/bundled/inspector.html', 'mainFrame', true)).toBe(false);
    for (const u of ['file:///etc/passwd', 'file:///work/out/renderer/index.html', 'https://example.com/x.js', 'http://127.0.0.1:8417/', 'ws://127.0.0.1/ws', 'app://evil/x.js', 'blob:app://tapscope/1']) {
      expect(requestAllowed(u, 'script', false), u).toBe(false);
    }
  });

  it('the save dialog suggests a bare file name with an allowed extension', () => {
    const name = (s: unknown) => saveDialogDefaults(s).defaultPath;
    expect(saveDialogDefaults('tapscope-sample.pcapng')).toEqual({ defaultPath: 'tapscope-sample.pcapng', filters: [{ name: 'pcapng', extensions: ['pcapng'] }] });
    expect(saveDialogDefaults('conn-12.pcap')).toEqual({ defaultPath: 'conn-12.pcap', filters: [{ name: 'pcap', extensions: ['pcap'] }] });
    expect(saveDialogDefaults('exchanges.HAR')).toEqual({ defaultPath: 'exchanges.har', filters: [{ name: 'HAR', extensions: ['har'] }] });
    expect(name('/home/user/.bashrc')).toBe('bashrc.pcapng');
    expect(name('../../../etc/cron.d/job.pcap')).toBe('job.pcap');
    expect(name('C:\\Users\\me\\Startup\\run.bat')).toBe('run.pcapng');
    expect(name('evil.exe')).toBe('evil.pcapng');
    expect(name('x.pcap.desktop')).toBe('x.pcap.pcapng');
    expect(name('a\u0000b\nc.pcap')).toBe('a_b_c.pcap');
    expect(name('...')).toBe('capture.pcapng');
    expect(name('')).toBe('capture.pcapng');
    expect(name(42)).toBe('capture.pcapng');
    expect(name(`${'x'.repeat(500)}.har`)).toHaveLength(120);
    for (const s of ['a/b', '..', 'con:stream', '%2e%2e%2fx', 'dir\\', '  .hidden.pcap  ']) {
      const n = name(s);
      expect(n, s).toMatch(/^[A-Za-z0-9 _()+-][A-Za-z0-9 ._()+-]*\.(pcap|pcapng|har)$/);
    }
  });
});

describe('IPC error envelope (preload)', () => {
  it('keeps the error code across the bridge, as the WebSocket transport does', () => {
    const env = errorEnvelope(new ApiError('no such file', 'not-found'));
    // Structured-clone safe: plain data only.
    expect(JSON.parse(JSON.stringify(env))).toEqual({ ok: false, error: { name: 'ApiError', message: 'no such file', code: 'not-found' } });
    let thrown: unknown;
    try {
      openEnvelope(JSON.parse(JSON.stringify(env)));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect(thrown).toMatchObject({ name: 'ApiError', message: 'no such file', code: 'not-found' });
  });

  it('plain errors get code "error"; results pass through; a malformed answer is an ApiError', () => {
    expect(errorEnvelope(new Error('boom'))).toEqual({ ok: false, error: { name: 'Error', message: 'boom', code: 'error' } });
    expect(errorEnvelope('text')).toEqual({ ok: false, error: { name: 'Error', message: 'text', code: 'error' } });
    expect(openEnvelope(resultEnvelope({ a: 1 }))).toEqual({ a: 1 });
    expect(openEnvelope(resultEnvelope(undefined))).toBeNull();
    for (const bad of [null, undefined, 42, {}, { ok: false }, { ok: false, error: {} }]) {
      expect(() => openEnvelope(bad)).toThrow(expect.objectContaining({ code: 'malformed' }));
    }
  });
});
