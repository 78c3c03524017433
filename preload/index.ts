import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { API_EVENTS, API_METHODS } from './api.js';
import { openEnvelope } from './envelope.js';

/*
 * The bridge: exactly the methods of API_METHODS, each one `ipcRenderer.invoke` on its
 * own channel, plus `on(event)` for API_EVENTS. The renderer gets no ipcRenderer, no
 * Node, no way to name a channel. (pathForFile resolves a dropped File to its path locally.)
 */
const api: Record<string, unknown> = {};
for (const m of API_METHODS) {
  api[m] = async (...args: unknown[]): Promise<unknown> => {
    // An ApiError with the code, as over the WebSocket (envelope.ts).
    return openEnvelope(await ipcRenderer.invoke(`tapscope:${m}`, ...args));
  };
}
api.on = (event: string, cb: (data: unknown) => void): (() => void) => {
  if (!(API_EVENTS as readonly string[]).includes(event)) throw new Error(`unknown event ${event}`);
  const h = (_e: unknown, name: string, data: unknown): void => {
    if (name === event) cb(data);
  };
  ipcRenderer.on('tapscope:event', h);
  return () => {
    ipcRenderer.removeListener('tapscope:event', h);
  };
};
api.pathForFile = (file: File): string => webUtils.getPathForFile(file);
api.transport = 'electron';

contextBridge.exposeInMainWorld('tapscope', api);
