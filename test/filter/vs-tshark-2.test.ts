import { describe, expect, it } from 'vitest';
import { PAIRS_2 } from './pairs.js';
import { tapscopeMatches, tsharkMatches } from './filter-oracle.js';

// Display filters against tshark 4.0, part 2 of 3 (pairs.ts).
describe('display filters keep the packets tshark -Y keeps (2/3)', () => {
  it.each(PAIRS_2)('%s: %s', (capture, filter) => {
    const expected = tsharkMatches(capture, filter);
    expect(tapscopeMatches(capture, filter)).toEqual(expected);
  });
});
