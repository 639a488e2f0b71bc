/**
 * A strict parser for the declarative subset of Starlark that `.rules` files use.
 *
 * The reference evaluates rules files with a full Starlark interpreter. We only
 * accept top-level call statements whose arguments are literals, and reject
 * every other construct with a located error, so that a file we do not fully
 * understand can never be silently mis-evaluated.
 */

export interface SourceLocation {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column, counted in Unicode code points (characters), as Starlark's code map does. */
  readonly col: number;
}

export type StarlarkValue =
  | { readonly kind: "string"; readonly value: string }
  /** A `b"..."` literal (later Codex): its content is irrelevant, since no builtin accepts bytes. */
  | { readonly kind: "bytes" }
  /** An f-string placeholder naming a variable, which no rules file can define: an error once the file is resolved. */
  | { readonly kind: "unresolved"; readonly name: string; readonly location: SourceLocation }
  | { readonly kind: "int"; readonly value: bigint }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "none" }
  | { readonly kind: "list"; readonly items: readonly StarlarkValue[] }
  | { readonly kind: "tuple"; readonly items: readonly StarlarkValue[] }
  | { readonly kind: "dict"; readonly entries: readonly (readonly [StarlarkValue, StarlarkValue])[] };

export interface CallArgument {
  /** Keyword name, or undefined for a positional argument. */
  readonly name: string | undefined;
  readonly value: StarlarkValue;
  readonly location: SourceLocation;
}

export interface CallStatement {
  readonly callee: string;
  readonly args: readonly CallArgument[];
  /** Location of the callee name, which is where the reference reports builtin errors. */
  readonly location: SourceLocation;
}

/**
 * Any error found in a rules file. The `starlark error: ` prefix mirrors the
 * reference, whose errors all surface through the Starlark evaluator, so that
 * substring checks written against the reference keep working.
 */
export class StarlarkError extends Error {
  constructor(
    readonly path: string,
    readonly location: SourceLocation,
    /** The message without location, e.g. `invalid decision: ask`. */
    readonly reason: string,
    /**
     * `syntax`: Starlark itself rejects the file while parsing, before anything runs.
     * `unsupported`: valid Starlark outside our declarative subset. `evaluation`: the rest.
     */
    readonly stage: "syntax" | "unsupported" | "evaluation" = "evaluation",
  ) {
    super(`${path}:${location.line}:${location.col}: starlark error: ${reason}`);
    this.name = "StarlarkError";
  }
}

/** Starlark's own type names, used in `(got <type>)` messages. */
export function starlarkTypeName(value: StarlarkValue): string {
  switch (value.kind) {
    case "string":
      return "string";
    case "none":
      return "NoneType";
    default:
      return value.kind;
  }
}

/** Parses a whole file. Syntax errors anywhere abort before anything is evaluated, as in Starlark. */
export function parseStarlark(path: string, source: string): CallStatement[] {
  return new Parser(path, tokenize(path, source)).parseFile();
}

// ---------------------------------------------------------------------------
// Lexer

type Token =
  | { readonly kind: "name" | "keyword" | "punct"; readonly text: string; readonly location: SourceLocation }
  | { readonly kind: "string"; readonly value: string; readonly location: SourceLocation }
  | { readonly kind: "bytes"; readonly location: SourceLocation }
  | { readonly kind: "unresolved"; readonly name: string; readonly location: SourceLocation }
  | { readonly kind: "int"; readonly value: bigint; readonly text: string; readonly location: SourceLocation }
  | { readonly kind: "float"; readonly value: number; readonly text: string; readonly location: SourceLocation }
  | { readonly kind: "newline" | "eof"; readonly location: SourceLocation };

/**
 * A lexing error becomes the last token, so that it is only reported if the
 * parser gets that far: an earlier unsupported construct is reported first, as
 * with Starlark's streaming lexer.
 */
type LexedToken = Token | { readonly kind: "error"; readonly error: StarlarkError };

/** Starlark keywords plus the words the Rust implementation reserves. */
const KEYWORDS = new Set([
  "and", "break", "continue", "def", "elif", "else", "for", "if", "in", "lambda", "load", "not", "or",
  "pass", "return", "while",
  "as", "assert", "async", "await", "class", "del", "except", "finally", "from", "global", "import", "is",
  "nonlocal", "raise", "try", "with", "yield",
]);

