/*
 * Live flow export from `tapscope capture` on an interface (root: the capture program on
 * loopback), the same engine code as `listen`: 300 UDP flows sent on lo (one datagram each,
 * distinct source ports) are exported as IPFIX on idle expiry while the capture runs, each
 * with its 5-tuple, one packet and its IP octets (20 + 8 + payload).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readIpfix } from '../../main/flows/ipfix.js';
import { ensureBuilt, skipReason } from '../capture/lab.js';

const skip = skipReason(['ip']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FLOWS = 300;
const PAYLOAD = 100;

describe.skipIf(skip !== null)('live flow export from tapscope capture', () => {
  beforeAll(ensureBuilt, 120_000); // the capture program (out/native/tapscope-capture)
  it(`${FLOWS} UDP flows on lo exported on idle expiry during the capture`, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tapscope-capture-export-'));
    const col = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    const got: Buffer[] = [];
    col.on('message', (m) => got.push(m));
    await new Promise<void>((r) => col.bind(0, '127.0.0.1', () => r()));
    const target = createSocket('udp4');
    await new Promise<void>((r) => target.bind(0, '127.0.0.1', () => r()));
    const dport = target.address().port;
    const proc = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'listen-cli.ts'), 'capture', '-i', 'lo', '-f', `udp and dst port ${dport}`,
      '-w', join(tmp, 'cap.pcapng'), '--ipfix', `127.0.0.1:${col.address().port}`, '--flow-idle', '1', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    proc.stderr.on('data', (d) => (err += d));
    proc.stdout.on('data', (d) => (out += d));
    const exit = new Promise<number>((r) => proc.once('exit', (c) => r(c ?? -1)));
    try {
      for (let i = 0; i < 150 && proc.exitCode === null && !err.includes('capturing on'); i++) await sleep(100);
      expect(err).toContain('capturing on lo');
      await sleep(500); // the capture program is reading
      // All sockets stay open until every flow is sent: distinct source ports, distinct flows.
      const ports: number[] = [];
      const senders = [];
      for (let i = 0; i < FLOWS; i++) {
        const s = createSocket('udp4');
        senders.push(s);
        await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
        ports.push(s.address().port);
        await new Promise<void>((res, rej) => s.send(Buffer.alloc(PAYLOAD, 0x61), dport, '127.0.0.1', (e) => (e ? rej(e) : res())));
      }
      for (const s of senders) s.close();
      expect(new Set(ports).size).toBe(FLOWS);
      // Idle timeout 1 s, then the exporter's next tick (250 ms): wait until all arrived (at most 10 s).
      let during: Record<string, number | string>[] = [];
      for (let i = 0; i < 100 && during.length < FLOWS; i++) {
        await sleep(100);
        during = readIpfix(Buffer.concat(got)).messages.flatMap((m) => m.records);
      }
      proc.kill('SIGTERM');
      expect(await exit, err).toBe(0);
      expect(during.length).toBe(FLOWS); // all exported before the capture stopped
      const byPort = new Map(during.map((r) => [r.sourceTransportPort as number, r]));
      for (const p of ports) {
        const r = byPort.get(p)!;
        expect(r, `flow from port ${p}`).toBeDefined();
        expect([r.sourceIPv4Address, r.destinationIPv4Address, r.destinationTransportPort, r.protocolIdentifier, r.packetDeltaCount, r.octetDeltaCount, r.flowEndReason])
          .toEqual(['127.0.0.1', '127.0.0.1', dport, 17, 1, 20 + 8 + PAYLOAD, 1]);
      }
      const json = JSON.parse(out);
      expect(json.capture.flows.ended.idle).toBe(FLOWS);
      expect(json.capture.flows.exporters[0].dropped).toBe(0);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      col.close();
      target.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
