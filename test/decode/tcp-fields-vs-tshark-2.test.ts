import { tcpFieldsVsTshark } from './tcp-fields-corpus.js';

tcpFieldsVsTshark(1, 2);
