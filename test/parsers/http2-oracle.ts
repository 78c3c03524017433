import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { openCapture } from '../../main/pcap/reader.js';
import { PcapngReader } from '../../main/pcap/pcapng.js';
import { AnalysisSession } from '../../main/engine/session.js';
import type { HeaderBlock } from '../../main/parsers/http2.js';
import { FRAME_DATA, FRAME_GOAWAY, FRAME_HEADERS, FRAME_PUSH_PROMISE, FRAME_RST_STREAM, errorCodeName } from '../../main/parsers/http2.js';
import type { HttpExchange } from '../../main/analysis/http-exchanges.js';
import { tshark, tsharkFields } from '../helpers/captures.js';

/*
 * HTTP/2 against tshark, frame by frame: tshark's JSON (`-T json --no-duplicate-keys -J
 * "frame tcp http2"`) gives each frame's stream, type, flags, length, padding, decoded
 * header fields, RST_STREAM and GOAWAY codes; Tapscope's HTTP/2 observer gives the same from
 * its framer and HPACK decoder. Then each stream's exchange is checked against the frames.
 */

interface TFrame {
  conn: string;
  fromClient: boolean;
  ts: number;
  streamId: number;
  type: number;
  flags: number;
  length: number;
  padLength: number;
  headers: [string, string][];
  rstError: number | null;
  goawayError: number | null;
}

type Json = Record<string, unknown>;
const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** tshark's view of every HTTP/2 frame in the file (connections keyed by client port). */
export function tsharkHttp2(file: string, serverPort: number, decodeAs: string[]): TFrame[] {
  const out = tshark(['-r', file, '-n', ...decodeAs, '-Y', 'http2', '-T', 'json', '--no-duplicate-keys', '-J', 'frame tcp http2']);
  const packets = JSON.parse(out) as { _source: { layers: Json } }[];
  const frames: TFrame[] = [];
  for (const p of packets) {
    const L = p._source.layers;
    const tcp = arr(L.tcp as Json | Json[])[0];
    const frame = arr(L.frame as Json | Json[])[0];
    const src = Number(tcp['tcp.srcport']);
    const dst = Number(tcp['tcp.dstport']);
    const fromClient = dst === serverPort;
    const conn = String(fromClient ? src : dst);
    for (const layer of arr(L.http2 as Json | Json[])) {
      for (const s of arr(layer['http2.stream'] as Json | Json[])) {
        if (s['http2.type'] === undefined) continue; // the connection preface ("Magic")
        const type = Number(s['http2.type']);
        const headers = arr(s['http2.header'] as Json | Json[]).map((h) => [String(h['http2.header.name']), String(h['http2.header.value'] ?? '')] as [string, string]);
        frames.push({
          conn, fromClient, ts: Number(frame['frame.time_epoch']), streamId: Number(s['http2.streamid']), type,
          flags: Number(s['http2.flags']), length: Number(s['http2.length']), padLength: s['http2.pad_length'] !== undefined ? Number(s['http2.pad_length']) : -1,
          headers, rstError: s['http2.rst_stream.error'] !== undefined ? Number(s['http2.rst_stream.error']) : null,
          goawayError: s['http2.goaway.error'] !== undefined ? Number(s['http2.goaway.error']) : null,
        });
      }
    }
  }
  return frames;
}

interface OFrame {
  conn: string;
  fromClient: boolean;
  ts: number;
  streamId: number;
  type: number;
  flags: number;
  length: number;
}

