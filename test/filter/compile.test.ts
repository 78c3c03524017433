import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { tokenize } from '../../main/filter/lexer.js';
import { parseFilter } from '../../main/filter/parser.js';
import { compileDisplayFilter, describeFilterError } from '../../main/filter/compile.js';
import { ipv6Hex, readLiteral, inPrefix } from '../../main/filter/values.js';
import { fieldNames } from '../../main/filter/fields.js';
import { capture } from '../helpers/captures.js';
import { rngUint32 } from '../helpers/rng.js';

describe('lexer', () => {
  it('words keep addresses, CIDR and MACs whole; ".." splits a range; word operators become symbols', () => {
    const t = tokenize('ip.addr==10.0.0.0/8 and eth.src eq 00:11:22:33:44:55 or tcp.port in {1..5, 0x50} && !udp ~= 3');
    expect(t.map((x) => `${x.kind}:${x.text}`)).toEqual([
      'word:ip.addr', 'op:==', 'word:10.0.0.0/8', 'and:and', 'word:eth.src', 'op:==', 'word:00:11:22:33:44:55', 'or:or',
      'word:tcp.port', 'in:in', 'lbrace:{', 'word:1', 'range:..', 'word:5', 'comma:,', 'word:0x50', 'rbrace:}', 'and:&&', 'not:!', 'word:udp',
      'op:!==', 'word:3', 'end:',
    ]);
    expect(t[2]).toMatchObject({ pos: 9, len: 10 });
  });
  it('strings resolve escapes; an unclosed string or stray character is an error at its position', () => {
    expect(tokenize('"a\\"b\\x41\\101\\n"')[0]).toMatchObject({ kind: 'string', text: 'a"bAA\n' });
    expect(() => tokenize('http.host == "abc')).toThrow('The string has no closing quote.');
    expect(() => tokenize('tcp.port == 80 ; x')).toThrow('";" was unexpected in this context.');
  });
});

describe('parser', () => {
  it('! binds tighter than &&, && tighter than ||, as tshark 4.0', () => {
    const e = parseFilter('a || b && !c');
    expect(e.kind).toBe('or');
    if (e.kind !== 'or') return;
    expect(e.right.kind).toBe('and');
    if (e.right.kind !== 'and') return;
    expect(e.right.right.kind).toBe('not');
  });
  it('tests, sets with ranges, not in, parentheses', () => {
    expect(parseFilter('tcp.port not in {80, 8000..8080}')).toMatchObject({ kind: 'in', negated: true, items: [{ from: { text: '80' }, to: null }, { from: { text: '8000' }, to: { text: '8080' } }] });
    expect(parseFilter('(tcp)')).toMatchObject({ kind: 'exists', field: { text: 'tcp' } });
    expect(parseFilter('http.host contains "x"')).toMatchObject({ kind: 'contains', right: { kind: 'string', text: 'x' } });
  });
});

describe('literals', () => {
  it('numbers as Wireshark reads them: decimal, 0x hex, 0 octal', () => {
    const o = (text: string) => ({ kind: 'word' as const, text, pos: 0, len: text.length });
    expect(readLiteral(o('80'), 'uint', 'tcp.port').value).toBe(80);
    expect(readLiteral(o('0x50'), 'uint', 'tcp.port').value).toBe(80);
    expect(readLiteral(o('0120'), 'uint', 'tcp.port').value).toBe(80);
    expect(readLiteral(o('True'), 'bool', 'tcp.flags.syn').value).toBe(1);
    expect(readLiteral(o('2'), 'bool', 'tcp.flags.syn').value).toBe(1);
  });
  it('IPv6 text and prefixes', () => {
    expect(ipv6Hex('2001:db8::1')).toBe('20010db8000000000000000000000001');
    expect(ipv6Hex('::ffff:10.0.0.1')).toBe('00000000000000000000ffff0a000001');
    expect(ipv6Hex('1::2::3')).toBeNull();
    const o = (text: string) => ({ kind: 'word' as const, text, pos: 0, len: text.length });
    const lit = readLiteral(o('fe80::/10'), 'ipv6', 'ipv6.addr');
    expect(inPrefix(ipv6Hex('fe80::1')!, lit, 'ipv6')).toBe(true);
    expect(inPrefix(ipv6Hex('febf::1')!, lit, 'ipv6')).toBe(true);
    expect(inPrefix(ipv6Hex('fec0::1')!, lit, 'ipv6')).toBe(false);
    const v4 = readLiteral(o('10.1.0.0/15'), 'ipv4', 'ip.addr');
    expect(inPrefix(0x0a000001, v4, 'ipv4')).toBe(true);
    expect(inPrefix(0x0a010001, v4, 'ipv4')).toBe(true);
    expect(inPrefix(0x0a020001, v4, 'ipv4')).toBe(false);
  });
  it('the registry names the fields of the issue', () => {
    const names = fieldNames();
    for (const f of ['frame.number', 'frame.len', 'frame.time_relative', 'frame.time_epoch', 'frame.interface_id', 'eth', 'vlan.id', 'vxlan.vni', 'geneve.vni',
      'gre.key', 'erspan.spanid', 'ip.src', 'ip.dst', 'ip.addr', 'ip.proto', 'ip.ttl', 'ip.len', 'ipv6.src', 'ipv6.nxt', 'ipv6.hlim', 'ipv6.plen', 'tcp.srcport',
      'tcp.stream', 'tcp.len', 'tcp.seq', 'tcp.ack', 'tcp.flags.syn', 'tcp.window_size', 'tcp.analysis.flags', 'tcp.analysis.duplicate_ack_num',
      'tcp.analysis.retransmission', 'udp.stream', 'icmp.type', 'icmp.code', 'http.request.method', 'http.request.uri', 'http.request.version', 'http.host',
      'http.response.code', 'http.content_type', 'http.request', 'http.response', 'dns.qry.name', 'dns.qry.type', 'dns.flags.response', 'dns.flags.rcode', 'dns.a',
      'tls.handshake.type', 'tls.handshake.extensions_server_name', 'tls.alert_message', 'quic.version']) expect(names).toContain(f);
  });
});

