// The API's live sources beyond interface capture: the cloud-TAP receiver as a session
// (real VXLAN datagrams on loopback, replayed from a corpus capture, compared with
// `tapscope analyze` of that capture) and the unfinished capture a killed collector leaves
// behind (offered, opened, discarded). Over the validated in-process API and the WebSocket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { WebSocket } from 'ws';
import type { ConnectionRow, SessionInfo } from '../../preload/api';
import { TapscopeService, defaultWorker } from '../../main/services/service';
import { validatedApi } from '../../main/services/validate';
import { startServer, type RunningServer } from '../../main/cli/serve';
import { createWsClient, type SocketLike } from '../../renderer/src/api/ws-client';
import { ensureBuilt } from '../capture/lab';
import { capture, tsharkFields, REPO_ROOT } from '../helpers/captures';
import { CLI_BIN, FEED_FILE, leaveUnfinishedCapture, replay, vxlanPayloads } from './live-feed';
import type { Driven } from './harness';
import { skipUnlessRequired } from '../helpers/privileged';

const hasTshark = !skipUnlessRequired('live sources through the API', spawnSync('tshark', ['-v']).status === 0 ? null : 'tshark is not installed');
const TOKEN = 'live-api-token-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'tsLiveApi-'));

type Obj = Record<string, any>;

