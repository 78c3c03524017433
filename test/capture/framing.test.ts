// The helper's wire framing: packets written by writePacketMsg come back as the same records
// however the byte stream is cut into chunks; corruption stops parsing with a message.
import { describe, expect, it } from 'vitest';
import {
  FrameParser, MSG_END, MSG_READY, encodeJsonMsg, encodeStats, writePacketMsg, type FrameSink, type HelperStats,
} from '../../main/capture/framing.js';
import { openCapture } from '../../main/pcap/reader.js';
import { capture } from '../helpers/captures.js';

interface Got {
  packets: { tsSec: number; tsNsec: number; caplen: number; origLen: number; hex: string; index: number }[];
  stats: HelperStats[];
  control: [number, unknown][];
}

function collector(): [FrameSink, Got] {
  const got: Got = { packets: [], stats: [], control: [] };
  return [{
    packet: (r) => got.packets.push({ tsSec: r.tsSec, tsNsec: r.tsNsec, caplen: r.caplen, origLen: r.origLen, index: r.index, hex: Buffer.from(r.data.subarray(r.offset, r.offset + r.caplen)).toString('hex') }),
    stats: (s) => got.stats.push(s),
    control: (t, o) => got.control.push([t, o]),
  }, got];
}

describe('helper framing', () => {
  // A real capture's packets as the helper would stream them.
  const file = capture('http-get-basic.pcap');
  const expected: Got['packets'] = [];
  const chunks: Buffer[] = [encodeJsonMsg(MSG_READY, { linkType: 1 })];
  const reader = openCapture(file);
  for (let r = reader.next(); r; r = reader.next()) {
    const b = Buffer.alloc(24 + r.caplen);
    writePacketMsg(b, 0, r.tsSec, r.tsNsec, r.data, r.offset, r.caplen, r.origLen);
    chunks.push(b);
    expected.push({ tsSec: r.tsSec, tsNsec: r.tsNsec, caplen: r.caplen, origLen: r.origLen, index: expected.length, hex: Buffer.from(r.data.subarray(r.offset, r.offset + r.caplen)).toString('hex') });
  }
  reader.close();
  const stats: HelperStats = { received: 12, droppedByKernel: 3, droppedByInterface: 1, droppedByApp: 2 };
  chunks.push(encodeStats(stats), encodeJsonMsg(MSG_END, { reason: 'stopped' }));
  const stream = Buffer.concat(chunks);

  for (const size of [1, 7, 64, 1500, stream.length]) {
    it(`reassembles messages cut into ${size}-byte chunks`, () => {
      const [sink, got] = collector();
      const p = new FrameParser();
      for (let i = 0; i < stream.length; i += size) p.push(stream.subarray(i, i + size), sink);
      expect(p.error).toBeNull();
      expect(got.packets).toEqual(expected);
      expect(got.stats).toEqual([stats]);
      expect(got.control).toEqual([[MSG_READY, { linkType: 1 }], [MSG_END, { reason: 'stopped' }]]);
    });
  }

  it('stops at a corrupt length with a message instead of allocating from it', () => {
    const bad = Buffer.from(stream);
    bad.writeUInt32LE(0x7fffffff, chunks[0].length); // first packet's length
    const [sink, got] = collector();
    const p = new FrameParser();
    p.push(bad, sink);
    expect(p.error).toMatch(/corrupt helper stream: message length 2147483647/);
    expect(got.packets).toEqual([]);
    expect(got.control.length).toBe(1);
  });
});
