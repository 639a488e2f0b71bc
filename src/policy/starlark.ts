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

/** A parsed file: its top-level calls, and the first construct outside our subset, if any. */
export interface StarlarkProgram {
  readonly calls: readonly CallStatement[];
  /** Every name the file reads (top-level callees included), in source order, for Starlark's up-front name resolution. */
  readonly references: readonly NameReference[];
  /** Names the file itself defines (assignments, `def`, loop variables, parameters, `load`). */
  readonly bindings: ReadonlySet<string>;
  /**
   * Reported when evaluation reaches it, after the first `afterCalls` calls
   * have run: Starlark would run those first, and their errors come first.
   */
  readonly unsupported: { readonly error: StarlarkError; readonly afterCalls: number } | undefined;
}

export interface NameReference {
  readonly name: string;
  readonly location: SourceLocation;
  /** True for the callee of a top-level call statement. */
  readonly callee: boolean;
}

/** Parses a whole file. Syntax errors anywhere abort before anything is evaluated, as in Starlark. */
export function parseStarlarkProgram(path: string, source: string): StarlarkProgram {
  return new Parser(path, tokenize(path, source)).parseFile();
}

/** Parses a file that must lie entirely within our subset. */
export function parseStarlark(path: string, source: string): readonly CallStatement[] {
  const program = parseStarlarkProgram(path, source);
  if (program.unsupported !== undefined) throw program.unsupported.error;
  return program.calls;
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
  "...", "**=", "//=", "<<=", ">>=",
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
    if (indents[indents.length - 1] !== col) {
      // Starlark places this one at the line feed that ends the previous line.
      const previousLineStart = source.lastIndexOf("\n", lineStart - 2) + 1;
      fail("Parse error: unindent does not match any outer indentation level", {
        line: line - 1,
        col: codePointColumn(source, previousLineStart, lineStart - 1),
      });
    }
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
//
// It parses the whole Starlark grammar (statements, blocks, operators,
// comprehensions, lambdas), because Starlark reports a syntax error anywhere
// in the file before running anything: valid Starlark outside our subset is
// only recorded, and reported once the file is known to have no syntax error.

/** Statements that Starlark has but rules files must not use, with the reason we give. */
const UNSUPPORTED_STATEMENT_KEYWORDS = new Map([
  ["def", "function definitions (`def`) are not supported in rules files"],
  ["load", "`load` is not supported in rules files: they cannot load other modules"],
  ["if", "`if` statements are not supported in rules files"],
  ["for", "`for` loops are not supported in rules files"],
  ["lambda", "`lambda` is not supported in rules files"],
  ["return", "`return` is not supported in rules files"],
]);

/** Binary operators by precedence, loosest first (Starlark's grammar). */
const BINARY_LEVELS: readonly (readonly string[])[] = [
  ["or"],
  ["and"],
  ["==", "!=", "<", ">", "<=", ">=", "in", "not in"],
  ["|"],
  ["^"],
  ["&"],
  ["<<", ">>"],
  ["+", "-"],
  ["*", "/", "//", "%"],
];

const AUGMENTED_ASSIGNMENTS = new Set(["+=", "-=", "*=", "/=", "//=", "%=", "&=", "|=", "^=", "<<=", ">>="]);

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

function isStringToken(token: Token): boolean {
  return token.kind === "string" || token.kind === "bytes" || token.kind === "unresolved";
}

/** Stands in for a value we do not support; the file fails anyway, once parsed. */
const PLACEHOLDER: StarlarkValue = { kind: "none" };

class Parser {
  private position = 0;
  /** The first construct outside our subset, reported if the file has no syntax error. */
  private unsupported: StarlarkProgram["unsupported"];
  private readonly calls: CallStatement[] = [];
  private readonly references: NameReference[] = [];
  private readonly bindings = new Set<string>();
  /** Argument-order errors, which Starlark finds after parsing: any parse error wins over them. */
  private argumentError: StarlarkError | undefined;

  constructor(
    private readonly path: string,
    private readonly tokens: readonly LexedToken[],
  ) {}

  parseFile(): StarlarkProgram {
    while (this.peek().kind !== "eof") {
      if (this.acceptKind("newline")) continue;
      this.parseStatement(this.calls, true);
    }
    if (this.argumentError !== undefined) throw this.argumentError;
    return { calls: this.calls, references: this.references, bindings: this.bindings, unsupported: this.unsupported };
  }

  /** A compound statement, or simple statements separated by `;` up to the end of the line. */
  private parseStatement(statements: CallStatement[] | undefined, topLevel: boolean): void {
    const token = this.peek();
    if (token.kind === "keyword" && ["def", "if", "for", "while", "elif", "else"].includes(token.text)) {
      this.parseCompound(token);
      return;
    }
    do {
      if (this.atStatementEnd()) break;
      this.parseSimpleStatement(statements, topLevel);
    } while (this.acceptPunct(";"));
    if (!this.atStatementEnd()) this.unexpected(this.peek(), "expected new line");
    this.acceptKind("newline");
  }

  private parseCompound(keyword: { readonly text: string; readonly location: SourceLocation }): void {
    this.position += 1;
    this.noteUnsupported(UNSUPPORTED_STATEMENT_KEYWORDS.get(keyword.text) ?? `\`${keyword.text}\` is not supported in rules files`, keyword.location);
    switch (keyword.text) {
      case "def": {
        const name = this.peek();
        if (name.kind === "name") this.bindings.add(name.text);
        this.expectKind("name", "expected a function name");
        this.expectPunct("(", "expected `(`");
        this.parseParameters(")");
        if (this.acceptPunct("->")) this.parseTest();
        break;
      }
      case "for":
        this.parseTargets();
        this.expectKeyword("in");
        this.parseTestList();
        break;
      case "else":
        break;
      default:
        this.parseTest();
    }
    this.expectPunct(":", "expected `:`");
    this.parseSuite();
  }

  /** After `:`: simple statements on the same line, or an indented block (the lexer checked the indentation). */
  private parseSuite(): void {
    if (!this.acceptKind("newline")) {
      this.parseStatement(undefined, false);
      return;
    }
    // The block's statements follow as ordinary lines; all of them are inside a refused construct.
    if (this.peek().kind === "eof") this.unexpected(this.peek(), "expected an indented block");
  }

  private parseSimpleStatement(statements: CallStatement[] | undefined, topLevel: boolean): void {
    const token = this.peek();
    if (token.kind === "keyword") {
      switch (token.text) {
        case "pass":
          // A no-op, valid anywhere in Starlark.
          this.position += 1;
          return;
        case "break":
        case "continue":
          this.position += 1;
          this.noteUnsupported(`\`${token.text}\` is not supported in rules files; only calls such as prefix_rule(...) are allowed`, token.location);
          return;
        case "return":
          this.position += 1;
          this.noteUnsupported(UNSUPPORTED_STATEMENT_KEYWORDS.get("return") ?? "", token.location);
          if (!this.atStatementEnd() && !this.isPunct(this.peek(), ";")) this.parseTestList();
          return;
        case "load":
          this.position += 1;
          this.noteUnsupported(UNSUPPORTED_STATEMENT_KEYWORDS.get("load") ?? "", token.location);
          this.expectPunct("(", "expected `(`");
          for (const [index, arg] of this.parseCallArguments().entries()) {
            if (arg.name !== undefined) this.bindings.add(arg.name);
            else if (index > 0 && arg.value.kind === "string") this.bindings.add(arg.value.value);
          }
          return;
        case "lambda":
        case "not":
          break;
        default:
          return this.unexpected(token, "expected a statement");
      }
    }

    // A top-level call of a name is the one statement our subset evaluates.
    const following = this.tokens[this.position + 1];
    if (token.kind === "name" && following?.kind === "punct" && following.text === "(") {
      this.references.push({ name: token.text, location: token.location, callee: true });
      this.position += 2;
      const args = this.parseCallArguments();
      const after = this.peek();
      if (this.atStatementEnd() || this.isPunct(after, ";")) {
        if (topLevel) statements?.push({ callee: token.text, args, location: token.location });
        return;
      }
      // `f(...).x`, `f(...) + 1`, `f(...) = ...`: continue as a general expression statement.
      this.noteUnsupported(`only plain calls such as prefix_rule(...) are allowed at top level (found ${describeToken(after)} after the call)`, after.location);
      this.parseTrailers();
      this.parseBinaryRest(0);
      this.parseAssignmentRest();
      return;
    }

    if (isStringToken(token)) {
      // A bare string (a docstring) has no effect, unless it continues into an expression.
      this.position += 1;
      if (!this.atStatementEnd() && !this.isPunct(this.peek(), ";")) {
        this.parseTrailers();
        this.parseBinaryRest(0);
        this.parseAssignmentRest();
      }
      return;
    }
    const firstReference = this.references.length;
    const start = this.peek();
    if (start.kind === "name" && !["True", "False", "None"].includes(start.text)) {
      const after = this.tokens[this.position + 1];
      if (after !== undefined && after.kind === "punct" && (after.text === "=" || after.text === "," || AUGMENTED_ASSIGNMENTS.has(after.text))) {
        this.noteUnsupported(`assignments and variables are not supported in rules files (found \`${start.text} ${after.text}\`)`, after.location);
      }
    } else {
      this.noteUnsupported(`only function calls such as prefix_rule(...) are allowed at top level (found ${describeToken(start)})`, start.location);
    }
    this.parseTestList();
    const read = this.parseAssignmentRest();
    if (read !== undefined) {
      this.bindReferencesFrom(firstReference);
      this.references.push(...read);
    }
  }

  /** `= value` (possibly chained) or an augmented assignment after an expression statement. */
  /** Returns the names the right-hand side reads (taken out of `references`), or undefined if this is no assignment. */
  private parseAssignmentRest(): NameReference[] | undefined {
    const token = this.peek();
    if (token.kind !== "punct" || !(token.text === "=" || AUGMENTED_ASSIGNMENTS.has(token.text))) return undefined;
    this.position += 1;
    this.noteUnsupported(`assignments are not supported in rules files (found \`${token.text}\`)`, token.location);
    const firstRead = this.references.length;
    this.parseTestList();
    const read = this.references.splice(firstRead);
    if (token.text === "=") read.push(...(this.parseAssignmentRest() ?? []));
    return read;
  }

  /** Comma-separated expressions, as on either side of an assignment (a trailing comma makes a tuple). */
  private parseTestList(): void {
    this.parseTest();
    while (this.acceptPunct(",")) {
      if (this.atExpressionEnd()) return;
      this.parseTest();
    }
  }

  private parseTargets(): void {
    const firstReference = this.references.length;
    this.parseTargetList();
    this.bindReferencesFrom(firstReference);
  }

  /** Names read since `firstReference` were assignment targets: they are defined, not read. */
  private bindReferencesFrom(firstReference: number): void {
    for (const reference of this.references.splice(firstReference)) this.bindings.add(reference.name);
  }

  /** Loop targets (`x`, `k, v`, `a[0]`): operands with their trailers, no operators, up to `in`. */
  private parseTargetList(): void {
    this.parseUnary();
    while (this.acceptPunct(",")) {
      if (this.peek().kind === "keyword") return;
      this.parseUnary();
    }
  }

  /** Parameters of `def` or `lambda`, up to `closing`. */
  private parseParameters(closing: string): void {
    while (!this.acceptPunct(closing)) {
      if (this.acceptPunct("*") || this.acceptPunct("**")) {
        if (this.peek().kind === "name") this.position += 1;
      } else {
        const name = this.peek();
        if (name.kind === "name") this.bindings.add(name.text);
        this.expectKind("name", "expected a parameter name");
        if (closing === ")" && this.acceptPunct(":")) this.parseTest();
        if (this.acceptPunct("=")) this.parseTest();
      }
      if (!this.acceptPunct(",")) {
        if (!this.isPunct(this.peek(), closing)) this.unexpected(this.peek(), `expected \`,\` or \`${closing}\``);
      }
    }
  }

  private parseCallArguments(): CallArgument[] {
    const args: CallArgument[] = [];
    const seenNames = new Set<string>();
    while (!this.acceptPunct(")")) {
      const start = this.peek();
      const following = this.tokens[this.position + 1];
      if (start.kind === "punct" && (start.text === "*" || start.text === "**")) {
        this.position += 1;
        this.noteUnsupported(`argument unpacking (\`${start.text}\`) is not supported in rules files`, start.location);
        this.parseTest();
      } else if (start.kind === "name" && following?.kind === "punct" && following.text === "=") {
        this.position += 2;
        if (seenNames.has(start.text)) this.noteArgumentError(`Parse error: argument \`${start.text}\` is repeated`, start.location);
        seenNames.add(start.text);
        args.push({ name: start.text, value: this.parseTest(), location: start.location });
      } else {
        if (seenNames.size > 0) this.noteArgumentError("Parse error: positional argument after named argument", start.location);
        args.push({ name: undefined, value: this.parseTest(), location: start.location });
      }
      this.expectCommaOrClosing(")");
    }
    return args;
  }

  /** A full expression: conditional expressions and lambdas included. */
  private parseTest(): StarlarkValue {
    const token = this.peek();
    if (token.kind === "keyword" && token.text === "lambda") {
      this.position += 1;
      this.noteUnsupported("`lambda` is not supported in rules files", token.location);
      this.parseParameters(":");
      this.parseTest();
      return PLACEHOLDER;
    }
    const value = this.parseBinaryLevel(0);
    return this.skipConditional() ? PLACEHOLDER : value;
  }

  private parseBinaryLevel(level: number): StarlarkValue {
    if (level >= BINARY_LEVELS.length) return this.parseUnary();
    if (level === 2) {
      const not = this.peek();
      if (not.kind === "keyword" && not.text === "not") {
        this.position += 1;
        this.noteUnsupported("operators are not supported in rules files (found `not`)", not.location);
        this.parseBinaryLevel(2);
        return PLACEHOLDER;
      }
    }
    const value = this.parseBinaryLevel(level + 1);
    return this.skipOperatorsAt(level) ? PLACEHOLDER : value;
  }

  /** Notes and skips `<operator> <operand>` pairs of `level`; true when there was one. */
  private skipOperatorsAt(level: number): boolean {
    let found = false;
    for (let operator = this.binaryOperatorAt(level); operator !== undefined; operator = this.binaryOperatorAt(level)) {
      this.noteUnsupported(`operators and arithmetic are not supported in rules files (found \`${operator.text}\`)`, operator.location);
      this.position += operator.width;
      this.parseBinaryLevel(level + 1);
      found = true;
    }
    return found;
  }

  /** Notes and skips a trailing `if <test> else <test>`; true when there was one. */
  private skipConditional(): boolean {
    const after = this.peek();
    if (after.kind !== "keyword" || after.text !== "if") return false;
    this.position += 1;
    this.noteUnsupported("conditional expressions are not supported in rules files (found `if`)", after.location);
    this.parseBinaryLevel(0);
    this.expectKeyword("else");
    this.parseTest();
    return true;
  }

  /** Continues an expression whose first operand has been parsed, at any level. */
  private parseBinaryRest(level: number): void {
    for (let current = BINARY_LEVELS.length - 1; current >= level; current -= 1) this.skipOperatorsAt(current);
    this.skipConditional();
  }

  private binaryOperatorAt(level: number): { text: string; location: SourceLocation; width: number } | undefined {
    const token = this.peek();
    const operators = BINARY_LEVELS[level] ?? [];
    if (token.kind === "keyword" && token.text === "not") {
      const next = this.tokens[this.position + 1];
      if (operators.includes("not in") && next?.kind === "keyword" && next.text === "in") return { text: "not in", location: token.location, width: 2 };
      return undefined;
    }
    if ((token.kind === "punct" || token.kind === "keyword") && operators.includes(token.text)) {
      return { text: token.text, location: token.location, width: 1 };
    }
    return undefined;
  }

  private parseUnary(): StarlarkValue {
    const token = this.peek();
    if (token.kind === "punct" && (token.text === "-" || token.text === "+" || token.text === "~")) {
      this.position += 1;
      const operand = this.parseUnary();
      // A signed number literal is still a literal (`-1` reaches the builtin as an int, as in Starlark).
      if (operand.kind === "int" && token.text !== "~") return { kind: "int", value: token.text === "-" ? -operand.value : operand.value };
      if (operand.kind === "int") return { kind: "int", value: ~operand.value };
      if (operand.kind === "float" && token.text !== "~") return { kind: "float", value: token.text === "-" ? -operand.value : operand.value };
      this.noteUnsupported(`operators and arithmetic are not supported in rules files (found unary \`${token.text}\`)`, token.location);
      return PLACEHOLDER;
    }
    const value = this.parseOperand();
    return this.parseTrailers() ? PLACEHOLDER : value;
  }

  /** `.name`, `[index]` and `(arguments)` after an operand; true if there were any. */
  private parseTrailers(): boolean {
    let any = false;
    while (true) {
      const token = this.peek();
      if (this.isPunct(token, ".")) {
        this.position += 1;
        this.noteUnsupported("attribute access is not supported in rules files (found `.`)", token.location);
        this.expectKind("name", "expected an attribute name");
      } else if (this.isPunct(token, "[")) {
        this.position += 1;
        this.noteUnsupported("indexing is not supported in rules files (found `[` after a value)", token.location);
        this.parseSlice();
      } else if (this.isPunct(token, "(")) {
        this.position += 1;
        this.noteUnsupported("only named functions can be called, as top-level statements (found `(` after a value)", token.location);
        this.parseCallArguments();
      } else {
        return any;
      }
      any = true;
    }
  }

  private parseSlice(): void {
    let parts = 0;
    while (!this.acceptPunct("]")) {
      if (this.acceptPunct(":")) {
        parts += 1;
        continue;
      }
      if (parts > 2) this.unexpected(this.peek(), "expected `]`");
      this.parseTest();
      if (!this.isPunct(this.peek(), ":") && !this.isPunct(this.peek(), "]")) this.expectCommaOrClosing("]");
      else if (this.isPunct(this.peek(), "]")) continue;
    }
  }

  private parseOperand(): StarlarkValue {
    const token = this.next();
    switch (token.kind) {
      case "string":
        return { kind: "string", value: token.value };
      case "bytes":
        return { kind: "bytes" };
      case "unresolved":
        this.references.push({ name: token.name, location: token.location, callee: false });
        return { kind: "unresolved", name: token.name, location: token.location };
      case "int":
        return { kind: "int", value: token.value };
      case "float":
        return { kind: "float", value: token.value };
      case "name":
        if (token.text === "True" || token.text === "False") return { kind: "bool", value: token.text === "True" };
        if (token.text === "None") return { kind: "none" };
        this.references.push({ name: token.text, location: token.location, callee: false });
        if (this.isPunct(this.peek(), "(")) {
          this.noteUnsupported(`function calls are only allowed as top-level statements (found call to \`${token.text}\`)`, token.location);
        } else {
          this.noteUnsupported(`variables are not supported in rules files (found \`${token.text}\`)`, token.location);
        }
        return PLACEHOLDER;
      case "punct":
        if (token.text === "[") return this.parseListOrComprehension();
        if (token.text === "{") return this.parseDict();
        if (token.text === "(") return this.parseParenthesized();
        if (token.text === "...") {
          this.noteUnsupported("`...` is not supported in rules files", token.location);
          return PLACEHOLDER;
        }
        return this.unexpected(token, "expected a value");
      case "keyword":
      case "newline":
      case "eof":
        return this.unexpected(token, "expected a value");
    }
  }

  /** `for x in y` and `if z` clauses after the first element of a comprehension; true if there were any. */
  private parseComprehensionClauses(): boolean {
    const first = this.peek();
    if (!(first.kind === "keyword" && first.text === "for")) return false;
    this.noteUnsupported("comprehensions are not supported in rules files (found `for`)", first.location);
    while (true) {
      const token = this.peek();
      if (token.kind === "keyword" && token.text === "for") {
        this.position += 1;
        this.parseTargets();
        this.expectKeyword("in");
        this.parseBinaryLevel(0);
      } else if (token.kind === "keyword" && token.text === "if") {
        this.position += 1;
        this.parseBinaryLevel(0);
      } else {
        return true;
      }
    }
  }

  private parseListOrComprehension(): StarlarkValue {
    if (this.acceptPunct("]")) return { kind: "list", items: [] };
    const first = this.parseTest();
    if (this.parseComprehensionClauses()) {
      this.expectPunct("]", "expected `]`");
      return PLACEHOLDER;
    }
    const items = [first];
    this.expectCommaOrClosing("]");
    while (!this.acceptPunct("]")) {
      items.push(this.parseTest());
      this.expectCommaOrClosing("]");
    }
    return { kind: "list", items };
  }

  private parseParenthesized(): StarlarkValue {
    if (this.acceptPunct(")")) return { kind: "tuple", items: [] };
    const first = this.parseTest();
    if (this.parseComprehensionClauses()) {
      this.expectPunct(")", "expected `)`");
      return PLACEHOLDER;
    }
    if (this.acceptPunct(")")) return first;
    this.expectPunct(",", "expected `,` or `)`");
    const items = [first];
    while (!this.acceptPunct(")")) {
      items.push(this.parseTest());
      this.expectCommaOrClosing(")");
    }
    return { kind: "tuple", items };
  }

  private parseDict(): StarlarkValue {
    const entries: (readonly [StarlarkValue, StarlarkValue])[] = [];
    while (!this.acceptPunct("}")) {
      const key = this.parseTest();
      this.expectPunct(":", "expected `:`");
      const value = this.parseTest();
      if (entries.length === 0 && this.parseComprehensionClauses()) {
        this.expectPunct("}", "expected `}`");
        return PLACEHOLDER;
      }
      entries.push([key, value]);
      this.expectCommaOrClosing("}");
    }
    return { kind: "dict", entries };
  }

  /** After an element: consumes a `,`, or checks (without consuming) that the closing bracket follows. */
  private expectCommaOrClosing(closing: string): void {
    if (this.acceptPunct(",")) return;
    const token = this.peek();
    if (!this.isPunct(token, closing)) this.unexpected(token, `expected \`,\` or \`${closing}\``);
  }

  private atStatementEnd(): boolean {
    const kind = this.peek().kind;
    return kind === "newline" || kind === "eof";
  }

  /** Where a trailing comma ends an expression list. */
  private atExpressionEnd(): boolean {
    const token = this.peek();
    return this.atStatementEnd() || (token.kind === "punct" && [";", "=", ")", "]", "}", ":"].includes(token.text)) || AUGMENTED_ASSIGNMENTS.has(token.kind === "punct" ? token.text : "");
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

  private isPunct(token: Token, text: string): boolean {
    return token.kind === "punct" && token.text === text;
  }

  private acceptPunct(text: string): boolean {
    if (!this.isPunct(this.peek(), text)) return false;
    this.position += 1;
    return true;
  }

  private acceptKind(kind: "newline" | "eof"): boolean {
    if (this.peek().kind !== kind) return false;
    if (kind !== "eof") this.position += 1;
    return true;
  }

  private expectKind(kind: "name", expectation: string): void {
    if (this.peek().kind !== kind) this.unexpected(this.peek(), expectation);
    this.position += 1;
  }

  private expectKeyword(text: string): void {
    const token = this.peek();
    if (!(token.kind === "keyword" && token.text === text)) this.unexpected(token, `expected \`${text}\``);
    this.position += 1;
  }

  private expectPunct(text: string, expectation: string): void {
    if (!this.acceptPunct(text)) this.unexpected(this.peek(), expectation);
  }

  private unexpected(token: Token, expectation: string): never {
    return this.fail(`Parse error: unexpected ${describeToken(token)}, ${expectation}`, token.location);
  }

  private noteArgumentError(reason: string, location: SourceLocation): void {
    this.argumentError ??= new StarlarkError(this.path, location, reason, "syntax");
  }

  private noteUnsupported(reason: string, location: SourceLocation): void {
    this.unsupported ??= { error: new StarlarkError(this.path, location, reason, "unsupported"), afterCalls: this.calls.length };
  }

  private fail(reason: string, location: SourceLocation): never {
    throw new StarlarkError(this.path, location, reason, "syntax");
  }
}
