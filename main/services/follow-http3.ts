import { parseDecodeAs } from '../decode/decoder.js';
import { readVarint, varintSize } from '../decode/quic.js';
import type { KeyLog } from '../decrypt/key-log.js';
import type { PacketIndex } from '../engine/packet-index.js';
import { AnalysisSession } from '../engine/session.js';
import { decodeQpackSection } from '../parsers/qpack.js';
import type { PacketRecord } from '../pcap/record.js';
import { QuicStreamReassembly, type StreamSink } from '../reassembly/quic-stream.js';
import type { Emit } from './follow-http2.js';

/*
 * Follow one HTTP/3 request stream of a QUIC connection whose keys are known: the datagrams are
 * re-read through a fresh engine session with the keys (as the QUIC connection detail does), its
 * QUIC analyser hands every decrypted STREAM frame over (`streamTap`), the wanted stream is
 * reassembled by offset (QuicStreamReassembly) and its HTTP/3 frames (RFC 9114 §7.1: type and
 * length varints) are written out: HEADERS as "name: value" lines (QPACK static table and
 * literals; a field that refers to the dynamic table is named as such), DATA as its content.
 * Streams listed: the client-initiated bidirectional ones (the requests).
 */

const H3_DATA = 0x00;
const H3_HEADERS = 0x01;
const MAX_READ_PACKETS = 200_000;
const MAX_STREAMS_LISTED = 1000;
const MAX_HEADERS_FRAME = 64 * 1024;

/** One direction of the wanted stream: HTTP/3 frames out of the reassembled bytes. */
class H3Frames implements StreamSink {
  private hdr = new Uint8Array(16);
  private hdrLen = 0;
  private type = -1;
  private remaining = 0;
  private block: Uint8Array | null = null;
  private blockLen = 0;
  private dead = false;
  constructor(private dir: 0 | 1, private emit: Emit, private packet: () => number) {}

  data(b: Uint8Array, off: number, len: number): void {
    const end = off + len;
    for (let i = off; i < end && !this.dead;) {
      if (this.type === -1) {
        this.hdr[this.hdrLen++] = b[i++];
        const need1 = varintSize(this.hdr[0]);
        if (this.hdrLen < need1 + 1) continue;
        const need2 = need1 + varintSize(this.hdr[need1]);
        if (this.hdrLen < need2) continue;
        this.type = readVarint(this.hdr, 0);
        this.remaining = readVarint(this.hdr, need1);
        this.hdrLen = 0;
        if (this.type === H3_HEADERS) {
          if (this.remaining > MAX_HEADERS_FRAME) { this.dead = true; return; }
          this.block = new Uint8Array(this.remaining);
          this.blockLen = 0;
        }
        if (this.remaining === 0) this.frameDone();
        continue;
      }
      const n = Math.min(this.remaining, end - i);
      if (this.type === H3_DATA) this.emit(this.dir, this.packet(), b, i, n);
      else if (this.type === H3_HEADERS && this.block) {
        this.block.set(b.subarray(i, i + n), this.blockLen);
        this.blockLen += n;
      }
      this.remaining -= n;
      i += n;
      if (this.remaining === 0) this.frameDone();
    }
  }

  private frameDone(): void {
    if (this.type === H3_HEADERS && this.block) {
      const sec = decodeQpackSection(this.block, 0, this.blockLen, null);
      const lines = sec.fields.map(([n, v]) => `${n ?? '[name in the QPACK dynamic table]'}: ${v ?? '[value in the QPACK dynamic table]'}\n`).join('');
      const text = Buffer.from(`${lines}${sec.error ? `[headers not decoded: ${sec.error}]\n` : ''}\n`, 'latin1');
      this.emit(this.dir, this.packet(), text, 0, text.length);
      this.block = null;
    }
    this.type = -1;
  }

  gap(): void { this.dead = true; }
  fin(): void {}
}

export interface Http3FollowResult {
  /** False when the conversation holds no QUIC connection. */
  quic: boolean;
  streams: number[];
}

export function followHttp3(
  index: PacketIndex, read: (i: number) => PacketRecord, connectionId: number, keys: KeyLog, decodeAs: string[], want: number | null, emit: Emit,
): Http3FollowResult {
  const session = new AnalysisSession({ decodeAs: decodeAs.map(parseDecodeAs) });
  session.app.keys.addFrom(keys);
  const streams: number[] = [];
  const seen = new Set<number>();
  let packet = 0;
  const dirs = want === null ? null : [new QuicStreamReassembly(new H3Frames(0, emit, () => packet)), new QuicStreamReassembly(new H3Frames(1, emit, () => packet))];
  session.app.quic.streamTap = (id, fromClient, offset, b, off, len, fin) => {
    if (id % 4 !== 0) return; // client-initiated bidirectional streams are the requests
    if (!seen.has(id) && seen.size < MAX_STREAMS_LISTED) {
      seen.add(id);
      streams.push(id);
    }
    if (id === want && dirs) dirs[fromClient ? 0 : 1].add(offset, b, off, len, fin, packet);
  };
  let n = 0;
  for (let i = 0; i < index.length && n < MAX_READ_PACKETS; i++) {
    if (index.connId[i] !== connectionId) continue;
    n++;
    packet = i;
    session.feed(read(i));
  }
  session.finish();
  return { quic: session.app.quic.connections.length > 0, streams };
}
