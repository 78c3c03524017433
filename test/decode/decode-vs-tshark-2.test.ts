import { decodeVsTshark } from './decode-corpus.js';

decodeVsTshark(1, 3);
