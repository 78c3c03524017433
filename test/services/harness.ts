import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { EventName, Progress, SessionInfo, TapscopeApi, TapscopeEvents } from '../../preload/api';
import { TapscopeService, defaultWorker } from '../../main/services/service';
import { validatedApi } from '../../main/services/validate';
import { startServer, type RunningServer } from '../../main/cli/serve';
import { createWsClient, type SocketLike } from '../../renderer/src/api/ws-client';
import { REPO_ROOT } from '../helpers/captures';

/** An API as the tests drive it: the contract plus event subscription. */
export interface Driven extends TapscopeApi {
  on<E extends EventName>(event: E, cb: (d: TapscopeEvents[E]) => void): () => void;
}

export interface Transport {
  name: string;
  api: Driven;
  service: TapscopeService;
  close(): Promise<void>;
}

export const TOKEN = 'vitest-token-0123456789abcdef';
export const SAMPLE = join(REPO_ROOT, 'resources', 'sample', 'tapscope-sample.pcapng');

export async function makeService(opts: { inProcess?: boolean; batchMs?: number; holdForCancel?: { file: string; ms: number } } = {}): Promise<TapscopeService> {
  const dir = mkdtempSync(join(tmpdir(), 'tapscope-svc-'));
  const worker = opts.inProcess ? { workerFile: null } : await defaultWorker(join(REPO_ROOT, 'main', 'services'));
  return new TapscopeService({
    ...worker, stateDir: join(dir, 'state'), exportDir: join(dir, 'exports'), samplePath: SAMPLE, version: 'test',
    transport: 'test', allowAnyWritePath: true, batchMs: opts.batchMs, holdForCancel: opts.holdForCancel ?? null,
  });
}

export async function inProcess(opts: { batchMs?: number } = {}): Promise<Transport> {
  const service = await makeService(opts);
  return { name: 'in-process', api: validatedApi(service), service, close: () => service.dispose() };
}

export async function overWebSocket(opts: { batchMs?: number } = {}): Promise<Transport & { server: RunningServer }> {
  const service = await makeService(opts);
  const server = await startServer({ port: 0, host: '127.0.0.1', token: TOKEN, files: [], decodeAs: [], rendererDir: join(REPO_ROOT, 'renderer'), service });
  const origin = `http://127.0.0.1:${server.port}`;
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${TOKEN}`, { origin });
  const client = await createWsClient(ws as unknown as SocketLike, origin);
  return {
    name: 'websocket', api: client as unknown as Driven, service, server,
    close: async () => {
      client.close();
      await server.close();
    },
  };
}

/** Opens a file and resolves with the final progress (ready, damaged, cancelled or failed). */
export async function openAndWait(api: Driven, path: string, decodeAs: string[] = []): Promise<{ info: SessionInfo; final: Progress; events: Progress[] }> {
  const events: Progress[] = [];
  let info: SessionInfo | null = null;
  let resolveDone!: (p: Progress) => void;
  const done = new Promise<Progress>((r) => (resolveDone = r));
  const off = api.on('progress', (p) => {
    events.push(p);
    if (info && p.sessionId === info.sessionId && p.state !== 'opening') resolveDone(p);
  });
  info = await api.openFile({ path, decodeAs });
  // The file may have finished before we knew its id.
  const early = events.find((p) => p.sessionId === info!.sessionId && p.state !== 'opening');
  if (early) resolveDone(early);
  const s = await api.summary(info.sessionId);
  if (s.state !== 'opening') resolveDone(s.progress);
  const final = await done;
  off();
  return { info, final, events: events.filter((p) => p.sessionId === info!.sessionId) };
}
