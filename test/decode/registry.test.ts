import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder, parseDecodeAs } from '../../main/decode/decoder.js';
import { DECODERS, type DecodeFn } from '../../main/decode/registry.js';
import { PROTO_NAMES } from '../../main/decode/protocols.js';
import { openCapture } from '../../main/pcap/reader.js';
import { allCaptures, capture, decodeAsFor, REPO_ROOT } from '../helpers/captures.js';
import { writeCrafted } from './craft.js';

/*
 * The protocol registry stays honest: every protocol id has a decoder that lives in its own
 * file under main/decode/, and every decoder is reached by packets of a capture that a
 * tshark comparison test covers (the corpus: decode-vs-tshark-*.test.ts; crafted captures:
 * crafted.test.ts). A new protocol without a decoder, a file or a capture fails here.
 */
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tapscope-registry-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const nameOf = (fn: DecodeFn) => fn.name.replace(/^decode/, '').toLowerCase();

describe('protocol registry', () => {
  it('every protocol id has a registered decoder, defined in a main/decode file', () => {
    const sources = readdirSync(join(REPO_ROOT, 'main/decode')).map((f) => readFileSync(join(REPO_ROOT, 'main/decode', f), 'utf8'));
    expect(DECODERS.length).toBeGreaterThan(1);
    for (let id = 1; id < DECODERS.length; id++) {
      const fn = DECODERS[id];
      expect(fn, `protocol id ${id}`).toBeTypeOf('function');
      const defined = sources.filter((s) => s.includes(`export function ${fn!.name}(`));
      expect(defined.length, `${fn!.name} defined once`).toBe(1);
    }
    // Every name Decode As accepts is a protocol with a decoder.
    for (const [name, id] of Object.entries(PROTO_NAMES)) expect(nameOf(DECODERS[id]!), name).toBe(name);
  });

  it('every decoder is exercised by a corpus or crafted capture', () => {
    const hits = new Map<number, number>();
    const saved = DECODERS.slice();
    try {
      for (let id = 1; id < DECODERS.length; id++) {
        const fn = saved[id]!;
        DECODERS[id] = (f, t) => { hits.set(id, (hits.get(id) ?? 0) + 1); return fn(f, t); };
      }
      const files = [...allCaptures().map((n) => ({ path: capture(n), da: decodeAsFor(n).tapscope })), ...writeCrafted(dir).map((path) => ({ path, da: [] as string[] }))];
      for (const { path, da } of files) {
        const dec = new Decoder(da.map(parseDecodeAs));
        const r = openCapture(path);
        for (let p = r.next(); p; p = r.next()) dec.decode(p);
        r.close();
      }
    } finally {
      for (let id = 1; id < DECODERS.length; id++) DECODERS[id] = saved[id];
    }
    const missing = [];
    for (let id = 1; id < DECODERS.length; id++) if (!hits.get(id)) missing.push(nameOf(DECODERS[id]!));
    expect(missing).toEqual([]);
  });
});
