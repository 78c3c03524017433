import { APP_ORIGIN, APP_URL } from './app-protocol.js';

/*
 * What the app window may do, as plain functions (tested without Electron; security.ts and
 * ipc-transport.ts apply them):
 *   - navigate only within its own page (Electron security checklist 13);
 *   - open no window at all: the UI has no external links (checklist 14);
 *   - load only its own app:// files, inline images (data:) and, unpackaged, devtools://;
 *     nothing from file:// or the network (checklists 1, 18);
 *   - save under a bare file name with an allowed extension (the dialog's default).
 */
export function isAppUrl(url: string, appUrl: string = APP_URL): boolean {
  return url === appUrl || url.startsWith(appUrl + '#') || url.startsWith(appUrl + '?');
}

/** setWindowOpenHandler's answer for every request. */
export function windowOpenDecision(_details?: { url: string }): { action: 'deny' } {
  return { action: 'deny' };
}

/** Whether the session lets a request through (webRequest.onBeforeRequest). */
export function requestAllowed(url: string, resourceType: string, packaged: boolean): boolean {
  if (url.startsWith(`${APP_ORIGIN}/`)) return true;
  if (url.startsWith('data:')) return resourceType === 'image';
  if (url.startsWith('devtools://')) return !packaged;
  return false;
}

export const SAVE_EXTENSIONS = ['pcap', 'pcapng', 'har'] as const;
export type SaveExtension = (typeof SAVE_EXTENSIONS)[number];

/**
 * The save dialog's default name: the last path component of what the page asked for, only
 * [A-Za-z0-9 ._()+-] (others become '_'), no leading dot, at most 120 characters, ending in
 * an allowed extension (else '.pcapng' replaces it). The page cannot point the dialog at a
 * folder or suggest an executable.
 */
export function saveDialogDefaults(requested: unknown): { defaultPath: string; filters: { name: string; extensions: string[] }[] } {
  const text = typeof requested === 'string' ? requested : '';
  const last = text.split(/[\\/]/).pop() ?? '';
  let name = last.replace(/[^A-Za-z0-9 ._()+-]/g, '_').replace(/^[.\s]+/, '').trim();
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  let stem = dot > 0 ? name.slice(0, dot) : name;
  const allowed: SaveExtension = (SAVE_EXTENSIONS as readonly string[]).includes(ext) ? (ext as SaveExtension) : 'pcapng';
  stem = stem.replace(/[.\s]+$/, '').slice(0, 120 - allowed.length - 1) || 'capture';
  name = `${stem}.${allowed}`;
  const filters = allowed === 'har' ? [{ name: 'HAR', extensions: ['har'] }] : [{ name: allowed, extensions: [allowed] }];
  return { defaultPath: name, filters };
}
