import { app, protocol, session, type WebContents } from 'electron';
import { readFile } from 'node:fs/promises';
import { APP_SCHEME, appResponseHeaders, resolveAppRequest } from './app-protocol.js';
import { isAppUrl, requestAllowed, windowOpenDecision } from './policy.js';

/*
 * One place that locks every web contents down (Electron security checklist; the decisions
 * are the plain functions of policy.ts and app-protocol.ts): the page comes from
 * app://tapscope/ confined to out/renderer, no navigation away from it, no new windows, no
 * webviews, no permissions, no request to anything but the app's own files.
 */
export { isAppUrl } from './policy.js';

/** Before app 'ready': app:// is a standard, secure scheme (an origin of its own, fetch, CSP 'self'). */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true } }]);
}

export function secureAllWebContents(appUrl: () => string, rendererDir: string, csp: string): void {
  app.on('web-contents-created', (_e, contents: WebContents) => {
    contents.on('will-navigate', (ev, url) => {
      if (!isAppUrl(url, appUrl())) ev.preventDefault();
    });
    contents.on('will-redirect', (ev, url) => {
      if (!isAppUrl(url, appUrl())) ev.preventDefault();
    });
    contents.on('will-attach-webview', (ev) => ev.preventDefault());
    contents.setWindowOpenHandler(windowOpenDecision);
  });
  app.whenReady().then(() => {
    protocol.handle(APP_SCHEME, async (req) => {
      const r = resolveAppRequest(req.url, rendererDir);
      if (!r.ok) return new Response(r.reason, { status: r.status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
      try {
        return new Response(await readFile(r.path), { status: 200, headers: appResponseHeaders(r, csp) });
      } catch {
        return new Response('not found', { status: 404 });
      }
    });
    session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
    session.defaultSession.setPermissionCheckHandler(() => false);
    // No remote content and no file:// : only the app's own files load.
    session.defaultSession.webRequest.onBeforeRequest((details, cb) => {
      cb({ cancel: !requestAllowed(details.url, details.resourceType, app.isPackaged) });
    });
  }, () => {});
}
