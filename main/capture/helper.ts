/*
 * The privileged capture helper (like Wireshark's dumpcap): the only Tapscope process that
 * opens an interface. CaptureService spawns it; it streams packets to its parent on stdout
 * in the binary framing of framing.ts, with STATS messages a few times a second, and stops
 * when stdin closes or says "stop", on SIGINT/SIGTERM, or when the interface fails.
 *
 *   capture-helper capture '{"device":"eth0","filter":"tcp","snaplen":262144,"promisc":true,"bufferSize":4194304}'
 *   capture-helper check-filter '{"filter":"tcp port 80","linkType":1}'   -> prints {"error":null|"..."}
 *
 * Backends: tapcap (our Node-API addon over libpcap: kernel timestamps, original lengths,
 * pcap_stats) when it was built, else the `cap` package (timestamps taken on delivery,
 * kernel drops unknown, always promiscuous).
 */
import { existsSync, fstatSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { isMainThread } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Started as a worker thread, this bundle runs a whole live capture instead (live-worker.ts).
import './live-worker.js';
import {
  encodeJsonMsg, encodeStats, writePacketMsg, MSG_END, MSG_ERROR, MSG_HDR, MSG_READY, PACKET_HDR,
  type HelperError, type HelperReady, type HelperStats,
} from './framing.js';

export interface HelperOptions {
  device: string;
  filter?: string;
  snaplen?: number;
  promisc?: boolean;
  bufferSize?: number;
  statsIntervalMs?: number;
}

interface Tapcap {
  open(device: string, filter: string, o: { snaplen: number; promisc: boolean; bufferSize: number }): [unknown, number, boolean, number];
  read(h: unknown, buf: Buffer, timeoutMs: number): number;
  stats(h: unknown): [number, number, number];
  close(h: unknown): void;
  checkFilter(linkType: number, snaplen: number, filter: string): string | null;
  version(): string;
}

const require = createRequire(import.meta.url);

/** Finds out/native/tapcap.node beside the bundle (out/cli) or from the sources (main/capture). */
export function loadTapcap(): Tapcap | null {
  if (process.env.TAPSCOPE_CAPTURE_BACKEND === 'cap') return null;
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, '..', 'native', 'tapcap.node'), join(here, '..', '..', 'out', 'native', 'tapcap.node')]) {
    if (!existsSync(p)) continue;
    try {
      return require(p) as Tapcap;
    } catch {
      return null;
    }
  }
  return null;
}

const DEFAULT_SNAPLEN = 262144;
/** Bytes queued towards the parent beyond which packets are dropped (and counted as app drops). */
const MAX_BACKLOG = 64 << 20;
const BATCH = 4 << 20;

