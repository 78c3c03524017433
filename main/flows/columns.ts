/** Typed arrays that some tables grow by doubling (one copy per doubling, nothing per row). */
export type TypedColumn = Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array;

/** A copy of `a` with room for `n` elements (n > a.length), the new tail zeroed or `fill`ed. */
export function grown<T extends TypedColumn>(a: T, n: number, fill = 0): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

/** Next power of two >= n (n >= 1). */
export function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