/** Tapscope's view: the engine run over the file with an observer on its HTTP/2 connections. */
export function tapscopeHttp2(file: string, keyLog?: string): { frames: OFrame[]; blocks: { conn: string; fromClient: boolean; block: HeaderBlock }[]; exchanges: (HttpExchange & { conn: string })[]; session: AnalysisSession } {
  const session = new AnalysisSession({});
  const frames: { id: number; fromClient: boolean; ts: number; streamId: number; type: number; flags: number; length: number }[] = [];
  const blocks: { id: number; fromClient: boolean; block: HeaderBlock }[] = [];
  session.app.http.h2.observer = {
    frame: (id, fromClient, type, flags, streamId, length, ts) => frames.push({ id, fromClient, ts, streamId, type, flags, length }),
    headers: (id, fromClient, block) => blocks.push({ id, fromClient, block }),
  };
  const reader = openCapture(file);
  // TLS keys as analyzeFile takes them: a key log, and the capture's own Decryption Secrets Blocks.
  if (keyLog) session.app.keys.addText(keyLog, 'key log');
  if (reader instanceof PcapngReader) reader.onDecryptionSecrets = (type, data) => session.app.keys.addDecryptionSecrets(type, data);
  try {
    for (let r = reader.next(); r; r = reader.next()) session.feed(r);
  } finally {
    reader.close();
  }
  session.finish();
  const report = session.report({ path: file, format: reader.format, interfaces: reader.interfaces, comments: reader.comments });
  const clientPort = new Map<number, string>();
  for (const c of report.connections as { id: number; client: { port: number } }[]) clientPort.set(c.id, String(c.client.port));
  const conn = (id: number) => clientPort.get(id) ?? `?${id}`;
  return {
    frames: frames.map(({ id, ...f }) => ({ conn: conn(id), ...f })),
    blocks: blocks.map(({ id, ...b }) => ({ conn: conn(id), ...b })),
    exchanges: session.app.http.exchanges.filter((x) => x.protocol === 'h2').map((x) => Object.assign(x, { conn: conn(x.connectionId) })),
    session,
  };
}

const PADDED = 0x8;
const END_STREAM = 0x1;
const us = (v: number) => Math.round(v * 1e6);

/**
 * Compares everything: frame sequences per connection and direction, the header fields per
 * stream and direction, then each stream's exchange. Returns what was compared.
 */
