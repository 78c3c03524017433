import { adoptSession, app, fail } from './state.svelte';
import { sideFileState, type SideFile } from './side-file.svelte';

/*
 * The key log (NSS SSLKEYLOGFILE) the next file is opened with, and whether a live capture
 * follows it as it grows (the engine re-reads it at every flush: docs/tls-decryption.md).
 */
export const keyLog: SideFile & { follow: boolean } = $state({ ...sideFileState(), follow: false });

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
