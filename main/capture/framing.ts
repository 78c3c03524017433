/*
 * Wire framing between the capture helper (stdout) and CaptureService: a byte stream of
 * messages, each
 *   u32 msgLen (header included) | u16 type | u16 0 | body          (little-endian)
 * PACKET bodies are written by the native addon straight from libpcap's buffer:
 *   u32 tsSec | u32 tsNsec | u32 caplen | u32 origLen | caplen bytes
 * STATS:  f64 received | f64 droppedByKernel | f64 droppedByInterface | f64 droppedByApp
 *         [| f64 truncated: the receive program's datagrams cut at its snap length]
 * READY, ERROR, END: one UTF-8 JSON object (rare control messages; never per packet).
 */
import type { PacketRecord } from '../pcap/record.js';

export const MSG_PACKET = 1;
export const MSG_STATS = 2;
export const MSG_READY = 3;
export const MSG_ERROR = 4;
export const MSG_END = 5;

export const MSG_HDR = 8;
export const PACKET_HDR = 16;
/** A message longer than this means the stream is corrupt (snaplen is at most 256 KiB). */
export const MAX_MSG = 1 << 20;

export interface HelperReady {
  device: string;
  linkType: number;
  snaplen: number;
  /** 'tapscope-capture' (the capture program), 'tapcap' (the JavaScript helper's libpcap addon) or
   * 'cap' (the npm package: delivery-time timestamps, no kernel stats). */
  backend: 'tapscope-capture' | 'tapcap' | 'cap';
  nanoTs: boolean;
  libpcap: string;
}

export interface HelperError {
  /** EPERM, ENODEV, EFILTER, EIFACE (interface went away), ENETDOWN, EPCAP, EINVAL. */
  code: string;
  message: string;
}

export interface HelperStats {
  received: number;
  droppedByKernel: number;
  droppedByInterface: number;
  droppedByApp: number;
  /** Only from the receive program (tapscope-receive.c). */
  truncated?: number;
}

export function encodeJsonMsg(type: number, obj: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(obj), 'utf8');
  const b = Buffer.allocUnsafe(MSG_HDR + body.length);
  b.writeUInt32LE(MSG_HDR + body.length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(0, 6);
  body.copy(b, MSG_HDR);
  return b;
}

export function encodeStats(s: HelperStats): Buffer {
  const b = Buffer.allocUnsafe(MSG_HDR + 32);
  b.writeUInt32LE(MSG_HDR + 32, 0);
  b.writeUInt16LE(MSG_STATS, 4);
  b.writeUInt16LE(0, 6);
  b.writeDoubleLE(s.received, 8);
  b.writeDoubleLE(s.droppedByKernel, 16);
  b.writeDoubleLE(s.droppedByInterface, 24);
  b.writeDoubleLE(s.droppedByApp, 32);
  return b;
}

/** Appends one PACKET message at `at` in `out`; returns the new end. The caller ensures room. */
export function writePacketMsg(out: Buffer, at: number, tsSec: number, tsNsec: number, data: Uint8Array, start: number, caplen: number, origLen: number): number {
  const len = MSG_HDR + PACKET_HDR + caplen;
  out.writeUInt32LE(len, at);
  out.writeUInt32LE(MSG_PACKET, at + 4);
  out.writeUInt32LE(tsSec >>> 0, at + 8);
  out.writeUInt32LE(tsNsec >>> 0, at + 12);
  out.writeUInt32LE(caplen, at + 16);
  out.writeUInt32LE(origLen, at + 20);
  out.set(data.subarray(start, start + caplen), at + MSG_HDR + PACKET_HDR);
  return at + len;
}

export interface FrameSink {
  packet(r: PacketRecord): void;
  stats(s: HelperStats): void;
  control(type: number, obj: unknown): void;
}

/**
 * Splits the helper's byte stream into messages. Packets are delivered as one reused
 * PacketRecord pointing into the received chunk (no copy unless a message straddles two
 * chunks).
 */
export class FrameParser {
  private rest: Buffer | null = null;
  private readonly rec: PacketRecord;
  /** Set when the stream is corrupt; parsing stops. */
  error: string | null = null;
  packets = 0;

  constructor(linkType = 1) {
    const data = new Uint8Array(0);
    this.rec = {
      index: 0, fileOffset: 0, data, view: new DataView(data.buffer), offset: 0, caplen: 0, origLen: 0,
      tsSec: 0, tsNsec: 0, ts: 0, linkType, interfaceId: 0, comment: null,
    };
  }

  set linkType(lt: number) {
    this.rec.linkType = lt;
  }

  push(chunk: Buffer, sink: FrameSink): void {
    if (this.error) return;
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const rec = this.rec;
    rec.data = buf;
    rec.view = view;
    let p = 0;
    const n = buf.length;
    while (n - p >= MSG_HDR) {
      const len = view.getUint32(p, true);
      const type = view.getUint16(p + 4, true);
      if (len < MSG_HDR || len > MAX_MSG) {
        this.error = `corrupt helper stream: message length ${len} at byte ${p}`;
        return;
      }
      if (n - p < len) break;
      if (type === MSG_PACKET) {
        const caplen = view.getUint32(p + 16, true);
        if (caplen !== len - MSG_HDR - PACKET_HDR) {
          this.error = `corrupt helper stream: packet of ${caplen} bytes in a ${len}-byte message`;
          return;
        }
        rec.tsSec = view.getUint32(p + 8, true);
        rec.tsNsec = view.getUint32(p + 12, true);
        rec.ts = rec.tsSec + rec.tsNsec / 1e9;
        rec.caplen = caplen;
        rec.origLen = view.getUint32(p + 20, true);
        rec.offset = p + MSG_HDR + PACKET_HDR;
        rec.index = this.packets++;
        sink.packet(rec);
      } else if (type === MSG_STATS) {
        sink.stats({
          received: view.getFloat64(p + 8, true),
          droppedByKernel: view.getFloat64(p + 16, true),
          droppedByInterface: view.getFloat64(p + 24, true),
          droppedByApp: view.getFloat64(p + 32, true),
          ...(len >= MSG_HDR + 40 ? { truncated: view.getFloat64(p + 40, true) } : {}),
        });
      } else {
        let obj: unknown = null;
        try {
          obj = JSON.parse(buf.toString('utf8', p + MSG_HDR, p + len));
        } catch {
          obj = null;
        }
        sink.control(type, obj);
      }
      p += len;
    }
    if (p < n) this.rest = Buffer.from(buf.subarray(p));
  }
}
