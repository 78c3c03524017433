import { FilterSyntaxError, tokenize, type Token } from './lexer.js';

/*
 * Display-filter grammar (tshark 4.0's precedence: `!` binds tightest, then `&&`, then `||`):
 *
 *   filter   := or END
 *   or       := and ( ("||" | "or") and )*
 *   and      := unary ( ("&&" | "and") unary )*
 *   unary    := ("!" | "not") unary | "(" or ")" | test
 *   test     := operand [ OP operand | "contains" operand | "matches" operand | ["not"] "in" set ]
 *   set      := "{" item ( "," item )* "}"       item := operand [ ".." operand ]
 *   operand  := WORD | STRING
 *
 * The parser only builds the tree; which words are fields and what a value means is the
 * compiler's business (compile.ts), so every error here is about the shape of the text.
 */

export type CompareOp = '==' | '!=' | '===' | '!==' | '<' | '<=' | '>' | '>=';

export interface Operand {
  kind: 'word' | 'string';
  text: string;
  pos: number;
  len: number;
}

export interface SetItem {
  from: Operand;
  /** Set for a range item (`1..5`). */
  to: Operand | null;
}

export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr }
  | { kind: 'exists'; field: Operand }
  | { kind: 'compare'; op: CompareOp; left: Operand; right: Operand; opPos: number }
  | { kind: 'contains' | 'matches'; left: Operand; right: Operand; opPos: number }
  | { kind: 'in'; left: Operand; negated: boolean; items: SetItem[]; opPos: number };

class Parser {
  private k = 0;
  constructor(private readonly toks: Token[]) {}

  private get tok(): Token {
    return this.toks[this.k];
  }

  private is(kind: Token['kind']): boolean {
    return this.toks[this.k].kind === kind;
  }

  private next(): Token {
    return this.toks[this.k++];
  }

  /** tshark's wording, plus what would have been accepted here. */
  private unexpected(expected: string, t: Token = this.tok): never {
    if (t.kind === 'end') throw new FilterSyntaxError(`Unexpected end of filter expression: expected ${expected}.`, t.pos, 1);
    throw new FilterSyntaxError(`"${t.kind === 'string' ? `"${t.text}"` : t.text}" was unexpected in this context: expected ${expected}.`, t.pos, t.len);
  }

  parse(): Expr {
    if (this.is('end')) throw new FilterSyntaxError('The filter is empty.', 0, 1);
    const e = this.or();
    if (!this.is('end')) this.unexpected('"&&", "||" or the end of the filter');
    return e;
  }

  private or(): Expr {
    let e = this.and();
    while (this.is('or')) {
      this.next();
      e = { kind: 'or', left: e, right: this.and() };
    }
    return e;
  }

  private and(): Expr {
    let e = this.unary();
    while (this.is('and')) {
      this.next();
      e = { kind: 'and', left: e, right: this.unary() };
    }
    return e;
  }

  private unary(): Expr {
    const t = this.tok;
    if (t.kind === 'not') {
      this.next();
      return { kind: 'not', expr: this.unary() };
    }
    if (t.kind === 'lparen') {
      this.next();
      const e = this.or();
      if (!this.is('rparen')) {
        if (this.is('end')) throw new FilterSyntaxError('Unexpected end of filter expression: the "(" here is not closed.', t.pos, 1);
        this.unexpected('")" or "&&", "||"');
      }
      this.next();
      return e;
    }
    return this.test();
  }

  private operand(expected = 'a field name'): Operand {
    const t = this.tok;
    if (t.kind !== 'word' && t.kind !== 'string') this.unexpected(expected);
    this.next();
    return { kind: t.kind, text: t.text, pos: t.pos, len: t.len };
  }

  private test(): Expr {
    const left = this.operand();
    const t = this.tok;
    if (t.kind === 'op') {
      this.next();
      return { kind: 'compare', op: t.text as CompareOp, left, right: this.operand(`a value or field after "${t.text}"`), opPos: t.pos };
    }
    if (t.kind === 'contains' || t.kind === 'matches') {
      this.next();
      return { kind: t.kind, left, right: this.operand(`a ${t.kind === 'matches' ? 'quoted regular expression' : 'value'} after "${t.kind}"`), opPos: t.pos };
    }
    if (t.kind === 'in' || (t.kind === 'not' && this.toks[this.k + 1]?.kind === 'in')) {
      const negated = t.kind === 'not';
      if (negated) this.next();
      this.next();
      return { kind: 'in', left, negated, items: this.set(), opPos: t.pos };
    }
    return { kind: 'exists', field: left };
  }

  private set(): SetItem[] {
    if (!this.is('lbrace')) this.unexpected('"{" starting a set after "in"');
    this.next();
    const items: SetItem[] = [];
    for (;;) {
      const from = this.operand('a value in the set');
      let to: Operand | null = null;
      if (this.is('range')) {
        this.next();
        to = this.operand('the end of the range after ".."');
      }
      items.push({ from, to });
      if (this.is('comma')) {
        this.next();
        continue;
      }
      if (this.is('rbrace')) {
        this.next();
        return items;
      }
      this.unexpected('"," or "}" (set members are separated by commas)');
    }
  }
}

/** Parses filter text into a tree; throws FilterSyntaxError (message, 0-based position, length). */
export function parseFilter(text: string): Expr {
  return new Parser(tokenize(text)).parse();
}
