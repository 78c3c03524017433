import { Http1StreamParser, type HttpHead, type HttpParserEvents } from '../../parsers/http.js';
import type { StreamSink } from '../../reassembly/tcp-stream.js';
import { STATUS_CODES } from 'node:http';
import { FRAME_DATA, FRAME_HEADERS, FRAME_TYPE_NAMES, Http2Connection, type HeaderBlock } from '../../parsers/http2.js';

export type Label = (packet: number, protocol: string, info: string) => void;

/*
 * HTTP/1.x in the packet list, as tshark labels it: the packet that completes a message
 * (head and body, the body reassembled by Content-Length or chunks) gets the protocol HTTP
 * and the start line as sent, a space, then what the body's dissector adds:
 *   "GET /index.html HTTP/1.1 ", "HTTP/1.1 200 OK  (text/html)" (media type without
 *   parameters), "(PNG)", "(GIF89a)", "(JPEG JFIF image)" for images; XML bodies make the
 *   protocol HTTP/XML and add nothing; JSON bodies make it HTTP/JSON and add
 *   ", JavaScript Object Notation (application/json)". A message without a body adds nothing.
 * `ts` of the stream calls is the packet index that delivered the bytes (see tcp-app-labels).
 */

function mediaType(h: HttpHead): string | null {
  return h.contentType ? h.contentType.split(';')[0].trim().toLowerCase() : null;
}

export function httpLabel(h: HttpHead, bodyBytes: number): { protocol: string; info: string } {
  const line = h.startLine;
  const mt = mediaType(h);
  // No body: none, or a chunked body of only its last chunk ("0" CRLF CRLF). tshark hands
  // neither a 206's range nor a multipart body to a dissector that writes to Info.
  const empty = bodyBytes === 0 || (h.chunked && bodyBytes <= 5);
  if (empty || mt === null || h.status === 206 || mt.startsWith('multipart/')) return { protocol: 'HTTP', info: `${line} ` };
  if (/[/+]xml$/.test(mt)) return { protocol: 'HTTP/XML', info: `${line} ` };
  if (/[/+]json$/.test(mt)) return { protocol: 'HTTP/JSON', info: `${line} , JavaScript Object Notation (${mt})` };
  const image = mt === 'image/png' ? 'PNG' : mt === 'image/gif' ? 'GIF89a' : mt === 'image/jpeg' ? 'JPEG JFIF image' : mt;
  return { protocol: 'HTTP', info: `${line}  (${image})` };
}

/** Both directions of an HTTP/1.x connection, labelling the packets that complete messages. */
export function httpLabels(label: Label, onH2: () => void): { client: StreamSink; server: StreamSink } {
  let reqHead: HttpHead | null = null;
  let respHead: HttpHead | null = null;
  let headRequests = 0;
  let lastWasHead = false;
  const events = (isRequest: boolean): HttpParserEvents => ({
    head(h) {
      // A head cut by the snaplen: tshark shows its start line on that packet (when the line is
      // whole) and the message's later bytes as "Continuation".
      lost[isRequest ? 0 : 1] = h.truncated;
      if (h.truncated && h.version !== '' && h.startTs === h.headTs) label(h.headTs, 'HTTP', httpLabel(h, 0).info);
      if (isRequest) {
        reqHead = h;
        if (h.method === 'HEAD') headRequests++;
      } else {
        respHead = h;
        lastWasHead = headRequests > 0;
        if (lastWasHead) headRequests--;
      }
    },
    messageEnd(packet, body, bodyGap) {
      const h = isRequest ? reqHead : respHead;
      // A message with bytes the capture lost cannot be reassembled: tshark labels no packet of it.
      if (!h || h.truncated || bodyGap > 0) {
        if (isRequest) reqHead = null;
        else respHead = null;
        return;
      }
      const l = httpLabel(h, body);
      label(packet, l.protocol, l.info);
      if (isRequest) reqHead = null;
      else respHead = null;
    },
    messageAbort(packet, _body, how) {
      // Cut by a gap in the packet that carried the head: tshark shows that packet's head alone.
      const h = isRequest ? reqHead : respHead;
      if (h && !h.truncated && h.headTs === packet) label(packet, 'HTTP', httpLabel(h, 0).info);
      if (how === undefined) lost[isRequest ? 0 : 1] = true;
      if (isRequest) reqHead = null;
      else respHead = null;
    },
    http2Preface() { onH2(); },
    requestWasHead: () => lastWasHead,
    end() {},
  });
  const lost = [false, false];
  const sinkOf = (isRequest: boolean): StreamSink => {
    const p = new Http1StreamParser(isRequest, events(isRequest));
    const d = isRequest ? 0 : 1;
    return {
      data(b, off, len, packet) {
        if (lost[d]) label(packet, 'HTTP', 'Continuation');
        p.data(b, off, len, packet);
      },
      gap: (len, packet) => p.gap(len, packet),
      end: (packet, how) => p.end(packet, how),
    };
  };
  return { client: sinkOf(true), server: sinkOf(false) };
}

const PREFACE_LEN = 24;
const FLAG_END_STREAM = 0x1;
/** The protocol of a label that says "this packet also starts a message not complete here". */
export const TLS_SEGMENT = 'TLS segment';
const MAX_FRAMES_LISTED = 64;

/** tshark's text after "HEADERS[n]: ": "GET /path" for a request, "200 OK" for a response. */
function headersText(block: HeaderBlock): string | null {
  const get = (n: string): string | undefined => block.fields.find((f) => f.name === n)?.value;
  const method = get(':method');
  if (method !== undefined) return `${method} ${get(':path') ?? ''}`;
  const status = get(':status');
  return status === undefined ? null : `${status} ${STATUS_CODES[Number(status)] ?? ''}`.trimEnd();
}

