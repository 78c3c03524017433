import type { CaptureStats, Progress, SessionInfo, SessionSummary, ViewFilter, FindingRow } from '../../../preload/api';
import type { Client } from '../api/client';
import { keyLogRequest } from './keylog.svelte';
import { alertsRequest } from './alerts.svelte';

export type Tab = 'overview' | 'connections' | 'http' | 'dns' | 'tls' | 'packets';
export const TABS: { id: Tab; label: string; key: string }[] = [
  { id: 'overview', label: 'Overview', key: '1' },
  { id: 'connections', label: 'Connections', key: '2' },
  { id: 'http', label: 'HTTP', key: '3' },
  { id: 'dns', label: 'DNS', key: '4' },
  { id: 'tls', label: 'TLS', key: '5' },
  { id: 'packets', label: 'Packets', key: '6' },
];

interface FilterState {
  timeFrom: number | null;
  timeTo: number | null;
  tunnel: string | null;
  connectionIds: number[] | null;
  /** What the evidence filter came from (a finding's summary). */
  evidenceLabel: string | null;
  /** The applied display filter (Wireshark syntax; checked before it is applied), or null. */
  display: string | null;
}

/** The workbench's state: one session at a time, the view filter every view applies. */
export const app = $state({
  api: null as Client | null,
  connected: false,
  session: null as SessionInfo | null,
  summary: null as SessionSummary | null,
  progress: null as Progress | null,
  tab: 'overview' as Tab,
  filter: { timeFrom: null, timeTo: null, tunnel: null, connectionIds: null, evidenceLabel: null, display: null } as FilterState,
  detailId: null as number | null,
  error: null as string | null,
  notice: null as string | null,
  /** Bumped when session data changes (progress batches, finish): views refetch. */
  dataVersion: 0,
  showHelp: false,
  /** Counters of the running (or last) live capture. */
  capture: null as CaptureStats | null,
  /** The live session's packets were saved in full since it opened (closing loses nothing). */
  liveSaved: false,
});

/** The filter as a plain object (a $state proxy cannot cross Electron IPC). */
export function viewFilter(): ViewFilter {
  const f = app.filter;
  return { timeFrom: f.timeFrom, timeTo: f.timeTo, tunnel: f.tunnel, connectionIds: f.connectionIds ? [...f.connectionIds] : null };
}

export function filterActive(): boolean {
  const f = app.filter;
  return f.timeFrom !== null || f.timeTo !== null || f.tunnel !== null || f.connectionIds !== null || f.display !== null;
}

/** The display filter to send with packet queries, I/O graph and Save (null when none). */
export function displayFilter(): string | null {
  return app.filter.display;
}

export function clearFilters(): void {
  app.filter = { timeFrom: null, timeTo: null, tunnel: null, connectionIds: null, evidenceLabel: null, display: null };
}

export function setTimeRange(from: number | null, to: number | null): void {
  app.filter.timeFrom = from;
  app.filter.timeTo = to;
}

export function setTunnel(key: string | null): void {
  app.filter.tunnel = key;
}

export function followFinding(f: FindingRow): void {
  app.filter.connectionIds = [...f.connectionIds];
  app.filter.evidenceLabel = f.summary;
  app.tab = 'connections';
}

function fail(e: unknown): void {
  app.error = e instanceof Error ? e.message : String(e);
}

export async function refreshSummary(): Promise<void> {
  if (!app.api || !app.session) return;
  try {
    const s = await app.api.summary(app.session.sessionId);
    if (!app.session || s.sessionId !== app.session.sessionId) return;
    app.summary = s;
    // Progress events sent before this window listened (files opened by `serve FILE`).
    if (app.session.state !== s.state || !app.progress) {
      app.session.state = s.state;
      app.progress = s.progress;
      app.dataVersion++;
    }
  } catch (e) {
    fail(e);
  }
}

export async function adoptSession(info: SessionInfo): Promise<void> {
  if (app.session && app.session.sessionId !== info.sessionId && app.api) {
    void app.api.closeSession(app.session.sessionId).catch(() => {});
  }
  app.session = info;
  app.liveSaved = false;
  app.summary = null;
  app.progress = null;
  app.detailId = null;
  app.error = null;
  clearFilters();
  app.tab = 'overview';
  await refreshSummary();
  app.dataVersion++;
}

