import { FilterSyntaxError } from './lexer.js';
import { parseFilter, type Expr, type Operand, type CompareOp } from './parser.js';
import { fieldDef, type Cost, type FieldDef } from './fields.js';
import { FilterValueError, inPrefix, readLiteral, typeText, type Literal, type Value } from './values.js';
import type { FilterContext } from './context.js';

/*
 * Semantic check and compilation of a parsed display filter into a predicate over a
 * FilterContext. Semantics of tshark 4.0 for fields that occur several times in a packet:
 * `==`, `<`, `contains`, `matches`, `in` hold when ANY occurrence satisfies them; `!=` when the
 * field is present and ALL occurrences differ ("all not equal"); `===` all equal; `!==` any
 * not equal. A test on an absent field is false (so `!(tcp.port == 80)` and `tcp.port != 80`
 * differ on UDP packets). `matches` is a PCRE-style regular expression, case-INsensitive as
 * tshark's is (`(?-i)` at the start makes it case-sensitive); `contains` and string `==` are
 * case-sensitive.
 */

export type Predicate = (c: FilterContext) => boolean;

export interface DisplayFilter {
  readonly text: string;
  readonly test: Predicate;
  /** The most expensive field read: index < connection < packet < app. */
  readonly cost: Cost;
  /** Every field read is the same in both directions of a connection: decidable once per connection. */
  readonly perConnection: boolean;
  /** The fields the filter names. */
  readonly fields: string[];
}

export interface FilterError {
  /** One line: what was expected and where. */
  message: string;
  /** 1-based column where the error starts, and how many characters it covers. */
  column: number;
  length: number;
}

export type CompileResult = { ok: true; filter: DisplayFilter } | { ok: false; error: FilterError };

const COST_ORDER: Cost[] = ['index', 'connection', 'packet', 'app'];

class SemanticError extends Error {
  constructor(message: string, readonly pos: number, readonly len: number) {
    super(message);
  }
}

/** Compiles filter text. Never throws: a broken filter comes back as { ok: false, error }. */
export function compileDisplayFilter(text: string): CompileResult {
  try {
    const ast = parseFilter(text);
    const used = new Set<FieldDef>();
    const test = compileExpr(ast, used);
    let cost: Cost = 'index';
    for (const f of used) if (COST_ORDER.indexOf(f.cost) > COST_ORDER.indexOf(cost)) cost = f.cost;
    const perConnection = [...used].every((f) => f.symmetric === true);
    return { ok: true, filter: { text, test, cost, perConnection, fields: [...used].map((f) => f.name) } };
  } catch (e) {
    if (e instanceof FilterSyntaxError || e instanceof SemanticError) return { ok: false, error: { message: e.message, column: e.pos + 1, length: Math.max(1, e.len) } };
    if (e instanceof FilterValueError) return { ok: false, error: { message: e.message, column: e.operand.pos + 1, length: Math.max(1, e.operand.len) } };
    throw e;
  }
}

/** The message with the filter and a caret line under the error, as tshark prints it. */
export function describeFilterError(text: string, err: FilterError): string {
  const caret = ' '.repeat(err.column - 1) + '^' + '~'.repeat(Math.max(0, Math.min(err.length, text.length - err.column + 1) - 1));
  return `${err.message}\n    ${text}\n    ${caret}`;
}

function fieldOf(o: Operand, used: Set<FieldDef>, role: 'test' | string): FieldDef {
  const f = o.kind === 'word' ? fieldDef(o.text) : undefined;
  if (!f) {
    if (role === 'test' || looksLikeField(o)) throw new SemanticError(`${o.kind === 'string' ? `"${o.text}"` : o.text} is neither a field nor a protocol name.`, o.pos, o.len);
    throw new SemanticError(`Left side of "${role}" expression must be a field, not ${o.kind === 'string' ? `"${o.text}"` : o.text}.`, o.pos, o.len);
  }
  used.add(f);
  return f;
}

