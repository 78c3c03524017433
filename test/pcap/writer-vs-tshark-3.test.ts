import { writerVsTshark } from './writer-corpus.js';

writerVsTshark(2, 3);