/*
 * Broken filters: Tapscope's one-line message and the column it points at; tshark must reject
 * each of them too (so the table cannot list a filter tshark accepts).
 */
const BROKEN: [string, string, number][] = [
  ['tcp.prot == 1', 'tcp.prot is neither a field nor a protocol name.', 1],
  ['foo', 'foo is neither a field nor a protocol name.', 1],
  ['tcp.port == 80 && bogus.field', 'bogus.field is neither a field nor a protocol name.', 19],
  ['tcp.port ==', 'Unexpected end of filter expression: expected a value or field after "==".', 12],
  ['tcp.port == 80 &&', 'Unexpected end of filter expression: expected a field name.', 18],
  ['(tcp.port == 80', 'Unexpected end of filter expression: the "(" here is not closed.', 1],
  ['tcp.port == 80)', '")" was unexpected in this context: expected "&&", "||" or the end of the filter.', 15],
  ['tcp.port == 80 80', '"80" was unexpected in this context: expected "&&", "||" or the end of the filter.', 16],
  ['tcp.port in {80 443}', '"443" was unexpected in this context: expected "," or "}" (set members are separated by commas).', 17],
  ['tcp.port in 80', '"80" was unexpected in this context: expected "{" starting a set after "in".', 13],
  ['ip.addr == 1.2.3.4/33', 'Netmask bits in a CIDR IPv4 address should be <= 32, not 33', 12],
  ['ip.addr == 1.2.3.256', '"1.2.3.256" is not a valid IPv4 address (host names are not resolved).', 12],
  ['ip.addr == "10.0.0.1"', 'IPv4 address cannot be converted from a string ("10.0.0.1").', 12],
  ['ipv6.addr == 1::2::3', '"1::2::3" is not a valid IPv6 address (host names are not resolved).', 14],
  ['tcp.port == "abc"', 'Unsigned integer cannot be converted from a string ("abc").', 13],
  ['tcp.port == 8_0', '"8_0" is not a valid number.', 13],
  ['frame.len == 1e2', '"1e2" is not a valid number.', 14],
  ['tcp.flags.syn == true', '"true" cannot be found among the possible values for tcp.flags.syn.', 18],
  ['tcp.port contains "8"', 'tcp.port is an Unsigned integer: "contains" needs a string field.', 1],
  ['http.host matches "("', '"(" is not a valid regular expression: Unterminated group.', 19],
  ['http.host == "a', 'The string has no closing quote.', 14],
  ['tcp.port == 80 xor udp', '"xor" was unexpected in this context: expected "&&", "||" or the end of the filter.', 16],
  ['eth.src == 00:11:22:33:44', '"00:11:22:33:44" is not a valid hardware address.', 12],
  ['tcp.analysis.retransmission == 1', 'tcp.analysis.retransmission can only be tested for presence (write "tcp.analysis.retransmission" alone), it has no value to compare.', 32],
  ['', 'The filter is empty.', 1],
  ['1 == 1', 'Left side of "==" expression must be a field, not 1.', 1],
];

describe('broken filters: one line saying what was expected and where', () => {
  it.each(BROKEN)('%s', (text, message, column) => {
    const r = compileDisplayFilter(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toBe(message);
    expect(r.error.column).toBe(column);
    expect(r.error.message).not.toContain('\n');
    const shown = describeFilterError(text, r.error).split('\n');
    expect(shown[2].indexOf('^') - 4).toBe(column - 1);
    if (text === '') return; // tshark reads an empty filter as no filter
    const t = spawnSync('tshark', ['-r', capture('http-get-basic.pcap'), '-Y', text], { encoding: 'utf8' });
    expect(t.status, `tshark accepted ${text}`).not.toBe(0);
  });
});

describe('hostile filter text', () => {
  it('20,000 random filters from the language\'s pieces: never a throw, always one line and a column inside the text', () => {
    const pieces = ['tcp.port', 'ip.addr', '==', '!=', '&&', '||', '!', '(', ')', '{', '}', ',', '..', '"x"', '"', '\\', '80', '10.0.0.0/8', 'in', 'not',
      'contains', 'matches', '"(?i)a"', ' ', 'http.host', '0x', '::1', 'fe80::/10', '~', '===', '$', '[', 'tcp', 'a.b'];
    const next = rngUint32(14);
    let accepted = 0;
    for (let k = 0; k < 20000; k++) {
      let t = '';
      for (let j = 0, n = 1 + (next() % 12); j < n; j++) t += pieces[next() % pieces.length] + (next() % 2 ? ' ' : '');
      const r = compileDisplayFilter(t);
      if (r.ok) {
        accepted++;
        continue;
      }
      expect(r.error.message).not.toContain('\n');
      expect(r.error.column).toBeGreaterThanOrEqual(1);
      expect(r.error.column).toBeLessThanOrEqual(t.length + 1);
    }
    expect(accepted).toBeGreaterThan(100);
    expect(compileDisplayFilter('('.repeat(3000) + 'tcp' + ')'.repeat(3000)).ok).toBe(true);
  });
});