/** Longest first, so that the lexer picks the longest operator. */
const PUNCTUATION = [
  "**=", "//=", "<<=", ">>=",
  "**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>", "->",
  "+", "-", "*", "/", "%", "=", "^", "<", ">", "&", "|", ".", ",", ";", ":", "~", "(", ")", "[", "]", "{", "}",
];

const OPENING_BRACKETS = new Set(["(", "[", "{"]);
const CLOSING_BRACKETS = new Set([")", "]", "}"]);

function isIdentifierStart(c: string): boolean {
  return /[A-Za-z_]/.test(c);
}

function isIdentifierPart(c: string): boolean {
  return /[A-Za-z0-9_]/.test(c);
}

/** Columns count characters, not UTF-16 code units: an emoji is one column. */
function codePointColumn(source: string, lineStart: number, at: number): number {
  let col = 1;
  for (let i = lineStart; i < at; i += 1) {
    const code = source.charCodeAt(i);
    // The low half of a surrogate pair belongs to the character already counted.
    if (!(code >= 0xdc00 && code <= 0xdfff && i > lineStart && isHighSurrogate(source.charCodeAt(i - 1)))) col += 1;
  }
  return col;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** String prefixes the Rust lexer knows; any other word before a quote is an identifier, then a string (a syntax error). */
const STRING_PREFIXES = new Map<string, { raw: boolean; form: "string" | "fstring" | "bytes" }>([
  ["r", { raw: true, form: "string" }],
  ["f", { raw: false, form: "fstring" }],
  ["fr", { raw: true, form: "fstring" }],
  // Bytes literals exist in later Codex (0.97 read `b` as a name, also a syntax error there).
  ["b", { raw: false, form: "bytes" }],
  ["rb", { raw: true, form: "bytes" }],
  ["br", { raw: true, form: "bytes" }],
]);

function tokenize(path: string, source: string): LexedToken[] {
  const tokens: LexedToken[] = [];
  let index = 0;
  let line = 1;
  let lineStart = 0;
  let bracketDepth = 0;
  let atLogicalLineStart = true;
  /** Indentation columns of the open blocks (`def`, `if`, `for` bodies); we reject those statements, but Starlark parses them first. */
  const indents = [1];

  const here = (at: number = index): SourceLocation => ({ line, col: codePointColumn(source, lineStart, at) });
  /** The location of any index at or after the current line's start (strings may span lines). */
  const locate = (at: number): SourceLocation => {
    let atLine = line;
    let atLineStart = lineStart;
    for (let i = lineStart; i < at; i += 1) {
      if (source[i] === "\n") {
        atLine += 1;
        atLineStart = i + 1;
      }
    }
    return { line: atLine, col: codePointColumn(source, atLineStart, at) };
  };
  const fail = (reason: string, location: SourceLocation = here()): never => {
    throw new StarlarkError(path, location, reason, "syntax");
  };
  const pushNewline = (): void => {
    const last = tokens[tokens.length - 1];
    if (last !== undefined && last.kind !== "newline") tokens.push({ kind: "newline", location: here() });
  };

  try {
    lexTokens();
  } catch (error) {
    if (!(error instanceof StarlarkError)) throw error;
    tokens.push({ kind: "error", error });
  }
  return tokens;

  function lexTokens(): void {
    while (index < source.length) {
      const c = source[index] ?? "";
      if (c === "\n" || (c === "\r" && source[index + 1] === "\n")) {
        // Inside brackets a newline is plain whitespace, as in Python and Starlark.
        if (bracketDepth === 0) {
          pushNewline();
          atLogicalLineStart = true;
        }
        index += c === "\r" ? 2 : 1;
        line += 1;
        lineStart = index;
        continue;
      }
      if (c === " ") {
        index += 1;
        continue;
      }
      // The Rust lexer refuses tabs outside strings and comments, even as indentation.
      if (c === "\t") fail("Parse error: tabs are not allowed");
      // A carriage return is only part of a CRLF line ending.
      if (c === "\r") fail("Parse error: invalid input `\r`");
      if (c === "\\") {
        // Backslash-newline joins two physical lines into one logical line.
        const newlineLength = source[index + 1] === "\n" ? 1 : source.startsWith("\r\n", index + 1) ? 2 : 0;
        if (newlineLength === 0) fail("Parse error: invalid input `\\`");
        index += 1 + newlineLength;
        line += 1;
        lineStart = index;
        continue;
      }
      if (c === "#") {
        // A comment alone on its line runs to the line feed; one after code ends
        // before a carriage return, so a lone one there is still refused (as Starlark's lexer does).
        const wholeLine = atLogicalLineStart && bracketDepth === 0;
        while (index < source.length && source[index] !== "\n" && (wholeLine || source[index] !== "\r")) index += 1;
        continue;
      }

      const location = here();
      if (atLogicalLineStart) checkIndentation(location.col);
      atLogicalLineStart = false;

      if (isIdentifierStart(c)) {
        let end = index + 1;
        while (end < source.length && isIdentifierPart(source[end] ?? "")) end += 1;
        const word = source.slice(index, end);
        const next = source[end];
        const prefix = next === '"' || next === "'" ? STRING_PREFIXES.get(word) : undefined;
        if (prefix !== undefined) {
          const literal = readString(source, end, prefix.raw, location, locate, fail);
          if (prefix.form === "bytes") tokens.push({ kind: "bytes", location });
          else if (prefix.form === "fstring") tokens.push(fStringToken(literal.value, location, fail));
          else tokens.push({ kind: "string", value: literal.value, location });
          advanceOver(literal.end);
          continue;
        }
        tokens.push({ kind: KEYWORDS.has(word) ? "keyword" : "name", text: word, location });
        index = end;
        continue;
      }

      if (c === '"' || c === "'") {
        const literal = readString(source, index, false, location, locate, fail);
        tokens.push({ kind: "string", value: literal.value, location });
        advanceOver(literal.end);
        continue;
      }

      if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(source[index + 1] ?? ""))) {
        const numberMatch = /^(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[0-9]*\.[0-9]*(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+|[0-9]+)/.exec(
          source.slice(index),
        );
        const text = numberMatch?.[0] ?? c;
        if (/^[0-9]+$/.test(text)) {
          if (text.length > 1 && text.startsWith("0")) fail(`Parse error: integer cannot have leading 0, got \`${text}\``, location);
          tokens.push({ kind: "int", value: BigInt(text), text, location });
        } else if (/^0[xXoObB]/.test(text)) {
          tokens.push({ kind: "int", value: BigInt(text.toLowerCase()), text, location });
        } else {
          tokens.push({ kind: "float", value: Number(text), text, location });
        }
        index += text.length;
        continue;
      }

      const punct = PUNCTUATION.find((p) => source.startsWith(p, index));
      if (punct === undefined) fail(`Parse error: invalid input \`${String.fromCodePoint(source.codePointAt(index) ?? 0)}\``, location);
      else {
        if (OPENING_BRACKETS.has(punct)) bracketDepth += 1;
        if (CLOSING_BRACKETS.has(punct) && bracketDepth > 0) bracketDepth -= 1;
        tokens.push({ kind: "punct", text: punct, location });
        index += punct.length;
      }
    }
    // The end of a file that ends with a line break has no line of its own:
    // Starlark's code map then reports the start of the file (1:1).
    const end = source.endsWith("\n") ? { line: 1, col: 1 } : here();
    const last = tokens[tokens.length - 1];
    if (last !== undefined && last.kind !== "newline") tokens.push({ kind: "newline", location: end });
    tokens.push({ kind: "eof", location: end });
  }

  /**
   * A deeper line must open a block (the previous line ended with `:`), and a
   * shallower one must return to an enclosing block's column. Starlark reports
   * indentation errors from the line's first column.
   */
  function checkIndentation(col: number): void {
    const previous = tokens.findLast((token) => token.kind !== "newline");
    const opensBlock = previous?.kind === "punct" && previous.text === ":";
    const current = indents[indents.length - 1] ?? 1;
    if (opensBlock) {
      if (col <= current) fail("Parse error: expected an indented block", { line, col: 1 });
      indents.push(col);
      return;
    }
    if (col > current) fail("Parse error: unexpected indentation", { line, col: 1 });
    while ((indents[indents.length - 1] ?? 1) > col) indents.pop();
    if (indents[indents.length - 1] !== col) fail("Parse error: unindent does not match any outer indentation level", { line, col: 1 });
  }

  /** Moves past a string literal, which may span lines when triple-quoted. */
  function advanceOver(end: number): void {
    for (let i = index; i < end; i += 1) {
      if (source[i] === "\n") {
        line += 1;
        lineStart = i + 1;
      }
    }
    index = end;
  }
}

