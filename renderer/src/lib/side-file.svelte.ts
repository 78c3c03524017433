import { app, fail } from './state.svelte';

/*
 * A file beside the capture that the engine reads (a key log, a Suricata eve.json): a path on
 * the machine running the engine, typed, or uploaded from the browser (browser mode) or its
 * own path (Electron), like a dropped capture.
 */
export interface SideFile {
  path: string | null;
  /** What to show: the chosen file's name (an upload's server path means nothing to the user). */
  name: string | null;
  uploading: boolean;
}

export function sideFileState(): SideFile {
  return { path: null, name: null, uploading: false };
}

export function setSideFilePath(f: SideFile, path: string | null, name: string | null = path): void {
  f.path = path && path.trim() ? path.trim() : null;
  f.name = f.path ? name : null;
}

/** A file picked with a file input: uploaded in browser mode, its own path in Electron. */
export async function chooseSideFile(f: SideFile, file: File): Promise<void> {
  if (!app.api) return;
  f.uploading = true;
  try {
    setSideFilePath(f, await app.api.pathForDroppedFile(file), file.name);
  } catch (e) {
    fail(e);
  } finally {
    f.uploading = false;
  }
}
