import { writerVsTshark } from './writer-corpus.js';

writerVsTshark(1, 3);
