import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture, tshark } from '../helpers/captures';
import { inProcess, openAndWait, type Transport } from './harness';
import { escapePayload } from '../../main/services/follow-stream';
import type { FollowChunk } from '../../preload/api';

/*
 * Follow Stream against tshark's `-z follow,PROTO,raw,N`: the same bytes per direction, in the
 * same order, escaped the same way; and the escaping itself on hostile bytes.
 */

interface TsharkFollow { nodes: [string, string]; runs: { node: 0 | 1; hex: string }[] }

function tsharkFollow(file: string, proto: 'tcp' | 'udp' | 'tls', stream: number): TsharkFollow {
  const out = tshark(['-r', file, '-q', '-z', `follow,${proto},raw,${stream}`]);
  const nodes: string[] = [];
  const runs: TsharkFollow['runs'] = [];
  for (const line of out.split('\n')) {
    const m = /^Node ([01]): (.*)$/.exec(line);
    if (m) nodes[Number(m[1])] = m[2];
    else if (/^\t?[0-9a-f]+$/.test(line)) {
      const node = line.startsWith('\t') ? 1 : 0;
      const last = runs[runs.length - 1];
      if (last && last.node === node) last.hex += line.trim();
      else runs.push({ node, hex: line.trim() });
    }
  }
  return { nodes: nodes as [string, string], runs };
}

let t: Transport;
beforeAll(async () => { t = await inProcess(); });
afterAll(async () => { await t.close(); });

describe('followStream vs tshark -z follow', () => {
  const cases: [string, 'tcp' | 'udp' | 'tls', number][] = [
    ['http-get-basic.pcap', 'tcp', 0],
    ['http-retx-fastretx-dupack-ooo.pcap', 'tcp', 0],
    ['http-post-retx-dupack.pcap', 'tcp', 0],
    ['dns-nxdomain.pcapng', 'udp', 0],
    // Decrypted with the capture's DSB: TLS 1.2 carrying HTTP/1.1, TLS 1.3 carrying HTTP/2.
    ['tls12-http-keys-in-pcapng-dsb.pcapng', 'tls', 0],
    ['quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng', 'tls', 0],
  ];
  for (const [name, proto, stream] of cases) {
    it(`${name} ${proto} stream ${stream}`, async () => {
      const ref = tsharkFollow(capture(name), proto, stream);
      expect(ref.runs.length).toBeGreaterThan(1);
      const { info } = await openAndWait(t.api, capture(name));
      const conns = await t.api.connections({ sessionId: info.sessionId, offset: 0, limit: 1000 });
      const text = (e: { ip: string; port: number | null }): string => (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);
      // tshark's TLS follow names one node only (the other is ":0").
      const conn = proto === 'tls'
        ? conns.rows.find((c) => c.transport === 'tcp' && [text(c.client), text(c.server)].includes(ref.nodes[0]))
        : conns.rows.find((c) => c.transport === proto && [text(c.client), text(c.server)].sort().join() === [...ref.nodes].sort().join());
      expect(conn, `connection ${ref.nodes.join(' - ')}`).toBeDefined();
      const f = await t.api.followStream({ sessionId: info.sessionId, connectionId: conn!.id });
      expect(f.decrypted).toBe(proto === 'tls');
      const node0IsClient = f.client === ref.nodes[0];
      const expected: Pick<FollowChunk, 'dir' | 'text'>[] = ref.runs.map((r) => {
        const b = Buffer.from(r.hex, 'hex');
        return { dir: (r.node === 0) === node0IsClient ? 'c2s' : 's2c', text: escapePayload(b, 0, b.length) };
      });
      expect(f.chunks.map(({ dir, text }) => ({ dir, text }))).toEqual(expected);
      expect(f.clientBytes + f.serverBytes).toBe(ref.runs.reduce((s, r) => s + r.hex.length / 2, 0));
      expect(f.truncated).toBe(false);
      // Bounded: a limit below the stream's size cuts it and says so.
      const cut = await t.api.followStream({ sessionId: info.sessionId, connectionId: conn!.id, maxBytes: 10 });
      expect(cut.truncated).toBe(true);
      expect(cut.clientBytes + cut.serverBytes).toBe(10);
      await t.api.closeSession(info.sessionId);
    });
  }

  it('escapes hostile payload bytes to plain text', () => {
    const b = Buffer.from('<script>alert(1)</script>\\\x00\x1b[31m\r\n\xff', 'latin1');
    const s = escapePayload(b, 0, b.length);
    expect(s).toBe('<script>alert(1)</script>\\\\\\x00\\x1b[31m\n\\xff');
    expect(/[\x00-\x08\x0b-\x1f\x7f-\uffff]/.test(s)).toBe(false);
  });
});