export async function openPath(path: string): Promise<void> {
  if (!app.api || !path.trim()) return;
  try {
    await adoptSession(await app.api.openFile({ path: path.trim(), ...keyLogRequest(), ...alertsRequest() }));
  } catch (e) {
    fail(e);
  }
}

/** A file dropped on the window: uploaded (browser mode) or opened by its path (Electron). */
export async function openDroppedFile(file: File, onProgress?: (fraction: number) => void): Promise<void> {
  if (!app.api) return;
  if (!/\.(pcapng|pcap|cap)$/i.test(file.name)) {
    app.error = `${file.name} does not look like a capture (.pcap or .pcapng)`;
    return;
  }
  try {
    await openPath(await app.api.pathForDroppedFile(file, onProgress));
  } catch (err) {
    fail(err);
  }
}

export async function openSample(): Promise<void> {
  if (!app.api) return;
  try {
    await adoptSession(await app.api.openSample());
  } catch (e) {
    fail(e);
  }
}

export async function cancelOpen(): Promise<void> {
  if (app.api && app.session) await app.api.cancelOpen(app.session.sessionId).catch(fail);
}

export async function stopCapture(): Promise<void> {
  if (app.api && app.session?.live) await app.api.stopCapture(app.session.sessionId).catch(fail);
}

export function onCapture(s: CaptureStats): void {
  if (app.session && s.sessionId === app.session.sessionId) app.capture = s;
}

export function closeFile(): void {
  if (app.api && app.session) void app.api.closeSession(app.session.sessionId).catch(() => {});
  app.session = null;
  app.summary = null;
  app.progress = null;
  app.detailId = null;
  clearFilters();
}

export function onProgress(p: Progress): void {
  if (!app.session || p.sessionId !== app.session.sessionId) return;
  app.progress = p;
  app.session.state = p.state;
  // While reading or capturing, views and the summary follow at most once a second
  // (each refresh re-queries tables that may hold 100,000 rows).
  const now = Date.now();
  if (p.state !== 'opening' || now - lastRefresh > 1000) {
    lastRefresh = now;
    app.dataVersion++;
    void refreshSummary();
  }
}
let lastRefresh = 0;

function download(url: string, name: string): void {
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/** Save the capture (or one connection, or the filtered view) as pcap/pcapng. */
export async function saveCapture(format: 'pcap' | 'pcapng', connectionId: number | null = null): Promise<void> {
  const api = app.api;
  if (!api || !app.session) return;
  try {
    const stem = app.session.name.replace(/\.(pcapng|pcap|cap)$/i, '');
    const path = await api.chooseSavePath(`${stem}${connectionId !== null ? `-conn${connectionId}` : ''}.${format}`);
    if (api.transport === 'electron' && path === null) return;
    const r = await api.saveCapture({ sessionId: app.session.sessionId, format, connectionId, filter: connectionId === null ? viewFilter() : undefined, displayFilter: displayFilter(), path });
    if (r.downloadId) download(api.downloadUrl(r.downloadId)!, r.fileName);
    if (connectionId === null && !filterActive() && app.session.state !== 'opening') app.liveSaved = true;
    app.notice = `Saved ${r.packets} packet(s) to ${r.fileName}`;
  } catch (e) {
    fail(e);
  }
}

export async function exportHar(): Promise<void> {
  const api = app.api;
  if (!api || !app.session) return;
  try {
    const stem = app.session.name.replace(/\.(pcapng|pcap|cap)$/i, '');
    const path = await api.chooseSavePath(`${stem}.har`);
    if (api.transport === 'electron' && path === null) return;
    const r = await api.exportHar({ sessionId: app.session.sessionId, filter: viewFilter(), path });
    if (r.downloadId) download(api.downloadUrl(r.downloadId)!, r.fileName);
    app.notice = `Exported ${r.packets} HTTP exchange(s) to ${r.fileName}`;
  } catch (e) {
    fail(e);
  }
}

export { fail };
