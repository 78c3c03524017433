import type { WebSocket } from 'ws';
import { API_EVENTS, type EventName } from '../../preload/api.js';
import type { TapscopeService } from '../services/service.js';
import { validateCall } from '../services/validate.js';

/*
 * The API contract over a WebSocket (browser mode). One JSON message per call and per
 * answer; events are pushed the same way:
 *   client -> server  { id, method, args: [...] }
 *   server -> client  { id, result } | { id, error: { name, message, code } }
 *   server -> client  { event, data }
 * Every call is validated (validate.ts) before the service sees it. Messages larger than
 * MAX_MESSAGE are refused by the ws server itself (maxPayload).
 */

export const MAX_MESSAGE = 4 * 1024 * 1024;

export interface WireCall {
  id: number;
  method: string;
  args: unknown[];
}

export function serveSocket(ws: WebSocket, service: TapscopeService, greet: EventName[] = [], greetData: unknown[] = []): void {
  const offs = API_EVENTS.map((e) => service.on(e, (data) => send({ event: e, data })));
  function send(m: unknown): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
  }
  greet.forEach((e, i) => send({ event: e, data: greetData[i] }));
  ws.on('message', (buf, isBinary) => {
    let call: WireCall;
    try {
      if (isBinary) throw new Error('binary messages are not accepted');
      call = JSON.parse(buf.toString()) as WireCall;
      if (!call || typeof call !== 'object' || typeof call.id !== 'number') throw new Error('malformed call');
    } catch (e) {
      send({ id: -1, error: { name: 'ApiError', message: (e as Error).message, code: 'malformed' } });
      return;
    }
    void (async () => {
      try {
        const { method, args } = validateCall(call.method, call.args);
        const fn = service[method] as (...a: unknown[]) => Promise<unknown>;
        const result = await fn.apply(service, args);
        send({ id: call.id, result: result ?? null });
      } catch (e) {
        const err = e as Error & { code?: string };
        send({ id: call.id, error: { name: err.name ?? 'Error', message: err.message ?? String(e), code: err.code ?? 'error' } });
      }
    })();
  });
  ws.on('close', () => offs.forEach((off) => off()));
}
