import { describe, expect, it } from 'vitest';
import { TcpStreamReassembler, type StreamEnd, type StreamSink } from '../../main/reassembly/tcp-stream.js';

/** Records what the reassembler delivers: text for data, "<gap N>" for gaps, "<end how>". */
class Recorder implements StreamSink {
  out: string[] = [];
  data(b: Uint8Array, off: number, len: number): void {
    this.out.push(Buffer.from(b.subarray(off, off + len)).toString('latin1'));
  }
  gap(len: number): void {
    this.out.push(`<gap ${len}>`);
  }
  end(_ts: number, how: StreamEnd): void {
    this.out.push(`<end ${how}>`);
  }
  get text(): string {
    return this.out.join('');
  }
}

const B = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

function seg(r: TcpStreamReassembler, seq: number, s: string, fin = false, capLen?: number): void {
  const b = B(s);
  r.segment(seq >>> 0, b, 0, capLen ?? b.length, b.length, fin, 0);
}

describe('TcpStreamReassembler', () => {
  it('delivers in order once: retransmissions and overlaps give only new bytes', () => {
    const rec = new Recorder();
    const r = new TcpStreamReassembler(rec);
    r.syn(999);
    seg(r, 1000, 'hello ');
    seg(r, 1000, 'hello '); // retransmission
    seg(r, 1003, 'lo world'); // overlaps "lo ": only "world" is new
    seg(r, 1011, '!', true);
    expect(rec.text).toBe('hello world!<end fin>');
  });

  it('holds out-of-order segments until the hole is filled', () => {
    const rec = new Recorder();
    const r = new TcpStreamReassembler(rec);
    r.syn(0);
    seg(r, 7, 'CCC');
    seg(r, 4, 'BBB');
    expect(rec.text).toBe('');
    seg(r, 1, 'AAA');
    expect(rec.text).toBe('AAABBBCCC');
  });

  it('declares a gap when the receiver ACKs bytes the capture never saw, then continues', () => {
    const rec = new Recorder();
    const r = new TcpStreamReassembler(rec);
    r.syn(0);
    seg(r, 1, 'aaaa');
    seg(r, 15, 'zz');
    r.acked(15, 0); // 5..14 reached the receiver, not the capture
    expect(rec.text).toBe('aaaa<gap 10>zz');
    expect(r.gapBytes).toBe(10);
  });

  it('waits when an ACK is captured before the data it acknowledges', () => {
    const rec = new Recorder();
    const r = new TcpStreamReassembler(rec);
    r.syn(0);
    seg(r, 1, 'aaaa');
    r.acked(9, 0); // the tap saw the ACK first
    seg(r, 5, 'bbbb');
    expect(rec.text).toBe('aaaabbbb');
    // A hole before a FIN the peer acknowledged is lost for good.
    r.acked(20, 0);
    seg(r, 14, '', true);
    expect(rec.text).toBe('aaaabbbb<gap 5><end fin>');
  });

  it('survives sequence number wrap-around', () => {
    const rec = new Recorder();
    const r = new TcpStreamReassembler(rec);
    r.syn(0xfffffffd);
    seg(r, 0xfffffffe, 'ab');
    seg(r, 0x00000000, 'cd');
    expect(rec.text).toBe('abcd');
  });

  it('starts mid-stream at the first byte seen', () => {
    const rec = new Recorder();
    const r = new TcpStreamReassembler(rec);
    seg(r, 5000, 'middle');
    seg(r, 4990, 'old stuff!'); // before the start: ignored
    seg(r, 5006, '-end');
    expect(rec.text).toBe('middle-end');
  });

  it('turns bytes cut by the snaplen into a gap of the right length', () => {
    const rec = new Recorder();
    const r = new TcpStreamReassembler(rec);
    r.syn(0);
    seg(r, 1, 'GET / HTTP/1.1\r\n', false, 5);
    seg(r, 17, 'next');
    expect(rec.text).toBe('GET /<gap 11>next');
  });

  it('bounds held data: beyond the limit the oldest hole becomes a gap', () => {
    const rec = new Recorder();
    const r = new TcpStreamReassembler(rec);
    r.syn(0);
    const big = 'x'.repeat(1000);
    // Hole at 1..100, then 300 segments held after it (more than the bound).
    for (let i = 0; i < 300; i++) seg(r, 101 + i * 1000, big);
    expect(rec.text.startsWith('<gap 100>x')).toBe(true);
    r.close(0, 'eof');
    expect(rec.text.endsWith('<end eof>')).toBe(true);
    expect(r.delivered).toBe(300 * 1000);
  });

  it('flushes held data across holes at the end and reports how it ended', () => {
    const rec = new Recorder();
    const r = new TcpStreamReassembler(rec);
    r.syn(0);
    seg(r, 1, 'ab');
    seg(r, 6, 'fg');
    r.close(0, 'reset');
    expect(rec.text).toBe('ab<gap 3>fg<end reset>');
  });
});