/** A word that names no value of any type but has the shape of a field name (tcp.prot). */
function looksLikeField(o: Operand): boolean {
  return o.kind === 'word' && /^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/.test(o.text) && /[a-z]/.test(o.text);
}

function compileExpr(e: Expr, used: Set<FieldDef>): Predicate {
  switch (e.kind) {
    case 'and': {
      const a = compileExpr(e.left, used);
      const b = compileExpr(e.right, used);
      return (c) => a(c) && b(c);
    }
    case 'or': {
      const a = compileExpr(e.left, used);
      const b = compileExpr(e.right, used);
      return (c) => a(c) || b(c);
    }
    case 'not': {
      const a = compileExpr(e.expr, used);
      return (c) => !a(c);
    }
    case 'exists': {
      const f = fieldOf(e.field, used, 'test');
      const buf: Value[] = [];
      return (c) => {
        buf.length = 0;
        f.get(c, buf);
        return buf.length > 0;
      };
    }
    case 'compare':
      return compileCompare(e.op, e.left, e.right, used);
    case 'contains':
    case 'matches':
      return compileStringTest(e.kind, e.left, e.right, used);
    case 'in':
      return compileIn(e.left, e.negated, e.items, used);
  }
}

type Check = (v: Value) => boolean;

function presenceOnly(f: FieldDef, o: Operand): void {
  if (f.type === 'protocol' || f.type === 'none') {
    throw new SemanticError(`${f.name} can only be tested for presence (write "${f.name}" alone), it has no value to compare.`, o.pos, o.len);
  }
}

/** A check of one value against a literal for an operator. */
function checkFor(op: CompareOp, f: FieldDef, lit: Literal): Check {
  const ordered = (cmp: (a: number | string, b: number | string) => boolean): Check => (v) => cmp(v, lit.value);
  if (f.type === 'ipv4' || f.type === 'ipv6') {
    const t = f.type;
    if (op === '==' || op === '!=' || op === '===' || op === '!==') return (v) => inPrefix(v, lit, t);
    if (lit.prefix !== (t === 'ipv4' ? 32 : 128)) throw new SemanticError(`"${lit.from.text}": a prefix can only be tested with == or !=.`, lit.from.pos, lit.from.len);
  }
  if (f.type === 'bool' && (op === '==' || op === '!=' || op === '===' || op === '!==')) return (v) => (v !== 0 ? 1 : 0) === lit.value;
  switch (op) {
    case '==': case '!=': case '===': case '!==': return (v) => v === lit.value;
    case '<': return ordered((a, b) => a < b);
    case '<=': return ordered((a, b) => a <= b);
    case '>': return ordered((a, b) => a > b);
    case '>=': return ordered((a, b) => a >= b);
  }
}

/** Any/all semantics over the field's occurrences. */
function quantify(f: FieldDef, op: CompareOp, check: Check): Predicate {
  const buf: Value[] = [];
  const read = (c: FilterContext): Value[] => {
    buf.length = 0;
    f.get(c, buf);
    return buf;
  };
  switch (op) {
    case '!=': return (c) => {
      const vs = read(c);
      return vs.length > 0 && vs.every((v) => !check(v));
    };
    case '===': return (c) => {
      const vs = read(c);
      return vs.length > 0 && vs.every(check);
    };
    case '!==': return (c) => read(c).some((v) => !check(v));
    default: return (c) => read(c).some(check);
  }
}

function compileCompare(op: CompareOp, left: Operand, right: Operand, used: Set<FieldDef>): Predicate {
  const f = fieldOf(left, used, op);
  presenceOnly(f, right);
  const other = right.kind === 'word' ? fieldDef(right.text) : undefined;
  if (other && right.kind === 'word' && !isLiteralOf(right, f)) {
    // field OP field: any pair of occurrences (tshark's semantics for two fields).
    used.add(other);
    if (other.type !== f.type && !(isNumeric(f) && isNumeric(other))) {
      throw new SemanticError(`${f.name} and ${other.name} are of different types (${typeText(f.type)}, ${typeText(other.type)}) and cannot be compared.`, right.pos, right.len);
    }
    const a: Value[] = [];
    const b: Value[] = [];
    const cmp = checkOp(op);
    return (c) => {
      a.length = 0;
      b.length = 0;
      f.get(c, a);
      other.get(c, b);
      if (op === '!=') return a.length > 0 && b.length > 0 && a.every((x) => b.every((y) => x !== y));
      return a.some((x) => b.some((y) => cmp(x, y)));
    };
  }
  const lit = readLiteral(right, f.type, f.name, f.names);
  return quantify(f, op, checkFor(op, f, lit));
}