export function compareHttp2(file: string, serverPort: number, decodeAs: string[], keyLogFile?: string): { frames: number; streams: number; fields: number } {
  const theirs = tsharkHttp2(file, serverPort, keyLogFile ? [...decodeAs, '-o', `tls.keylog_file:${keyLogFile}`] : decodeAs);
  const ours = tapscopeHttp2(file, keyLogFile ? readFileSync(keyLogFile, 'utf8') : undefined);
  expect(theirs.length, 'tshark saw HTTP/2 frames').toBeGreaterThan(0);

  // 1. Frames, in order, per connection and direction: stream, type, flags, length, and the packet.
  const seq = (fs: (TFrame | OFrame)[]) => {
    const m = new Map<string, string[]>();
    for (const f of fs) {
      const k = `${f.conn} ${f.fromClient ? 'c>s' : 's>c'}`;
      if (!m.has(k)) m.set(k, []);
      m.get(k)!.push(`stream ${f.streamId} type ${f.type} flags ${f.flags} len ${f.length}`);
    }
    return Object.fromEntries([...m].sort());
  };
  // (Times are compared per exchange below: tshark stamps a frame with the packet completing it.)
  expect(seq(ours.frames)).toEqual(seq(theirs));

  // 2. Header fields per stream and direction, concatenated in frame order (tshark decodes a
  // HEADERS+CONTINUATION block partly on the first frame and the rest on the last).
  const fieldsOf = (list: { conn: string; fromClient: boolean; streamId: number; headers: [string, string][] }[]) => {
    const m = new Map<string, [string, string][]>();
    for (const f of list) {
      if (f.headers.length === 0) continue;
      const k = `${f.conn} ${f.fromClient ? 'c>s' : 's>c'} stream ${f.streamId}`;
      if (!m.has(k)) m.set(k, []);
      m.get(k)!.push(...f.headers);
    }
    return Object.fromEntries([...m].sort());
  };
  const ourFields = fieldsOf(ours.blocks.map((b) => ({ conn: b.conn, fromClient: b.fromClient, streamId: b.block.streamId, headers: b.block.fields.map((f) => [f.name, f.value] as [string, string]) })));
  const theirFields = fieldsOf(theirs);
  expect(ourFields).toEqual(theirFields);
  for (const b of ours.blocks) expect(b.block.error, `${b.conn} stream ${b.block.streamId}`).toBeNull();

  // 3. Exchanges: one per stream that carried headers, with what its frames say.
  const streams = new Map<string, TFrame[]>();
  for (const f of theirs) {
    if (f.streamId === 0) continue;
    const k = `${f.conn} ${f.streamId}`;
    if (!streams.has(k)) streams.set(k, []);
    streams.get(k)!.push(f);
  }
  // A pushed stream's request is the PUSH_PROMISE on its parent stream.
  const promised = new Map<string, TFrame>();
  for (const f of theirs) {
    if (f.type !== FRAME_PUSH_PROMISE) continue;
    const id = ours.blocks.find((b) => b.conn === f.conn && b.block.streamId === f.streamId && b.block.promisedId)?.block.promisedId;
    if (id) promised.set(`${f.conn} ${id}`, f);
  }
  const byKey = new Map(ours.exchanges.map((x) => [`${x.conn} ${x.streamId}`, x]));
  const goaway = new Map<string, TFrame>();
  for (const f of theirs) if (f.type === FRAME_GOAWAY && !goaway.has(f.conn) && f.goawayError) goaway.set(f.conn, f);
  // Streams that only ever carried PRIORITY (nghttp's dependency anchors) or WINDOW_UPDATE are no exchanges.
  for (const [k, fs] of streams) if (!promised.has(k) && !fs.some((f) => f.type === FRAME_HEADERS || f.type === FRAME_DATA || f.type === FRAME_RST_STREAM)) streams.delete(k);
  // RFC 7540 §3.2: after Upgrade: h2c, stream 1's request is the HTTP/1.1 request (tshark's http fields).
  const upgrades = new Map<string, TFrame>();
  for (const [port, method, host, uri, ts] of tsharkFields(file, ['tcp.srcport', 'http.request.method', 'http.host', 'http.request.uri', 'frame.time_epoch'], [...decodeAs, '-Y', 'http.request && http.upgrade'])) {
    upgrades.set(`${port} 1`, { conn: port, fromClient: true, ts: Number(ts), streamId: 1, type: FRAME_HEADERS, flags: END_STREAM, length: 0, padLength: -1, headers: [[':method', method], [':authority', host], [':path', uri]], rstError: null, goawayError: null });
  }
  let compared = 0;
  for (const [k, fs] of streams) {
    const x = byKey.get(k);
    expect(x, `exchange for ${k}`).toBeDefined();
    const req = promised.get(k) ?? fs.find((f) => f.fromClient && f.type === FRAME_HEADERS) ?? upgrades.get(k);
    const resp = fs.filter((f) => !f.fromClient && f.headers.some(([n]) => n === ':status'));
    const final = resp.find((f) => !/^1\d\d$/.test(f.headers.find(([n]) => n === ':status')![1]));
    const h = (f: TFrame | undefined, name: string) => f?.headers.find(([n]) => n === name)?.[1] ?? null;
    const body = (fromClient: boolean) => fs.filter((f) => f.type === FRAME_DATA && f.fromClient === fromClient).reduce((a, f) => a + f.length - (f.flags & PADDED ? f.padLength + 1 : 0), 0);
    const endOf = (fromClient: boolean) => fs.find((f) => f.fromClient === fromClient && f.flags & END_STREAM && (f.type === FRAME_DATA || f.type === FRAME_HEADERS));
    const rst = fs.find((f) => f.type === FRAME_RST_STREAM);
    expect({
      method: x!.method, host: x!.host, uri: x!.uri, status: x!.status,
      requestTs: x!.requestTs === null ? null : us(x!.requestTs), responseEndTs: x!.responseEndTs === null ? null : us(x!.responseEndTs),
      requestBodyBytes: x!.requestBodyBytes, responseBodyBytes: x!.responseBodyBytes, contentType: x!.contentType,
      rst: rst ? x!.error : null,
    }, k).toEqual({
      method: h(req, ':method'), host: h(req, ':authority'), uri: h(req, ':path'), status: final ? Number(h(final, ':status')) : null,
      requestTs: req ? us(req.ts) : null, responseEndTs: endOf(false) ? us(endOf(false)!.ts) : null,
      requestBodyBytes: body(true), responseBodyBytes: body(false), contentType: h(final, 'content-type'),
      rst: rst && !(rst.rstError === 0 && endOf(false)) ? `RST_STREAM ${errorCodeName(rst.rstError!)}` : null,
    });
    const g = goaway.get(x!.conn);
    if (!rst && g && !endOf(false)) expect(x!.error, k).toBe(`GOAWAY ${errorCodeName(g.goawayError!)}`);
    compared++;
  }
  expect(ours.exchanges.length).toBe(streams.size);
  return { frames: theirs.length, streams: compared, fields: Object.values(theirFields).reduce((a, l) => a + l.length, 0) };
}