/** libpcap / cap error text -> a stable code. */
export function classifyPcapError(msg: string): string {
  if (/permission|not permitted|EPERM|EACCES/i.test(msg)) return 'EPERM';
  if (/no such device|doesn't exist|not found|ENODEV|ENXIO/i.test(msg)) return 'ENODEV';
  if (/syntax error|parse filter|filter expression|unknown (host|port|protocol)|illegal|invalid/i.test(msg)) return 'EFILTER';
  if (/went down|disappeared|network is down/i.test(msg)) return 'EIFACE';
  return 'EPCAP';
}

const CAP_LINKTYPES: Record<string, number> = { NULL: 0, ETHERNET: 1, RAW: 101, LINKTYPE_LINUX_SLL: 113, IEEE802_11_RADIO: 127 };

function runCapture(o: HelperOptions): void {
  // A pipe gets an asynchronous socket, so a slow parent shows up as a backlog (and app
  // drops) instead of blocking the capture; a file or tty gets process.stdout.
  const st = fstatSync(1);
  const out: Writable = st.isFIFO() || st.isSocket() ? new Socket({ fd: 1, readable: false, writable: true }) : process.stdout;
  out.on('error', () => process.exit(0)); // parent gone
  const snaplen = Math.max(64, Math.min(o.snaplen || DEFAULT_SNAPLEN, DEFAULT_SNAPLEN));
  const stats: HelperStats = { received: 0, droppedByKernel: 0, droppedByInterface: 0, droppedByApp: 0 };
  let stopping = false;
  let finished = false;
  let readStats: () => void = () => {};
  let closeDevice: () => void = () => {};

  const send = (b: Buffer): void => {
    out.write(b);
  };
  const finish = (err: HelperError | null): void => {
    if (finished) return;
    finished = true;
    clearInterval(statsTimer);
    try {
      readStats();
    } catch {
      // device already gone: keep the last figures
    }
    try {
      closeDevice();
    } catch {
      // ignore
    }
    send(encodeStats(stats));
    if (err) send(encodeJsonMsg(MSG_ERROR, err));
    send(encodeJsonMsg(MSG_END, { reason: err ? 'error' : 'stopped' }));
    out.end(() => process.exit(err ? 2 : 0));
  };
  const fail = (e: unknown): void => {
    const err = e as Error & { code?: string };
    const message = err?.message ?? String(e);
    const code = err?.code && /^E[A-Z]+$/.test(err.code) ? err.code : classifyPcapError(message);
    finish({ code, message });
  };
  const stop = (): void => {
    stopping = true;
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdin.on('data', (d) => {
    if (String(d).includes('stop')) stop();
  });
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);

  // The interface can vanish (veth deleted, VM port removed); libpcap says so on the next
  // read with tapcap, but `cap` would spin silently, so also watch sysfs on Linux.
  const sysfs = process.platform === 'linux' && existsSync(`/sys/class/net/${o.device}`) ? `/sys/class/net/${o.device}` : null;
  let statsTimer: NodeJS.Timeout | undefined;
  const startStats = (): void => {
    statsTimer = setInterval(() => {
      if (sysfs && !existsSync(sysfs)) {
        fail({ code: 'EIFACE', message: `${o.device}: the interface disappeared during the capture` });
        return;
      }
      try {
        readStats();
      } catch {
        // reported by the next read
      }
      send(encodeStats(stats));
    }, o.statsIntervalMs ?? 250);
  };

  const tap = loadTapcap();
  if (tap) {
    let h: unknown;
    let linkType: number;
    let nanoTs: boolean;
    let snap: number;
    try {
      [h, linkType, nanoTs, snap] = tap.open(o.device, o.filter ?? '', { snaplen, promisc: o.promisc !== false, bufferSize: o.bufferSize ?? 4 << 20 });
    } catch (e) {
      fail(e);
      return;
    }
    readStats = () => {
      const [recv, drop, ifdrop] = tap.stats(h);
      stats.received = recv;
      stats.droppedByKernel = drop;
      stats.droppedByInterface = ifdrop;
    };
    closeDevice = () => tap.close(h);
    const ready: HelperReady = { device: o.device, linkType, snaplen: snap, backend: 'tapcap', nanoTs, libpcap: tap.version() };
    send(encodeJsonMsg(MSG_READY, ready));
    startStats();
    const buf = Buffer.allocUnsafe(Math.max(BATCH, 2 * (snap + MSG_HDR + PACKET_HDR)));
    // On stop, keep reading for a little longer than the block timeout: packets already in
    // the kernel's current block become readable once it retires, and belong to the capture.
    let drainUntil = 0;
    const pump = (): void => {
      if (finished) return;
      if (stopping && drainUntil === 0) drainUntil = Date.now() + 60;
      let n: number;
      try {
        n = tap.read(h, buf, stopping ? 10 : 50);
      } catch (e) {
        return fail(e);
      }
      if (stopping && n === 0 && Date.now() >= drainUntil) return finish(null);
      if (n > 0) {
        if (out.writableLength > MAX_BACKLOG) {
          for (let p = 0; p < n; p += buf.readUInt32LE(p)) stats.droppedByApp++;
        } else {
          send(Buffer.from(buf.subarray(0, n)));
        }
      }
      setImmediate(pump);
    };
    setImmediate(pump);
    return;
  }

  // Fallback: the `cap` package.
  let CapCtor: new () => { open(d: string, f: string, size: number, b: Buffer): string; close(): void; on(ev: 'packet', cb: (n: number, t: boolean) => void): void };
  try {
    CapCtor = (require('cap') as { Cap: typeof CapCtor }).Cap;
  } catch (e) {
    fail({ code: 'EPCAP', message: `no capture library: the tapcap addon was not built and the cap package failed to load (${(e as Error).message})` });
    return;
  }
  const c = new CapCtor();
  const pkt = Buffer.alloc(65535);
  let batch = Buffer.allocUnsafe(BATCH);
  let used = 0;
  let linkName: string;
  try {
    linkName = c.open(o.device, o.filter ?? '', o.bufferSize ?? 4 << 20, pkt);
  } catch (e) {
    fail(e);
    return;
  }
  closeDevice = () => c.close();
  const linkType = CAP_LINKTYPES[linkName] ?? 1;
  send(encodeJsonMsg(MSG_READY, { device: o.device, linkType, snaplen, backend: 'cap', nanoTs: false, libpcap: 'cap' } satisfies HelperReady));
  const flush = (): void => {
    if (used === 0) return;
    if (out.writableLength > MAX_BACKLOG) {
      for (let p = 0; p < used; p += batch.readUInt32LE(p)) stats.droppedByApp++;
    } else {
      send(batch.subarray(0, used));
      batch = Buffer.allocUnsafe(BATCH);
    }
    used = 0;
  };
  // cap gives no timestamp: take the delivery time (immediate mode keeps it close).
  const t0 = Date.now() * 1e6;
  const h0 = process.hrtime.bigint();
  c.on('packet', (nbytes: number) => {
    stats.received++;
    const ns = t0 + Number(process.hrtime.bigint() - h0);
    const caplen = Math.min(nbytes, snaplen);
    if (used + MSG_HDR + PACKET_HDR + caplen > batch.length) flush();
    used = writePacketMsg(batch, used, Math.floor(ns / 1e9), ns % 1e9, pkt, 0, caplen, nbytes);
  });
  startStats();
  const tick = setInterval(() => {
    flush();
    if (stopping) {
      clearInterval(tick);
      finish(null);
    }
  }, 20);
}

function main(argv: string[]): void {
  const [mode, json] = argv;
  let o: HelperOptions & { linkType?: number };
  try {
    o = JSON.parse(json ?? '{}');
  } catch {
    process.stderr.write('capture-helper: bad options\n');
    process.exit(64);
  }
  if (mode === 'check-filter') {
    const tap = loadTapcap();
    const error = tap ? tap.checkFilter(o.linkType ?? 1, o.snaplen ?? DEFAULT_SNAPLEN, o.filter ?? '') : null;
    process.stdout.write(JSON.stringify({ error, checked: !!tap }) + '\n');
    return;
  }
  if (mode === 'capture' && typeof o.device === 'string' && o.device) {
    runCapture(o);
    return;
  }
  process.stderr.write('usage: capture-helper capture|check-filter JSON\n');
  process.exit(64);
}

// (A worker thread sees the worker file as argv[1] too: only the process's main thread runs main.)
if (isMainThread && ((process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) || process.env.TAPSCOPE_CAPTURE_HELPER === '1')) {
  main(process.argv.slice(2));
}
