import { decodeVsTshark } from './decode-corpus.js';

decodeVsTshark(2, 3);
