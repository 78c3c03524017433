import { app, fail } from './state.svelte';

/*
 * The Suricata eve.json whose alerts the next file, capture or feed is joined with
 * (docs/flows.md "IDS alerts"; a live capture follows it as Suricata appends). A path on the
 * machine running the engine: typed, or uploaded from the browser (browser mode).
 */
export const eveFile = $state({
  path: null as string | null,
  /** What to show: the chosen file's name (an upload's server path means nothing to the user). */
  name: null as string | null,
  uploading: false,
});

export function setEvePath(path: string | null, name: string | null = path): void {
  eveFile.path = path && path.trim() ? path.trim() : null;
  eveFile.name = eveFile.path ? name : null;
}

/** An eve.json picked with a file input: uploaded in browser mode, its own path in Electron. */
export async function chooseEveFile(file: File): Promise<void> {
  if (!app.api) return;
  eveFile.uploading = true;
  try {
    setEvePath(await app.api.pathForDroppedFile(file), file.name);
  } catch (e) {
    fail(e);
  } finally {
    eveFile.uploading = false;
  }
}

/** The alertsPath of an open/capture/listen request (none chosen: no alerts). */
export function alertsRequest(): { alertsPath?: string } {
  return eveFile.path ? { alertsPath: eveFile.path } : {};
}
