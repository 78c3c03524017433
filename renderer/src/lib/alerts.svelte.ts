import { sideFileState, type SideFile } from './side-file.svelte';

/*
 * The Suricata eve.json whose alerts the next file, capture or feed is joined with
 * (docs/flows.md "IDS alerts"; a live capture follows it as Suricata appends).
 */
export const eveFile: SideFile = $state(sideFileState());

/** The alertsPath of an open/capture/listen request (none chosen: no alerts). */
export function alertsRequest(): { alertsPath?: string } {
  return eveFile.path ? { alertsPath: eveFile.path } : {};
}
