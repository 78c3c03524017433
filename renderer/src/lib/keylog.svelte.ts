import { adoptSession, app, fail } from './state.svelte';

/*
 * The key log (NSS SSLKEYLOGFILE) the next file is opened with, and whether a live capture
 * follows it as it grows (the engine re-reads it at every flush: docs/tls-decryption.md).
 * A path on the machine running the engine: typed, chosen in the native dialog (Electron),
 * or uploaded from the browser (browser mode), like a dropped capture.
 */
export const keyLog = $state({
  path: null as string | null,
  /** What to show: the chosen file's name (an upload's server path means nothing to the user). */
  name: null as string | null,
  follow: false,
  uploading: false,
});

export function setKeyLogPath(path: string | null, name: string | null = path): void {
  keyLog.path = path && path.trim() ? path.trim() : null;
  keyLog.name = keyLog.path ? name : null;
}

/** A key log picked with a file input: uploaded in browser mode, its own path in Electron. */
export async function chooseKeyLogFile(file: File): Promise<void> {
  if (!app.api) return;
  keyLog.uploading = true;
  try {
    setKeyLogPath(await app.api.pathForDroppedFile(file), file.name);
  } catch (e) {
    fail(e);
  } finally {
    keyLog.uploading = false;
  }
}

/** openFile's keylogPath for the chosen key log (none chosen: keys in the capture's DSBs only). */
export function keyLogRequest(): { keylogPath?: string } {
  return keyLog.path ? { keylogPath: keyLog.path } : {};
}

/** A live capture's keylogPath: the chosen key log when following is on. */
export function liveKeyLogPath(): string | null {
  return keyLog.follow && keyLog.path ? keyLog.path : null;
}

/** Opens the current session's file again with the chosen key log (a key log is per session). */
export async function reopenWithKeyLog(): Promise<void> {
  const s = app.session;
  if (!app.api || !s || s.live || !keyLog.path) return;
  try {
    await adoptSession(await app.api.openFile({ path: s.path, ...keyLogRequest() }));
  } catch (e) {
    fail(e);
  }
}