/**
 * An f-string: `{{` and `}}` are literal braces; a `{name}` placeholder refers
 * to a variable, which a rules file can never define (Starlark then reports
 * "Variable `name` not found" before running anything).
 */
function fStringToken(value: string, location: SourceLocation, fail: (reason: string, location?: SourceLocation) => never): Token {
  let text = "";
  for (let i = 0; i < value.length; i += 1) {
    const c = value[i] ?? "";
    if ((c === "{" || c === "}") && value[i + 1] === c) {
      text += c;
      i += 1;
    } else if (c === "{") {
      const close = value.indexOf("}", i);
      const expression = close === -1 ? "" : value.slice(i + 1, close).trim();
      // The placeholder's column: after the prefix and quote, assuming no escapes before it.
      const at = { line: location.line, col: location.col + 2 + codePointColumn(value, 0, i) };
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(expression)) {
        return fail("f-string placeholders other than a single name are not supported in rules files", at);
      }
      return { kind: "unresolved", name: expression, location: at };
    } else {
      text += c;
    }
  }
  return { kind: "string", value: text, location };
}

interface StringLiteral {
  readonly value: string;
  /** Index just after the closing quote. */
  readonly end: number;
}

/** Decodes a string literal starting at its opening quote, with the escapes of the Rust Starlark lexer. */
function readString(
  source: string,
  quoteIndex: number,
  raw: boolean,
  location: SourceLocation,
  locate: (at: number) => SourceLocation,
  fail: (reason: string, location?: SourceLocation) => never,
): StringLiteral {
  const quote = source[quoteIndex] ?? '"';
  const triple = source.startsWith(quote.repeat(3), quoteIndex);
  const terminator = triple ? quote.repeat(3) : quote;
  let index = quoteIndex + terminator.length;
  let value = "";
  const unfinished = (): never => fail("Parse error: unfinished string literal", location);

  while (true) {
    if (index >= source.length) unfinished();
    if (source.startsWith(terminator, index)) return { value, end: index + terminator.length };
    const c = source[index] ?? "";
    index += 1;
    if (c === "\n" && !triple) unfinished();
    // The Rust lexer drops carriage returns inside strings, so CRLF files give the same values.
    if (c === "\r") continue;
    if (c !== "\\") {
      value += c;
      continue;
    }
    const escapeStart = index - 1;
    const escaped = source[index];
    if (escaped === undefined) unfinished();
    index += 1;
    if (raw) {
      // In Rust Starlark a raw string drops the backslash only before a quote.
      value += escaped === "'" || escaped === '"' ? escaped : `\\${escaped}`;
      continue;
    }
    const simple = SIMPLE_ESCAPES.get(escaped ?? "");
    if (simple !== undefined) {
      value += simple;
      continue;
    }
    if (escaped === "\r" && source[index] === "\n") {
      index += 1;
      continue;
    }
    const hexLength = NUMERIC_ESCAPES.get(escaped ?? "");
    const isOctal = /[0-7]/.test(escaped ?? "");
    if (hexLength !== undefined || isOctal) {
      // Octal takes 1 to 3 digits, starting with the escaped one; hex takes exactly `hexLength`.
      const digits = isOctal
        ? (/^[0-7]{1,3}/.exec(source.slice(index - 1))?.[0] ?? "")
        : (/^[0-9a-fA-F]*/.exec(source.slice(index))?.[0] ?? "").slice(0, hexLength);
      const codePoint = Number.parseInt(digits, isOctal ? 8 : 16);
      const complete = isOctal || digits.length === hexLength;
      const isScalar = codePoint <= 0x10ffff && !(codePoint >= 0xd800 && codePoint <= 0xdfff);
      if (!complete || !isScalar) {
        // Located at the escape's backslash, where the Rust lexer reports it.
        fail(`Parse error: invalid string escape sequence \`\\${isOctal ? "" : escaped}${digits}\``, locate(escapeStart));
      }
      value += String.fromCodePoint(codePoint);
      index += isOctal ? digits.length - 1 : digits.length;
      continue;
    }
    // Unknown escapes keep their backslash, as in the Rust lexer.
    value += `\\${escaped}`;
  }
}

