import { describe } from 'vitest';
import { compareWithTshark } from './protocols-vs-tshark.js';

// HTTP, DNS and TLS against tshark, part 1 of 2 of the corpus (see protocols-vs-tshark.ts).
describe('HTTP, DNS and TLS match tshark (corpus part 1 of 2)', () => {
  compareWithTshark((_name, i) => i % 2 === 0);
});
