import { writerVsTshark } from './writer-corpus.js';

writerVsTshark(0, 3);