const SIMPLE_ESCAPES = new Map([
  ["n", "\n"], ["r", "\r"], ["t", "\t"], ["a", "\x07"], ["b", "\b"], ["f", "\f"], ["v", "\v"],
  ["\n", ""], ['"', '"'], ["'", "'"], ["\\", "\\"],
]);

/** Escape letter → number of hex digits it requires. */
const NUMERIC_ESCAPES = new Map([["x", 2], ["u", 4], ["U", 8]]);

// ---------------------------------------------------------------------------
// Parser

/** Statements that Starlark has but rules files must not use, with the reason we give. */
const UNSUPPORTED_STATEMENT_KEYWORDS = new Map([
  ["def", "function definitions (`def`) are not supported in rules files"],
  ["load", "`load` is not supported in rules files: they cannot load other modules"],
  ["if", "`if` statements are not supported in rules files"],
  ["for", "`for` loops are not supported in rules files"],
  ["while", "`while` loops are not supported in rules files"],
  ["lambda", "`lambda` is not supported in rules files"],
  ["return", "`return` is not supported in rules files"],
]);

/** Tokens that would continue an expression; our subset has no operators, indexing or comprehensions. */
function describeExpressionContinuation(token: Token): string | undefined {
  if (token.kind === "punct") {
    if (token.text === ".") return "attribute access is not supported in rules files (found `.`)";
    if (token.text === "[") return "indexing is not supported in rules files (found `[` after a value)";
    if (token.text === "(") return "only named functions can be called (found `(` after a value)";
    if (token.text === "=" || (token.text.endsWith("=") && !["==", "!=", "<=", ">="].includes(token.text))) {
      return `assignments are not supported in rules files (found \`${token.text}\`)`;
    }
    if (![",", ")", "]", "}", ":", ";"].includes(token.text)) {
      return `operators and arithmetic are not supported in rules files (found \`${token.text}\`)`;
    }
  }
  if (token.kind === "keyword") {
    if (token.text === "for") return "comprehensions are not supported in rules files (found `for`)";
    if (token.text === "if") return "conditional expressions are not supported in rules files (found `if`)";
    return `operators are not supported in rules files (found \`${token.text}\`)`;
  }
  if (token.kind === "string" || token.kind === "bytes" || token.kind === "unresolved") {
    return "Parse error: unexpected string literal (Starlark does not concatenate adjacent string literals)";
  }
  return undefined;
}