function isNumeric(f: FieldDef): boolean {
  return f.type === 'uint' || f.type === 'int' || f.type === 'float' || f.type === 'bool';
}

function isLiteralOf(o: Operand, f: FieldDef): boolean {
  try {
    readLiteral(o, f.type, f.name, f.names);
    return f.type !== 'string';
  } catch {
    return false;
  }
}

function checkOp(op: CompareOp): (a: Value, b: Value) => boolean {
  switch (op) {
    case '<': return (a, b) => a < b;
    case '<=': return (a, b) => a <= b;
    case '>': return (a, b) => a > b;
    case '>=': return (a, b) => a >= b;
    default: return (a, b) => a === b;
  }
}

function compileStringTest(kind: 'contains' | 'matches', left: Operand, right: Operand, used: Set<FieldDef>): Predicate {
  const f = fieldOf(left, used, kind);
  presenceOnly(f, right);
  if (f.type !== 'string') {
    throw new SemanticError(`${f.name} is a${/^[AEIOU]/.test(typeText(f.type)) ? 'n' : ''} ${typeText(f.type)}: "${kind}" needs a string field.`, left.pos, left.len);
  }
  let check: Check;
  if (kind === 'contains') {
    const needle = right.text;
    check = (v) => (v as string).includes(needle);
  } else {
    check = (v) => re.test(v as string);
    let re: RegExp;
    if (right.kind !== 'string') throw new SemanticError(`"matches" needs a quoted regular expression, not ${right.text}.`, right.pos, right.len);
    let src = right.text;
    const flags = new Set(['s', 'i']);
    // PCRE's leading inline flags, (?i) (?m) (?-i): JavaScript takes them as flags.
    for (let m = /^\(\?(-?)([ims]+)\)/.exec(src); m; m = /^\(\?(-?)([ims]+)\)/.exec(src)) {
      for (const x of m[2]) if (m[1]) flags.delete(x); else flags.add(x);
      src = src.slice(m[0].length);
    }
    try {
      re = new RegExp(src, [...flags].join(''));
    } catch (e) {
      throw new SemanticError(`"${right.text}" is not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '').replace(/\.$/, '')}.`, right.pos, right.len);
    }
  }
  return quantify(f, '==', check);
}

function compileIn(left: Operand, negated: boolean, items: { from: Operand; to: Operand | null }[], used: Set<FieldDef>): Predicate {
  const f = fieldOf(left, used, 'in');
  presenceOnly(f, items[0].from);
  const checks: Check[] = items.map(({ from, to }) => {
    const a = readLiteral(from, f.type, f.name, f.names);
    if (!to) return checkFor('==', f, a);
    if (!isNumeric(f) && f.type !== 'ipv4') throw new SemanticError(`A range needs numbers or IPv4 addresses; ${f.name} is a ${typeText(f.type)}.`, from.pos, to.pos + to.len - from.pos);
    const b = readLiteral(to, f.type, f.name, f.names);
    return (v) => v >= a.value && v <= b.value;
  });
  const any: Check = (v) => checks.some((k) => k(v));
  const p = quantify(f, '==', any);
  if (!negated) return p;
  // tshark 4.0: "not in" is the negation of "in" on a present field.
  const buf: Value[] = [];
  return (c) => {
    buf.length = 0;
    f.get(c, buf);
    return buf.length > 0 && !p(c);
  };
}
