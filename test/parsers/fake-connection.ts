import type { Connection } from '../../main/analysis/types.js';

/** A TCP connection record for parser tests (the fields the application analysers read). */
export function fakeConnection(id: number, client: { ip: string; port: number }, server: { ip: string; port: number }): Connection {
  return {
    id, transport: 'tcp', key: `test-${id}`, client, server, tunnel: [], clientIsLow: client.ip < server.ip,
    firstTs: 0, lastTs: 0, packets: 0, bytes: 0, packetsToServer: 0, packetsToClient: 0, bytesToServer: 0, bytesToClient: 0, payloadBytes: 0, tcp: null,
  } as Connection;
}