describe('decodePacket byte ranges', () => {
  it('each field range holds the bytes tshark decodes there', async () => {
    const name = 'http-get-basic.pcap';
    const ref = tshark(['-r', capture(name), '-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.seq_raw', '-e', 'tcp.window_size_value', '-e', 'ip.ttl'])
      .trim().split('\n').map((l) => l.split('\t'));
    const { info } = await openAndWait(t.api, capture(name));
    for (let n = 1; n <= ref.length; n++) {
      const d = await t.api.decodePacket(info.sessionId, n);
      const bytes = Buffer.from(d.bytesHex, 'hex');
      const field = (layer: string, fieldName: string): Buffer => {
        const f = d.layers.find((l) => l.name.startsWith(layer))!.fields.find((x) => x.name === fieldName)!;
        expect(f.offset, `${n} ${fieldName}`).toBeTypeOf('number');
        return bytes.subarray(f.offset!, f.offset! + f.length!);
      };
      const [src, dst, sport, dport, seq, win, ttl] = ref[n - 1];
      expect([...field('Internet', 'Source')].join('.')).toBe(src);
      expect([...field('Internet', 'Destination')].join('.')).toBe(dst);
      expect(field('Internet', 'TTL')[0]).toBe(Number(ttl));
      expect(field('Transmission', 'Source port').readUInt16BE()).toBe(Number(sport));
      expect(field('Transmission', 'Destination port').readUInt16BE()).toBe(Number(dport));
      expect(field('Transmission', 'Sequence number (raw)').readUInt32BE()).toBe(Number(seq));
      expect(field('Transmission', 'Window').readUInt16BE()).toBe(Number(win));
      expect(d.bytesHex.length / 2).toBe(d.caplen);
    }
    await t.api.closeSession(info.sessionId);
  });
});

describe('followStream of one HTTP/2 stream vs tshark', () => {
  const cases: [string, string[]][] = [
    ['http2-cleartext-hpack-headers-port3000.pcapng', ['-d', 'tcp.port==3000,http2']],
    ['quic-v1-chrome-cloudflare-keys-in-pcapng-dsb.pcapng', []],
  ];
  for (const [name, decode] of cases) {
    it(name, async () => {
      // Per packet, per frame: stream id, type and length; and the packet's header fields.
      const rows = tshark(['-r', capture(name), ...decode, '-Y', 'http2', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|',
        '-e', 'http2.streamid', '-e', 'http2.type', '-e', 'http2.length', '-e', 'http2.header.name', '-e', 'http2.header.value', '-e', 'http2.pad_length'])
        .trim().split('\n').map((l) => l.split('\t').map((x) => (x === '' ? [] : x.split('|'))));
      const headerStreams = new Set<number>();
      let dataBytes = 0;
      const fields1: string[] = [];
      for (const [ids, types, lens, names, values, pads] of rows) {
        expect(pads.every((p) => p === '0')).toBe(true); // no padding in these captures: the DATA length is the content
        const hdrIds = ids.filter((_, k) => types[k] === '1').map(Number);
        hdrIds.forEach((s) => headerStreams.add(s));
        ids.forEach((s, k) => { if (s === '1' && types[k] === '0') dataBytes += Number(lens[k]); });
        if (hdrIds.length > 0 && hdrIds.every((s) => s === 1)) names.forEach((n, k) => fields1.push(`${n}: ${values[k]}`));
      }
      expect(fields1.length).toBeGreaterThan(3);
      const { info } = await openAndWait(t.api, capture(name));
      const conns = await t.api.connections({ sessionId: info.sessionId, offset: 0, limit: 100 });
      const conn = conns.rows.find((c) => c.transport === 'tcp')!;
      const all = await t.api.followStream({ sessionId: info.sessionId, connectionId: conn.id });
      expect(all.h2Streams.slice().sort((a, b) => a - b)).toEqual([...headerStreams].sort((a, b) => a - b));
      const one = await t.api.followStream({ sessionId: info.sessionId, connectionId: conn.id, h2Stream: 1 });
      const text = one.chunks.map((c) => c.text).join('');
      for (const f of fields1) expect(text).toContain(escapePayload(Buffer.from(f, 'latin1'), 0, f.length));
      // DATA content: the stream's bytes minus the header lines we wrote.
      const headerText = one.chunks.map((c) => c.text).join('').split('\n\n').length;
      expect(headerText).toBeGreaterThan(1);
      const headerBytes = fields1.reduce((s, f) => s + Buffer.byteLength(f, 'latin1') + 1, 0) + 2; // lines + a blank line per block (2 blocks)
      expect(one.clientBytes + one.serverBytes - headerBytes).toBe(dataBytes);
      await t.api.closeSession(info.sessionId);
    });
  }
});

