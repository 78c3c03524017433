import { ApiError } from './api.js';

/*
 * The answer of an API call over Electron IPC: { ok: true, result } | { ok: false, error }.
 * Errors keep name, message and code, as the WebSocket transport's { error: { name, message,
 * code } } does, so the renderer sees the same ApiError (with .code) under both transports.
 * errorEnvelope runs in the main process (ipc-transport.ts), openEnvelope in the preload.
 */
export type Envelope =
  | { ok: true; result: unknown }
  | { ok: false; error: { name: string; message: string; code: string } };

export function resultEnvelope(result: unknown): Envelope {
  return { ok: true, result: result ?? null };
}

export function errorEnvelope(err: unknown): Envelope {
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = typeof e?.code === 'string' && e.code ? e.code : 'error';
  const name = typeof e?.name === 'string' && e.name ? e.name : 'Error';
  return { ok: false, error: { name, message, code } };
}

/** The result, or the error rethrown as an ApiError with its code. */
export function openEnvelope(r: unknown): unknown {
  const env = r as Envelope | null;
  if (env && env.ok === true) return env.result;
  if (env && env.ok === false && env.error && typeof env.error.message === 'string') {
    throw new ApiError(env.error.message, typeof env.error.code === 'string' ? env.error.code : 'error');
  }
  throw new ApiError('malformed answer from the main process', 'malformed');
}
