import type { TapscopeApi, TapscopeClient, EventName, TapscopeEvents } from '../../../preload/api';
import { createWsClient, type SocketLike, type WsClient } from './ws-client';

/** What preload/index.ts exposes in Electron. */
interface ElectronBridge extends TapscopeApi {
  on<E extends EventName>(event: E, cb: (data: TapscopeEvents[E]) => void): () => void;
  pathForFile(file: File): string;
  transport: 'electron';
}

declare global {
  interface Window {
    tapscope?: ElectronBridge;
  }
}

export interface Client extends TapscopeClient {
  /** Browser mode: upload a dropped file and return the server-side path; Electron: the file's path. */
  pathForDroppedFile(file: File, onProgress?: (fraction: number) => void): Promise<string>;
  onDisconnect(cb: () => void): void;
}

/**
 * The access token of browser mode, from the page URL tapscope serve printed. It is moved
 * out of the address bar (history, screenshots, shoulder-surfing) into this tab's session
 * storage, which is scoped to the origin and so to the port; a reload finds it there.
 */
export function pageToken(): string {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get('token');
  if (fromUrl) {
    try {
      sessionStorage.setItem('tapscope-token', fromUrl);
    } catch { /* storage disabled: the cookie still authenticates the page */ }
    params.delete('token');
    const rest = params.toString();
    history.replaceState(history.state, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
    return fromUrl;
  }
  try {
    return sessionStorage.getItem('tapscope-token') ?? '';
  } catch {
    return '';
  }
}

export async function connect(): Promise<Client> {
  const bridge = window.tapscope;
  if (bridge) {
    const c = Object.create(bridge) as Client;
    return Object.assign(c, {
      transport: 'electron',
      downloadUrl: () => null,
      pathForDroppedFile: async (file: File) => bridge.pathForFile(file),
      onDisconnect: () => {},
    });
  }
  const token = pageToken();
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?token=${encodeURIComponent(token)}`);
  const client: WsClient = await createWsClient(ws as unknown as SocketLike, location.origin);
  return Object.assign(client, {
    pathForDroppedFile: (file: File, onProgress?: (f: number) => void) =>
      new Promise<string>((resolve, reject) => {
        // XMLHttpRequest for upload progress (fetch has none).
        const xhr = new XMLHttpRequest();
        xhr.open('POST', `/upload?name=${encodeURIComponent(file.name)}`);
        xhr.setRequestHeader('X-Tapscope-Token', token);
        xhr.upload.onprogress = (e) => onProgress?.(e.lengthComputable ? e.loaded / e.total : 0);
        xhr.onload = () => (xhr.status === 200 ? resolve((JSON.parse(xhr.responseText) as { path: string }).path) : reject(new Error(xhr.responseText || `upload failed (${xhr.status})`)));
        xhr.onerror = () => reject(new Error('upload failed'));
        xhr.send(file);
      }),
  }) as Client;
}
