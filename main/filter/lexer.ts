/*
 * Display-filter tokens (Wireshark's language, as tshark 4.0 reads it). Unquoted words are
 * kept whole (field names, numbers, addresses, MACs, CIDR prefixes, bare strings such as GET):
 * what a word means depends on the field it is compared with, decided by the compiler.
 * A ".." inside a word is the range operator of a set ({1..5}); no field name contains one.
 */

export type TokenKind =
  | 'word' | 'string' | 'op' | 'and' | 'or' | 'not' | 'in' | 'contains' | 'matches'
  | 'lparen' | 'rparen' | 'lbrace' | 'rbrace' | 'comma' | 'range' | 'end';

export interface Token {
  kind: TokenKind;
  /** The word, the string's value (escapes resolved), or the canonical operator (==, !=, ===, !==, <, <=, >, >=). */
  text: string;
  /** 0-based offset and length in the filter text. */
  pos: number;
  len: number;
}

export class FilterSyntaxError extends Error {
  override name = 'FilterSyntaxError';
  constructor(message: string, readonly pos: number, readonly len: number) {
    super(message);
  }
}

/** Word operators and their symbols. `~=` is tshark's old spelling of `!==` (any not equal). */
const WORD_OPS: Record<string, string> = {
  eq: '==', any_eq: '==', ne: '!=', all_ne: '!=', all_eq: '===', any_ne: '!==', gt: '>', ge: '>=', lt: '<', le: '<=',
};
const KEYWORDS: Record<string, TokenKind> = { and: 'and', or: 'or', not: 'not', in: 'in', contains: 'contains', matches: 'matches' };
const SYMBOL_OPS = ['===', '!==', '==', '!=', '~=', '<=', '>=', '<', '>', '~'];

const WORD_CHAR = /[A-Za-z0-9_.:/\-+]/;

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, t: string, pos: number, len: number): void => {
    out.push({ kind, text: t, pos, len });
  };
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '"') {
      i = readString(text, i, push);
      continue;
    }
    if (text.startsWith('&&', i)) {
      push('and', '&&', i, 2);
      i += 2;
      continue;
    }
    if (text.startsWith('||', i)) {
      push('or', '||', i, 2);
      i += 2;
      continue;
    }
    const sym = SYMBOL_OPS.find((s) => text.startsWith(s, i));
    if (sym) {
      push(sym === '~' ? 'matches' : 'op', sym === '~=' ? '!==' : sym, i, sym.length);
      i += sym.length;
      continue;
    }
    const single: Record<string, TokenKind> = { '!': 'not', '(': 'lparen', ')': 'rparen', '{': 'lbrace', '}': 'rbrace', ',': 'comma' };
    if (single[c]) {
      push(single[c], c, i, 1);
      i++;
      continue;
    }
    if (WORD_CHAR.test(c)) {
      const start = i;
      while (i < text.length && WORD_CHAR.test(text[i])) i++;
      splitWord(text.slice(start, i), start, push);
      continue;
    }
    throw new FilterSyntaxError(`"${c}" was unexpected in this context.`, i, 1);
  }
  push('end', '', text.length, 0);
  return out;
}

/** A word, or words around ".." range operators ("1..5" is 1, .., 5). */
function splitWord(w: string, start: number, push: (k: TokenKind, t: string, p: number, l: number) => void): void {
  let from = 0;
  for (let k = w.indexOf('..'); k >= 0; k = w.indexOf('..', from)) {
    if (k > from) wordToken(w.slice(from, k), start + from, push);
    push('range', '..', start + k, 2);
    from = k + 2;
  }
  if (from < w.length) wordToken(w.slice(from), start + from, push);
}

function wordToken(w: string, pos: number, push: (k: TokenKind, t: string, p: number, l: number) => void): void {
  const kw = KEYWORDS[w];
  if (kw) return push(kw, w, pos, w.length);
  const op = WORD_OPS[w];
  if (op) return push('op', op, pos, w.length);
  push('word', w, pos, w.length);
}

/** A double-quoted string: \\ \" \n \t \r \xHH and \ooo (octal) escapes, as Wireshark's. */
function readString(text: string, start: number, push: (k: TokenKind, t: string, p: number, l: number) => void): number {
  let i = start + 1;
  let v = '';
  while (i < text.length && text[i] !== '"') {
    if (text[i] !== '\\') {
      v += text[i++];
      continue;
    }
    const e = text[i + 1];
    if (e === undefined) break;
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };
    if (simple[e] !== undefined) {
      v += simple[e];
      i += 2;
    } else if (e === 'x' && /^[0-9A-Fa-f]{1,2}/.test(text.slice(i + 2, i + 4))) {
      const h = /^[0-9A-Fa-f]{1,2}/.exec(text.slice(i + 2, i + 4))![0];
      v += String.fromCharCode(parseInt(h, 16));
      i += 2 + h.length;
    } else if (/[0-7]/.test(e)) {
      const o = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4))![0];
      v += String.fromCharCode(parseInt(o, 8) & 0xff);
      i += 1 + o.length;
    } else throw new FilterSyntaxError(`"\\${e}" is not a valid escape sequence in a string.`, i, 2);
  }
  if (i >= text.length) throw new FilterSyntaxError('The string has no closing quote.', start, text.length - start);
  push('string', v, start, i + 1 - start);
  return i + 1;
}
