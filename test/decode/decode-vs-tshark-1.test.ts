import { decodeVsTshark } from './decode-corpus.js';

decodeVsTshark(0, 3);