describe('followStream of one HTTP/3 request stream vs tshark', () => {
  it('quic-v2-http3-keys-in-pcapng-dsb.pcapng', async () => {
    const name = 'quic-v2-http3-keys-in-pcapng-dsb.pcapng';
    // tshark's decrypted STREAM frames: per packet, per frame, stream id, offset (empty: 0) and data.
    const rows = tshark(['-r', capture(name), '-Y', 'quic.stream.stream_id', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|',
      '-e', 'ip.src', '-e', 'quic.stream.stream_id', '-e', 'quic.stream.offset', '-e', 'quic.stream_data']).trim().split('\n').map((l) => l.split('\t'));
    const client = rows[0][0];
    const bidi = new Set<number>();
    const bytes: Map<number, Buffer>[] = [new Map(), new Map()]; // per direction: offset -> data of stream 0
    for (const [src, ids = '', offs = '', datas = ''] of rows) {
      const idList = ids.split('|');
      const offList = offs === '' ? [] : offs.split('|');
      const dataList = datas === '' ? [] : datas.split('|');
      // Offsets are present only for frames that carry one: pair them in order of frames with data.
      idList.forEach((id, k) => {
        if (Number(id) % 4 === 0) bidi.add(Number(id));
        if (id === '0' && dataList[k] !== undefined) bytes[src === client ? 0 : 1].set(Number(offList[k] ?? 0) || 0, Buffer.from(dataList[k].replace(/:/g, ''), 'hex'));
      });
    }
    // DATA frame content per direction from the reassembled stream (RFC 9114 §7.1 varints).
    const varint = (b: Buffer, o: number): [number, number] => {
      const n = 1 << (b[o] >> 6);
      let v = b[o] & 0x3f;
      for (let i = 1; i < n; i++) v = v * 256 + b[o + i];
      return [v, o + n];
    };
    let dataBytes = 0;
    for (const m of bytes) {
      const stream = Buffer.concat([...m.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b));
      for (let o = 0; o < stream.length;) {
        const [type, o1] = varint(stream, o);
        const [len, o2] = varint(stream, o1);
        if (type === 0) dataBytes += len;
        o = o2 + len;
      }
    }
    expect(dataBytes).toBeGreaterThan(0);
    const { info } = await openAndWait(t.api, capture(name));
    const conns = await t.api.connections({ sessionId: info.sessionId, offset: 0, limit: 100 });
    const conn = conns.rows.find((c) => c.transport === 'quic')!;
    const all = await t.api.followStream({ sessionId: info.sessionId, connectionId: conn.id });
    expect(all.h3Streams.slice().sort((a, b) => a - b)).toEqual([...bidi].sort((a, b) => a - b));
    const one = await t.api.followStream({ sessionId: info.sessionId, connectionId: conn.id, h3Stream: 0 });
    expect(one.decrypted).toBe(true);
    const text = one.chunks.map((c) => c.text).join('');
    expect(text).toContain(':method: GET');
    expect(text).toMatch(/:status: \d{3}/);
    // Each side sent one header section (ASCII lines, then a blank line) and then its DATA.
    const blockBytes = (dir: 'c2s' | 's2c'): number => {
      const side = one.chunks.filter((c) => c.dir === dir).map((c) => c.text).join('');
      return side.indexOf('\n\n') + 2;
    };
    expect(one.clientBytes + one.serverBytes - blockBytes('c2s') - blockBytes('s2c')).toBe(dataBytes);
    await t.api.closeSession(info.sessionId);
  });
});
