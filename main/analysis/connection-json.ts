import type { Connection } from './types.js';

/** A connection as the CLI's JSON (README "connections") and the API present it. */
export function connectionJson(c: Connection): Record<string, unknown> {
  return {
    id: c.id,
    transport: c.transport,
    client: c.client,
    server: c.server,
    tunnel: c.tunnel,
    firstTs: c.firstTs,
    lastTs: c.lastTs,
    packets: c.packets,
    bytes: c.bytes,
    packetsToServer: c.packetsToServer,
    packetsToClient: c.packetsToClient,
    payloadBytes: c.payloadBytes,
  };
}
