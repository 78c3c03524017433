// A bounded burst of VXLAN datagrams on loopback for the receiver tests, sent by a child
// process (udp-receiver-drops.test.ts, udp-receiver-cli.test.ts).
import { spawn, spawnSync } from 'node:child_process';

// A child process sends the burst (so the test can stall this process's event loop with
// spawnSync while it runs): VXLAN VNI 42, inner Ethernet/IPv4/UDP whose payload starts with
// the sequence number; every BAD-th datagram has the VXLAN I flag clear, every BIG-th is
// BIGSIZE bytes long.
const SENDER = `
const dgram = require('node:dgram');
const [port, count, size, bad, big, bigSize] = process.argv.slice(1).map(Number);
const s = dgram.createSocket('udp4');
function datagram(seq) {
  const n = big && seq % big === big - 1 ? bigSize : size;
  const b = Buffer.alloc(n);
  b[0] = bad && seq % bad === bad - 1 ? 0 : 0x08;
  b.writeUIntBE(42, 4, 3);
  b.writeUInt16BE(0x0800, 8 + 12);
  const ip = 8 + 14;
  b[ip] = 0x45; b.writeUInt16BE(n - ip, ip + 2); b[ip + 8] = 64; b[ip + 9] = 17;
  b.set([10, 1, (seq >> 8) & 255, seq & 255], ip + 12); b.set([10, 2, 0, 1], ip + 16);
  b.writeUInt16BE(40000 + (seq % 1000), ip + 20); b.writeUInt16BE(47000, ip + 22); b.writeUInt16BE(n - ip - 20, ip + 24);
  b.writeUInt32BE(seq, ip + 28);
  return b;
}
let seq = 0, inFlight = 0;
function pump() {
  while (inFlight < 32 && seq < count) {
    inFlight++;
    s.send(datagram(seq++), port, '127.0.0.1', () => { inFlight--; if (seq < count) pump(); else if (inFlight === 0) s.close(); });
  }
}
pump();`;

export interface Burst { count: number; size?: number; bad?: number; big?: number; bigSize?: number }
const senderArgs = (port: number, b: Burst) => ['-e', SENDER, String(port), String(b.count), String(b.size ?? 64), String(b.bad ?? 0), String(b.big ?? 0), String(b.bigSize ?? 0)];

export function sendAsync(port: number, b: Burst): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, senderArgs(port, b), { stdio: 'inherit' });
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sender exited ${code}`))));
  });
}

/** Sends while this process's event loop is blocked (nothing here reads until it is done). */
export function sendBlocking(port: number, b: Burst): void {
  const r = spawnSync(process.execPath, senderArgs(port, b), { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`sender exited ${r.status}`);
}

