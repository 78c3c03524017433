import { app, session, shell, type WebContents } from 'electron';

/*
 * One place that locks every web contents down (Electron security checklist): no
 * navigation away from the app's own page, no new windows, no webviews, no permissions.
 * Links to http(s) pages open in the user's browser instead.
 */
export function isAppUrl(url: string, appUrl: string): boolean {
  return url === appUrl || url.startsWith(appUrl + '#') || url.startsWith(appUrl + '?');
}

export function secureAllWebContents(appUrl: () => string): void {
  app.on('web-contents-created', (_e, contents: WebContents) => {
    contents.on('will-navigate', (ev, url) => {
      if (!isAppUrl(url, appUrl())) ev.preventDefault();
    });
    contents.on('will-redirect', (ev, url) => {
      if (!isAppUrl(url, appUrl())) ev.preventDefault();
    });
    contents.on('will-attach-webview', (ev) => ev.preventDefault());
    contents.setWindowOpenHandler(({ url }) => {
      if (/^https?:\/\//.test(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
  });
  app.whenReady().then(() => {
    session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
    session.defaultSession.setPermissionCheckHandler(() => false);
    // No remote content: only the app's own files load.
    session.defaultSession.webRequest.onBeforeRequest((details, cb) => {
      const ok = details.url.startsWith('file://') || details.url.startsWith('devtools://') || details.url.startsWith('data:');
      cb({ cancel: !ok });
    });
  }, () => {});
}
