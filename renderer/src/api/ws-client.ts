import { API_METHODS, ApiError, type EventName, type TapscopeClient, type TapscopeEvents } from '../../../preload/api';

/*
 * The API contract over a WebSocket (browser mode; see main/cli/ws-transport.ts for the
 * wire format). Runs in the browser and, with the `ws` package's WebSocket, under Node
 * (the contract test), so it depends on nothing but this minimal socket shape.
 */

export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export interface WsClient extends TapscopeClient {
  close(): void;
  /** Called when the connection drops (server stopped). */
  onDisconnect(cb: () => void): void;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export function createWsClient(socket: SocketLike, downloadBase: string | null): Promise<WsClient> {
  let next = 1;
  const pending = new Map<number, Pending>();
  const listeners = new Map<string, Set<(d: unknown) => void>>();
  const disconnects: (() => void)[] = [];
  const queued: { event: string; data: unknown }[] = [];

  socket.onmessage = (ev) => {
    let m: { id?: number; result?: unknown; error?: { message: string; code?: string }; event?: string; data?: unknown };
    try {
      m = JSON.parse(String(ev.data));
    } catch {
      return;
    }
    if (typeof m.event === 'string') {
      const set = listeners.get(m.event);
      if (set && set.size) for (const cb of set) cb(m.data);
      else queued.push({ event: m.event, data: m.data });
      return;
    }
    const p = typeof m.id === 'number' ? pending.get(m.id) : undefined;
    if (!p) return;
    pending.delete(m.id!);
    if (m.error) p.reject(new ApiError(m.error.message, m.error.code));
    else p.resolve(m.result);
  };
  socket.onclose = () => {
    for (const p of pending.values()) p.reject(new ApiError('the connection to Tapscope was closed', 'disconnected'));
    pending.clear();
    disconnects.forEach((cb) => cb());
  };

  const call = (method: string, args: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (socket.readyState !== 1) {
        reject(new ApiError('not connected to Tapscope', 'disconnected'));
        return;
      }
      const id = next++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, args }));
    });

  const client: Record<string, unknown> = {};
  for (const m of API_METHODS) client[m] = (...args: unknown[]) => call(m, args);
  client.on = (event: EventName, cb: (d: unknown) => void) => {
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    set.add(cb);
    // Events that arrived before anyone listened (files opened by `serve FILE`).
    for (let i = 0; i < queued.length; i++) {
      if (queued[i].event === event) {
        cb(queued[i].data);
        queued.splice(i--, 1);
      }
    }
    return () => set!.delete(cb);
  };
  client.transport = 'browser';
  client.downloadUrl = (id: string) => (downloadBase === null ? null : `${downloadBase}/download/${encodeURIComponent(id)}`);
  client.close = () => socket.close();
  client.onDisconnect = (cb: () => void) => disconnects.push(cb);

  return new Promise((resolve, reject) => {
    const ready = (): void => resolve(client as unknown as WsClient);
    if (socket.readyState === 1) ready();
    else {
      socket.onopen = ready;
      socket.onerror = () => reject(new ApiError('cannot connect to Tapscope', 'disconnected'));
    }
  });
}

export type { TapscopeEvents };
