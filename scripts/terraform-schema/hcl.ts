/**
 * HCL's structure with line numbers: bodies, blocks (type, labels) and attributes (name, value
 * tokens). @cdktf/hcl2json drops positions and cannot tell `x { }` from `x = { }`; the schema
 * check needs both. Expressions are not evaluated: a value is its tokens, from which the check
 * reads literals and references. test/infra/terraform-schema.test.ts holds this reader to
 * hcl2json's on every file of terraform/.
 */

export interface Token {
  kind: 'ident' | 'number' | 'string' | 'heredoc' | 'punct' | 'newline';
  text: string;
  line: number;
  /** string / heredoc: the literal text when there is no interpolation. */
  literal?: string;
  /** string / heredoc: tokens of each `${...}` / `%{...}` inside. */
  inner?: Token[];
}

export interface Attribute {
  name: string;
  line: number;
  value: Token[];
}

export interface Block {
  type: string;
  labels: string[];
  line: number;
  body: Body;
}

export interface Body {
  attributes: Attribute[];
  blocks: Block[];
}

export class HclSyntaxError extends Error {
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file}:${line}: ${message}`);
  }
}

const PUNCT3 = ['...'];
const PUNCT2 = ['==', '!=', '<=', '>=', '&&', '||', '=>', '::'];
const PUNCT1 = '{}[]()=,.:?!+-*/%<>';

/** Tokens of HCL source, from `pos` until `end` or (inside an interpolation) the `}` closing it. */
class Lexer {
  pos = 0;
  line: number;

  constructor(private readonly src: string, private readonly file: string, line = 1) {
    this.line = line;
  }

  private fail(message: string): never {
    throw new HclSyntaxError(this.file, this.line, message);
  }

  /** Tokens until the end, or until an unmatched `}` when `nested` (the end of `${ ... }`). */
  tokens(nested = false): Token[] {
    const out: Token[] = [];
    let depth = 0;
    const src = this.src;
    while (this.pos < src.length) {
      const c = src[this.pos] as string;
      if (c === '\n') {
        out.push({ kind: 'newline', text: '\n', line: this.line });
        this.line++;
        this.pos++;
      } else if (c === ' ' || c === '\t' || c === '\r') {
        this.pos++;
      } else if (c === '#' || (c === '/' && src[this.pos + 1] === '/')) {
        while (this.pos < src.length && src[this.pos] !== '\n') this.pos++;
      } else if (c === '/' && src[this.pos + 1] === '*') {
        const close = src.indexOf('*/', this.pos + 2);
        if (close < 0) this.fail('unterminated /* comment');
        this.countLines(this.pos, close + 2);
        this.pos = close + 2;
      } else if (c === '"') {
        out.push(this.string());
      } else if (c === '<' && src[this.pos + 1] === '<' && /[-A-Za-z_]/.test(src[this.pos + 2] ?? '')) {
        out.push(this.heredoc());
      } else if (/[0-9]/.test(c)) {
        const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(src.slice(this.pos));
        const text = m?.[0] ?? c;
        out.push({ kind: 'number', text, line: this.line });
        this.pos += text.length;
      } else if (/[A-Za-z_]/.test(c)) {
        const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(this.pos));
        const text = m?.[0] ?? c;
        out.push({ kind: 'ident', text, line: this.line });
        this.pos += text.length;
      } else {
        const text = [...PUNCT3, ...PUNCT2].find((p) => src.startsWith(p, this.pos)) ?? (PUNCT1.includes(c) ? c : undefined);
        if (!text) this.fail(`unexpected character ${JSON.stringify(c)}`);
        if (nested && text === '}' && depth === 0) {
          this.pos++;
          return out;
        }
        if (text === '{') depth++;
        if (text === '}') depth--;
        out.push({ kind: 'punct', text, line: this.line });
        this.pos += text.length;
      }
    }
    if (nested) this.fail('unterminated ${ interpolation');
    return out;
  }

  private countLines(from: number, to: number): void {
    for (let i = from; i < to; i++) if (this.src[i] === '\n') this.line++;
  }

  /** A quoted template: literal text, `\` escapes, `${...}` / `%{...}` (`$${` and `%%{` are literal). */
  private string(): Token {
    const line = this.line;
    const start = this.pos;
    this.pos++;
    let literal = '';
    const inner: Token[] = [];
    let templated = false;
    const src = this.src;
    for (;;) {
      const c = src[this.pos];
      if (c === undefined || c === '\n') this.fail('unterminated string');
      if (c === '"') {
        this.pos++;
        break;
      }
      if (c === '\\') {
        const e = src[this.pos + 1] ?? '';
        literal += ({ n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' } as Record<string, string>)[e] ?? `\\${e}`;
        this.pos += 2;
      } else if ((c === '$' || c === '%') && src[this.pos + 1] === c && src[this.pos + 2] === '{') {
        literal += `${c}{`;
        this.pos += 3;
      } else if ((c === '$' || c === '%') && src[this.pos + 1] === '{') {
        templated = true;
        this.pos += 2;
        inner.push(...this.tokens(true));
      } else {
        literal += c;
        this.pos++;
      }
    }
    const text = src.slice(start, this.pos);
    return templated ? { kind: 'string', text, line, inner } : { kind: 'string', text, line, literal, inner };
  }

  /** `<<EOT` / `<<-EOT` up to the line holding only the marker; interpolations are read too. */
  private heredoc(): Token {
    const line = this.line;
    const m = /^<<-?([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n/.exec(this.src.slice(this.pos));
    if (!m?.[1]) this.fail('malformed heredoc');
    const bodyStart = this.pos + m[0].length;
    const endRe = new RegExp(`^[ \\t]*${m[1]}[ \\t]*$`, 'm');
    const rest = this.src.slice(bodyStart);
    const end = endRe.exec(rest);
    if (!end) this.fail(`heredoc ${m[1]} never ends`);
    const body = rest.slice(0, end.index);
    const inner: Token[] = [];
    // Interpolations inside, each read by a lexer placed on its own line.
    for (const piece of body.matchAll(/(?<![$%])[$%]\{/g)) {
      const before = body.slice(0, piece.index);
      const lexer = new Lexer(body, this.file, line + 1 + (before.match(/\n/g)?.length ?? 0));
      lexer.pos = (piece.index ?? 0) + 2;
      inner.push(...lexer.tokens(true));
    }
    const endPos = bodyStart + end.index + end[0].length;
    this.countLines(this.pos, endPos);
    const text = this.src.slice(this.pos, endPos);
    this.pos = endPos;
    return inner.length ? { kind: 'heredoc', text, line, inner } : { kind: 'heredoc', text, line, literal: body, inner };
  }
}

/** Bodies from tokens: `name = value` up to a newline outside brackets, `type "label" { body }`. */
class Parser {
  private i = 0;

  constructor(private readonly tokens: Token[], private readonly file: string) {}

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  private fail(token: Token | undefined, message: string): never {
    throw new HclSyntaxError(this.file, token?.line ?? this.tokens.at(-1)?.line ?? 1, message);
  }

  body(closing: boolean): Body {
    const body: Body = { attributes: [], blocks: [] };
    for (;;) {
      const t = this.peek();
      if (!t) {
        if (closing) this.fail(t, 'a block is not closed');
        return body;
      }
      if (t.kind === 'newline') {
        this.i++;
        continue;
      }
      if (t.kind === 'punct' && t.text === '}') {
        if (!closing) this.fail(t, 'unexpected }');
        this.i++;
        return body;
      }
      if (t.kind !== 'ident') this.fail(t, `expected an attribute or a block, found ${JSON.stringify(t.text)}`);
      const next = this.peek(1);
      if (next?.kind === 'punct' && next.text === '=') {
        this.i += 2;
        body.attributes.push({ name: t.text, line: t.line, value: this.expression() });
      } else {
        this.i++;
        const labels: string[] = [];
        while (this.peek()?.kind === 'string' || this.peek()?.kind === 'ident') {
          const label = this.peek() as Token;
          labels.push(label.kind === 'string' ? (label.literal ?? label.text) : label.text);
          this.i++;
        }
        const open = this.peek();
        if (open?.kind !== 'punct' || open.text !== '{') this.fail(open ?? t, `expected "=" or "{" after ${t.text}`);
        this.i++;
        body.blocks.push({ type: t.text, labels, line: t.line, body: this.body(true) });
      }
    }
  }

  /** Tokens up to a newline (or the `}` of a one-line block) outside brackets. */
  private expression(): Token[] {
    const value: Token[] = [];
    const stack: string[] = [];
    for (;;) {
      const t = this.peek();
      if (!t) break;
      if (stack.length === 0 && (t.kind === 'newline' || (t.kind === 'punct' && t.text === '}'))) break;
      if (t.kind === 'punct' && '([{'.includes(t.text)) stack.push(t.text);
      if (t.kind === 'punct' && ')]}'.includes(t.text)) {
        const open = stack.pop();
        if (open === undefined || '([{'.indexOf(open) !== ')]}'.indexOf(t.text)) this.fail(t, `unbalanced ${t.text}`);
      }
      this.i++;
      // Newlines inside brackets are kept: they separate the items of an object literal.
      value.push(t);
    }
    if (value.length === 0) this.fail(this.peek(), 'an attribute without a value');
    return value;
  }
}

export function parseHcl(file: string, source: string): Body {
  return new Parser(new Lexer(source, file).tokens(), file).body(false);
}