function describeToken(token: Token): string {
  switch (token.kind) {
    case "name":
      return `identifier \`${token.text}\``;
    case "keyword":
      return `keyword \`${token.text}\``;
    case "punct":
      return `\`${token.text}\``;
    case "string":
    case "bytes":
    case "unresolved":
      return "string literal";
    case "int":
    case "float":
      return `number \`${token.text}\``;
    case "newline":
      return "new line";
    case "eof":
      return "end of file";
  }
}

class Parser {
  private position = 0;

  constructor(
    private readonly path: string,
    private readonly tokens: readonly LexedToken[],
  ) {}

  /**
   * Starlark parses the whole file before resolving or running anything, so a
   * syntax error anywhere wins over valid Starlark we do not support: after an
   * unsupported statement the rest of the file is still parsed, and the first
   * unsupported construct is reported only if no syntax error follows.
   */
  parseFile(): CallStatement[] {
    const statements: CallStatement[] = [];
    let unsupported: StarlarkError | undefined;
    while (this.peek().kind !== "eof") {
      if (this.peek().kind === "newline") {
        this.position += 1;
        continue;
      }
      try {
        this.parseLine(statements);
      } catch (error) {
        if (!(error instanceof StarlarkError) || error.stage !== "unsupported") throw error;
        unsupported ??= error;
        this.skipLine();
      }
    }
    if (unsupported !== undefined) throw unsupported;
    return statements;
  }