/**
 * Both directions of an HTTP/2 connection (h2c, or decrypted TLS): frame labels, the header
 * blocks decoded by the engine's Http2Connection (HPACK, both ways) for the HEADERS text.
 */
export function http2Labels(label: Label, markSegments = false): { client: StreamSink; server: StreamSink } {
  const texts = new Map<number, string[]>();
  const media = new Map<number, string>();
  const h2 = new Http2Connection({
    headers: (fromClient, block) => {
      const ct = block.fields.find((f) => f.name === 'content-type')?.value;
      if (!fromClient && ct && media.size < 4096) media.set(block.streamId, ct.split(';')[0].trim().toLowerCase());
      const t = headersText(block);
      if (t === null) return;
      const q = texts.get(block.streamId);
      if (q) q.push(t);
      else if (texts.size < 4096) texts.set(block.streamId, [t]);
    },
    data: () => {}, rstStream: () => {}, goaway: () => {}, error: () => {}, end: () => {},
  }, { expectPreface: true });
  const headerText = (stream: number): string | null => {
    const q = texts.get(stream);
    const t = q?.shift() ?? null;
    if (q && q.length === 0) texts.delete(stream);
    return t;
  };
  // The body's last DATA frame names its media type, as tshark's media dissector does.
  const endText = (stream: number): string | null => {
    const m = media.get(stream) ?? null;
    media.delete(stream);
    return m;
  };
  const side = (h2side: StreamSink, frames: Http2FrameLabels): StreamSink => ({
    data: (b, off, len, packet) => { h2side.data(b, off, len, packet); frames.data(b, off, len, packet); },
    gap: (len, packet) => { h2side.gap(len, packet); frames.gap(); },
    end: (packet, how) => { h2side.end(packet, how); frames.end(); },
  });
  return {
    client: side(h2.client, new Http2FrameLabels(true, label, markSegments, headerText)),
    server: side(h2.server, new Http2FrameLabels(false, label, markSegments, headerText, endText)),
  };
}

/**
 * HTTP/2 frames: each packet completing frames is HTTP2 with "TYPE[stream]" per frame
 * ("HEADERS[1]: GET /path", "HEADERS[1]: 200 OK" with the decoded block), and "Magic" for
 * the client preface.
 */
export class Http2FrameLabels implements StreamSink {
  private hdr = new Uint8Array(9);
  private hdrLen = 0;
  private remaining = 0;
  private preface: number;
  private dead = false;
  private listed = 0;
  private lastPacket = -1;
  private completed = 0;

  constructor(
    client: boolean, private label: Label, private markSegments = false,
    private headerText: (stream: number) => string | null = () => null,
    private bodyEndText: (stream: number) => string | null = () => null,
  ) {
    this.preface = client ? PREFACE_LEN : 0;
  }

  data(b: Uint8Array, off: number, len: number, packet: number): void {
    let i = off;
    const end = off + len;
    const completedBefore = this.completed;
    if (packet !== this.lastPacket) {
      this.lastPacket = packet;
      this.listed = 0;
    }
    while (i < end && !this.dead) {
      if (this.preface > 0) {
        const n = Math.min(this.preface, end - i);
        this.preface -= n;
        i += n;
        if (this.preface === 0) this.add(packet, 'Magic');
        continue;
      }
      if (this.remaining === 0 && this.hdrLen < 9) {
        const n = Math.min(9 - this.hdrLen, end - i);
        this.hdr.set(b.subarray(i, i + n), this.hdrLen);
        this.hdrLen += n;
        i += n;
        if (this.hdrLen < 9) break;
        this.remaining = (this.hdr[0] << 16) | (this.hdr[1] << 8) | this.hdr[2];
        if (this.remaining === 0) this.frameDone(packet);
        continue;
      }
      const n = Math.min(this.remaining, end - i);
      this.remaining -= n;
      i += n;
      if (this.remaining === 0) this.frameDone(packet);
    }
    // Inside decrypted TLS (one call per record) a record that completes no frame and leaves one
    // incomplete is, for tshark, "[TLS segment of a reassembled PDU]" under the TLS record's protocol.
    if (this.markSegments && !this.dead && this.completed === completedBefore && (this.hdrLen > 0 || this.remaining > 0)) this.label(packet, TLS_SEGMENT, '[TLS segment of a reassembled PDU]');
  }

  private frameDone(packet: number): void {
    this.completed++;
    const h = this.hdr;
    const stream = ((h[5] & 0x7f) << 24 | (h[6] << 16) | (h[7] << 8) | h[8]) >>> 0;
    const text = h[3] === FRAME_HEADERS ? this.headerText(stream) : null;
    const media = h[3] === FRAME_DATA && h[4] & FLAG_END_STREAM ? this.bodyEndText(stream) : null;
    this.add(packet, `${FRAME_TYPE_NAMES[h[3]] ?? `Unknown type (${h[3]})`}[${stream}]${text !== null ? `: ${text}` : ''}${media !== null ? ` (${media})` : ''}`);
    this.hdrLen = 0;
  }

  private add(packet: number, text: string): void {
    if (++this.listed <= MAX_FRAMES_LISTED) this.label(packet, 'HTTP2', text);
  }

  gap(): void {
    this.dead = true;
  }

  end(): void {
    this.dead = true;
  }
}
