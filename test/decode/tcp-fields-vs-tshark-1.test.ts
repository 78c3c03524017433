import { tcpFieldsVsTshark } from './tcp-fields-corpus.js';

tcpFieldsVsTshark(0, 2);
