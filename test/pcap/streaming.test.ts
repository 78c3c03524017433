import { describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { allCaptures, capture } from '../helpers/captures.js';
import { readSummary } from './blocks.js';
import { analyzeFile } from '../../main/engine/analyze-file.js';

describe('streaming reads', () => {
  it('a 64-byte (and a 1000-byte) chunk gives the same packets and errors as the default 1 MiB chunk, on every capture', () => {
    for (const name of allCaptures()) {
      const big = readSummary(capture(name));
      for (const chunk of [64, 1000]) {
        const small = readSummary(capture(name), chunk);
        expect(small.packets, `${name} chunk ${chunk}`).toEqual(big.packets);
        expect(small.error?.message, `${name} chunk ${chunk}`).toEqual(big.error?.message);
      }
    }
  });

  it('analyzeFile reports progress up to the file size', () => {
    const path = capture('many-conns-loopback-echo.pcap');
    const seen: number[] = [];
    const res = analyzeFile(path, { onProgress: (read, size) => { expect(size).toBe(statSync(path).size); seen.push(read); } });
    expect(res.cancelled).toBe(false);
    expect(seen.length).toBeGreaterThan(5);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
    expect(seen[seen.length - 1]).toBe(statSync(path).size);
    expect(res.report.file.packets).toBe(82582);
  });

  it('an AbortSignal stops analyzeFile early with partial results and a warning', () => {
    const path = capture('many-conns-loopback-echo.pcap');
    const ctl = new AbortController();
    const res = analyzeFile(path, { signal: ctl.signal, onProgress: () => ctl.abort() });
    expect(res.cancelled).toBe(true);
    expect(res.error).toBeNull();
    expect(res.report.file.packets).toBeGreaterThan(0);
    expect(res.report.file.packets).toBeLessThan(82582);
    expect(res.report.warnings.some((w) => /cancelled/.test(w.message))).toBe(true);
  });
});