  /** One logical line: simple statements may share it when separated by `;`. */
  private parseLine(statements: CallStatement[]): void {
    do {
      const statement = this.parseStatement();
      if (statement !== undefined) statements.push(statement);
    } while (this.acceptPunct(";") && !this.atStatementEnd());
    if (!this.atStatementEnd()) this.unexpected(this.peek(), "expected new line");
    this.position += 1;
  }

  /** Moves past the rest of a logical line; the lexer emits newlines only outside brackets. */
  private skipLine(): void {
    while (!this.atStatementEnd()) this.position += 1;
    if (this.peek().kind !== "eof") this.position += 1;
  }

  /** Returns undefined for a bare string literal (a docstring), which has no effect. */
  private parseStatement(): CallStatement | undefined {
    const token = this.next();
    if (token.kind === "keyword") {
      this.fail(
        UNSUPPORTED_STATEMENT_KEYWORDS.get(token.text) ??
          `\`${token.text}\` is not supported in rules files; only calls such as prefix_rule(...) are allowed`,
        token.location,
      );
    }
    if (token.kind === "string" || token.kind === "bytes" || token.kind === "unresolved") {
      this.rejectContinuation();
      return undefined;
    }
    if (token.kind !== "name") {
      return this.fail(
        `only function calls such as prefix_rule(...) are allowed at top level (found ${describeToken(token)})`,
        token.location,
      );
    }
    const after = this.peek();
    if (after.kind === "punct" && after.text === "(") {
      this.position += 1;
      const args = this.parseArguments();
      this.rejectContinuation();
      return { callee: token.text, args, location: token.location };
    }
    if (after.kind === "newline" || after.kind === "eof" || (after.kind === "punct" && after.text === ";")) {
      return this.fail(`variables are not supported in rules files (found \`${token.text}\`)`, token.location);
    }
    if (after.kind === "punct" && (after.text === "=" || after.text === ",")) {
      return this.fail(`assignments and variables are not supported in rules files (found \`${token.text} ${after.text}\`)`, after.location);
    }
    const continuation = describeExpressionContinuation(after);
    return this.fail(continuation ?? `unexpected ${describeToken(after)} after \`${token.text}\`, expected \`(\``, after.location);
  }

  private parseArguments(): CallArgument[] {
    const args: CallArgument[] = [];
    const seenNames = new Set<string>();
    while (!this.acceptPunct(")")) {
      const start = this.peek();
      if (start.kind === "punct" && (start.text === "*" || start.text === "**")) {
        this.fail(`argument unpacking (\`${start.text}\`) is not supported in rules files`, start.location);
      }
      const following = this.tokens[this.position + 1];
      let name: string | undefined;
      if (start.kind === "name" && following?.kind === "punct" && following.text === "=") {
        name = start.text;
        if (seenNames.has(name)) this.fail(`argument \`${name}\` is repeated`, start.location);
        seenNames.add(name);
        this.position += 2;
      } else if (seenNames.size > 0) {
        this.fail("Parse error: positional argument after named argument", start.location);
      }
      args.push({ name, value: this.parseValue(), location: start.location });
      this.expectCommaOrClosing(")");
    }
    return args;
  }

  private parseValue(): StarlarkValue {
    const token = this.next();
    const value = this.parsePrimary(token);
    this.rejectContinuation();
    return value;
  }