function cliReport(file: string, decodeAs: string[] = []): Obj {
  const r = spawnSync(process.execPath, [CLI_BIN, 'analyze', file, '--json', ...decodeAs.flatMap((d) => ['--decode', d])], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(r.stdout) as Obj;
}

/** What a connection must show whatever the clock: endpoints, counts, state, retransmissions. */
function shape(c: Obj): Obj {
  return {
    transport: c.transport, client: `${c.client.ip}:${c.client.port}`, server: `${c.server.ip}:${c.server.port}`, packets: c.packets,
    state: c.state, retransmissions: c.retransmissions, resets: c.resets,
  };
}

async function makeService(spoolDir: string): Promise<TapscopeService> {
  const d = mkdtempSync(join(dir, 'svc-'));
  return new TapscopeService({
    ...(await defaultWorker(join(REPO_ROOT, 'main', 'services'))), stateDir: join(d, 'state'), exportDir: join(d, 'exports'), samplePath: null,
    version: 'test', transport: 'test', allowAnyWritePath: true, spoolDir,
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function allConnections(api: Driven, sessionId: string): Promise<ConnectionRow[]> {
  return (await api.connections({ sessionId, offset: 0, limit: 5000, sortKey: 'id', sortDir: 'asc' })).rows;
}

describe.skipIf(!hasTshark)('live sources through the API', () => {
  let payloads: Buffer[];
  let original: Obj;
  let server: RunningServer | null = null;
  const transports: { name: string; api: Driven; service: TapscopeService; spool: string }[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    payloads = vxlanPayloads();
    original = cliReport(capture(FEED_FILE));
    const inSpool = join(dir, 'spool-inproc');
    const inSvc = await makeService(inSpool);
    transports.push({ name: 'in-process', api: validatedApi(inSvc) as unknown as Driven, service: inSvc, spool: inSpool });
    const wsSpool = join(dir, 'spool-ws');
    const wsSvc = await makeService(wsSpool);
    server = await startServer({ port: 0, host: '127.0.0.1', token: TOKEN, files: [], decodeAs: [], rendererDir: join(REPO_ROOT, 'renderer'), service: wsSvc });
    const origin = `http://127.0.0.1:${server.port}`;
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${TOKEN}`, { origin });
    const client = await createWsClient(ws as unknown as SocketLike, origin);
    transports.push({ name: 'websocket', api: client as unknown as Driven, service: wsSvc, spool: wsSpool });
  }, 60_000);

  afterAll(async () => {
    for (const t of transports) await t.service.dispose();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the replayed feed is a corpus capture with TCP and HTTP in it', () => {
    expect(payloads.length).toBe(original.file.packets);
    expect(original.connections.length).toBeGreaterThan(0);
    expect(original.http.length).toBeGreaterThan(0);
  });

  for (const name of ['in-process', 'websocket']) {
    for (const save of ['received', 'inner'] as const) {
      it(`${name}: listen for a VXLAN feed (saving ${save}) shows the capture's connections, analysed off this thread`, async () => {
        const t = transports.find((x) => x.name === name)!;
        const stats: { packets: number; running: boolean }[] = [];
        let info: SessionInfo | null = null;
        const off = t.api.on('capture', (s) => {
          if (info && s.sessionId === info.sessionId) stats.push(s);
        });
        info = await t.api.startListen({ feeds: [{ encap: 'vxlan', port: 0 }], address: '127.0.0.1', save });
        expect(info.live).toBe(true);
        expect(info.feeds).toHaveLength(1);
        const port = info.feeds![0].port;
        expect(port).toBeGreaterThan(0);
        expect(info.name).toBe(`VXLAN udp/${port} (live)`);
        expect(info.path.startsWith(t.spool)).toBe(true);
        // The receiver runs in a worker thread: this thread's capture service runs nothing.
        const local = await (t.service as unknown as { capture(): Promise<{ running(): unknown[] }> }).capture();
        expect(local.running()).toEqual([]);

        await replay(payloads, port);
        await waitFor(() => stats.some((s) => s.packets >= payloads.length), 10_000, 'the packets in the capture counters');
        // While it runs, the growing session already shows the connection.
        await waitFor(async () => (await t.api.summary(info!.sessionId)).counts.connections === original.connections.length, 10_000, 'live connections');
        // ...and its HTTP exchanges and tap source, before the capture stops.
        const liveHttp = async (): Promise<string[]> => (await t.api.http({ sessionId: info!.sessionId, offset: 0, limit: 100 })).rows.map((h) => `${h.method} ${h.uri} ${h.status}`);
        const want = original.http.map((h: Obj) => `${h.method} ${h.uri} ${h.status}`);
        await waitFor(async () => JSON.stringify(await liveHttp()) === JSON.stringify(want), 10_000, 'live HTTP exchanges');
        expect((await t.api.tunnels(info.sessionId)).map((x) => [x.type, x.id])).toEqual(original.tunnels.map((x: Obj) => [x.type, x.id]));
        expect((await t.api.summary(info.sessionId)).state).not.toBe('ready');
        await t.api.stopCapture(info.sessionId);
        await t.service.whenDone(info.sessionId);
        await waitFor(() => stats.some((s) => !s.running), 5000, 'the final counters');
        off();
        const last = stats[stats.length - 1];
        expect(last).toMatchObject({ running: false, packets: payloads.length });

        const s = await t.api.summary(info.sessionId);
        expect(s.state).toBe('ready');
        expect(s.progress.packets).toBe(payloads.length);
        const rows = await allConnections(t.api, info.sessionId);
        expect(rows.map(shape)).toEqual(original.connections.map(shape));
        // The tunnel: VNI from the feed, the sender (this test) as outer source.
        expect(rows.map((r) => r.tunnel)).toEqual(original.connections.map((c: Obj) => c.tunnel));
        const tunnels = await t.api.tunnels(info.sessionId);
        expect(tunnels.map((x) => [x.type, x.id, x.outerSrc, x.packets])).toEqual(original.tunnels.map((x: Obj) => [x.type, x.id, '127.0.0.1', x.packets]));
        const http = (await t.api.http({ sessionId: info.sessionId, offset: 0, limit: 100 })).rows;
        expect(http.map((h) => [h.method, h.host, h.uri, h.status])).toEqual(original.http.map((h: Obj) => [h.method, h.host, h.uri, h.status]));

        // The spool, read by tshark: every datagram (received) or only the inner frames (inner).
        const decode = save === 'received' ? ['-d', `udp.port==${port},vxlan`] : [];
        const protos = tsharkFields(info.path, ['frame.protocols'], decode).map((r) => r[0]);
        expect(protos.length).toBe(payloads.length);
        expect(protos.every((p) => p.includes('vxlan') === (save === 'received'))).toBe(true);
        await t.api.closeSession(info.sessionId);
        // A capture stopped normally is not offered as unfinished.
        expect(await t.api.unfinishedCaptures()).toEqual([]);
      }, 40_000);
    }
  }

  it('listen: bad requests are refused before anything is bound', async () => {
    const { api } = transports[0];
    await expect(api.startListen({ feeds: [] })).rejects.toThrow(/feeds/);
    await expect(api.startListen({ feeds: [{ encap: 'gre' as 'vxlan', port: 4789 }] })).rejects.toThrow(/encap/);
    await expect(api.startListen({ feeds: [{ encap: 'vxlan', port: 70000 }] })).rejects.toThrow(/port/);
    await expect(api.startListen({ feeds: [{ encap: 'vxlan', port: 0 }], address: 'not-an-ip' })).rejects.toThrow(/address/);
    await expect(api.startListen({ feeds: [{ encap: 'vxlan', port: 0 }], save: 'all' as 'inner' })).rejects.toThrow(/save/);
    await expect(api.openUnfinished('../../etc/passwd')).rejects.toThrow(/invalid argument id/);
    await expect(api.discardUnfinished('nothing.tapscope.json')).rejects.toThrow(/no unfinished capture/);
  });

  it('listen: a port in use is a clear error', async () => {
    const { api } = transports[0];
    const first = await api.startListen({ feeds: [{ encap: 'vxlan', port: 0 }], address: '127.0.0.1' });
    try {
      await expect(api.startListen({ feeds: [{ encap: 'vxlan', port: first.feeds![0].port }], address: '127.0.0.1' })).rejects.toThrow(/already in use/);
    } finally {
      await api.stopCapture(first.sessionId);
      await api.closeSession(first.sessionId);
    }
  });

  for (const name of ['in-process', 'websocket']) {
    it(`${name}: an unfinished capture from a killed collector is offered, opened and discarded`, async () => {
      const t = transports.find((x) => x.name === name)!;
      const killed = await leaveUnfinishedCapture(t.spool, payloads);
      const inFile = tsharkFields(killed.file, ['frame.number']).length;
      expect(inFile).toBeGreaterThanOrEqual(killed.flushed);

      const list = await t.api.unfinishedCaptures();
      expect(list).toHaveLength(1);
      const u = list[0];
      expect(u.files).toEqual([killed.file]);
      expect(u.source).toBe('listen-vxlan0');
      expect(u.packets).toBe(inFile);
      expect(Math.abs(u.startedAt - Date.now() / 1000)).toBeLessThan(60);

      const info = await t.api.openUnfinished(u.id);
      expect(info.path).toBe(killed.file);
      await t.service.whenDone(info.sessionId);
      expect((await t.api.summary(info.sessionId)).progress.packets).toBe(inFile);
      // Inner frames only: the connections of the original capture, without the tunnel.
      expect((await allConnections(t.api, info.sessionId)).map(shape)).toEqual(original.connections.map(shape));
      await t.api.closeSession(info.sessionId);
      // Opened: no longer offered, and the file stays.
      expect(await t.api.unfinishedCaptures()).toEqual([]);
      expect(existsSync(killed.file)).toBe(true);

      // Another one, discarded: marker and files are gone.
      const again = await leaveUnfinishedCapture(t.spool, payloads);
      const [v] = await t.api.unfinishedCaptures();
      expect(v.files).toEqual([again.file]);
      await t.api.discardUnfinished(v.id);
      expect(await t.api.unfinishedCaptures()).toEqual([]);
      expect(existsSync(again.file)).toBe(false);
      expect(readdirSync(t.spool).filter((n) => n.endsWith('.tapscope.json'))).toEqual([]);
    }, 50_000);
  }
});
