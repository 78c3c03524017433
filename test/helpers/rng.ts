/** Deterministic 32-bit PRNG (mulberry32), so a failing random case can be reproduced from its seed. */
export function rngUint32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The same generator as floats in [0, 1). */
export function rngUnit(seed: number): () => number {
  const next = rngUint32(seed);
  return () => next() / 4294967296;
}