  private parsePrimary(token: Token): StarlarkValue {
    switch (token.kind) {
      case "string":
        return { kind: "string", value: token.value };
      case "bytes":
        return { kind: "bytes" };
      case "unresolved":
        return { kind: "unresolved", name: token.name, location: token.location };
      case "int":
        return { kind: "int", value: token.value };
      case "float":
        return { kind: "float", value: token.value };
      case "name":
        return this.parseNamedValue(token.text, token.location);
      case "punct":
        if (token.text === "[") return { kind: "list", items: this.parseSequence("]") };
        if (token.text === "{") return this.parseDict();
        if (token.text === "(") return this.parseParenthesized();
        if (token.text === "-" || token.text === "+" || token.text === "~") {
          return this.fail(`operators and arithmetic are not supported in rules files (found unary \`${token.text}\`)`, token.location);
        }
        return this.unexpected(token, "expected a value");
      case "keyword":
        if (token.text === "lambda") return this.fail("`lambda` is not supported in rules files", token.location);
        if (token.text === "not") return this.fail("operators are not supported in rules files (found `not`)", token.location);
        return this.unexpected(token, "expected a value");
      case "newline":
      case "eof":
        return this.unexpected(token, "expected a value");
    }
  }

  private parseNamedValue(name: string, location: SourceLocation): StarlarkValue {
    if (name === "True" || name === "False") return { kind: "bool", value: name === "True" };
    if (name === "None") return { kind: "none" };
    const after = this.peek();
    // `u"x"`, `R"x"`: a name then a string is a syntax error at the string, not a variable use.
    if (after.kind === "string" || after.kind === "bytes" || after.kind === "unresolved") return this.unexpected(after, "expected `,` or a closing bracket");
    if (after.kind === "punct" && after.text === "(") {
      return this.fail(`function calls are only allowed as top-level statements (found call to \`${name}\`)`, location);
    }
    return this.fail(`variables are not supported in rules files (found \`${name}\`)`, location);
  }

  /** Comma-separated values up to `closing`; a trailing comma is allowed. */
  private parseSequence(closing: string): StarlarkValue[] {
    const items: StarlarkValue[] = [];
    while (!this.acceptPunct(closing)) {
      items.push(this.parseValue());
      this.expectCommaOrClosing(closing);
    }
    return items;
  }

  private parseParenthesized(): StarlarkValue {
    if (this.acceptPunct(")")) return { kind: "tuple", items: [] };
    const first = this.parseValue();
    if (this.acceptPunct(")")) return first;
    this.expectPunct(",", "expected `,` or `)`");
    return { kind: "tuple", items: [first, ...this.parseSequence(")")] };
  }

  private parseDict(): StarlarkValue {
    const entries: (readonly [StarlarkValue, StarlarkValue])[] = [];
    while (!this.acceptPunct("}")) {
      const key = this.parseValue();
      this.expectPunct(":", "expected `:`");
      entries.push([key, this.parseValue()]);
      this.expectCommaOrClosing("}");
    }
    return { kind: "dict", entries };
  }

  /** After an element: consumes a `,`, or checks (without consuming) that the closing bracket follows. */
  private expectCommaOrClosing(closing: string): void {
    if (this.acceptPunct(",")) return;
    const token = this.peek();
    if (!(token.kind === "punct" && token.text === closing)) this.unexpected(token, `expected \`,\` or \`${closing}\``);
  }

  private rejectContinuation(): void {
    const after = this.peek();
    const continuation = describeExpressionContinuation(after);
    if (continuation !== undefined) this.fail(continuation, after.location);
  }

  private atStatementEnd(): boolean {
    const kind = this.peek().kind;
    return kind === "newline" || kind === "eof";
  }

  private peek(): Token {
    // The token list ends with `eof` or an error, and `next` never moves past either.
    const token = this.tokens[this.position];
    if (token === undefined) throw new Error("parser moved past the end of the token list");
    if (token.kind === "error") throw token.error;
    return token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== "eof") this.position += 1;
    return token;
  }

  private acceptPunct(text: string): boolean {
    const token = this.peek();
    if (token.kind === "punct" && token.text === text) {
      this.position += 1;
      return true;
    }
    return false;
  }

  private expectPunct(text: string, expectation: string): void {
    if (!this.acceptPunct(text)) this.unexpected(this.peek(), expectation);
  }

  private unexpected(token: Token, expectation: string): never {
    return this.fail(`Parse error: unexpected ${describeToken(token)}, ${expectation}`, token.location);
  }

  private fail(reason: string, location: SourceLocation): never {
    // Every message for something Starlark itself cannot parse starts with "Parse error:".
    throw new StarlarkError(this.path, location, reason, reason.startsWith("Parse error:") ? "syntax" : "unsupported");
  }
}
