/**
 * Ports of the Rust `shlex` crate functions the reference uses (policy.md 7.2, 7.3):
 * splitting string examples, and quoting commands for messages.
 */

const WORD_SEPARATORS = new Set([" ", "\t", "\n"]);

/** POSIX-like word splitting; undefined on unterminated quotes or a trailing backslash. */
export function shlexSplit(input: string): string[] | undefined {
  const words: string[] = [];
  let index = 0;
  while (index < input.length) {
    const c = input[index] ?? "";
    if (WORD_SEPARATORS.has(c)) {
      index += 1;
    } else if (c === "#") {
      // A comment only starts where a word could start; it runs to the end of the line.
      while (index < input.length && input[index] !== "\n") index += 1;
    } else {
      const word = readWord(input, index);
      if (word === undefined) return undefined;
      words.push(word.text);
      index = word.end;
    }
  }
  return words;
}

function readWord(input: string, start: number): { text: string; end: number } | undefined {
  let text = "";
  let index = start;
  while (index < input.length) {
    const c = input[index] ?? "";
    index += 1;
    if (WORD_SEPARATORS.has(c)) return { text, end: index };
    if (c === "'") {
      const close = input.indexOf("'", index);
      if (close === -1) return undefined;
      text += input.slice(index, close);
      index = close + 1;
    } else if (c === '"') {
      const quoted = readDoubleQuoted(input, index);
      if (quoted === undefined) return undefined;
      text += quoted.text;
      index = quoted.end;
    } else if (c === "\\") {
      const escaped = input[index];
      if (escaped === undefined) return undefined;
      index += 1;
      if (escaped !== "\n") text += escaped;
    } else {
      text += c;
    }
  }
  return { text, end: index };
}

/** Reads up to and including the closing `"`, starting just after the opening one. */
function readDoubleQuoted(input: string, start: number): { text: string; end: number } | undefined {
  let text = "";
  let index = start;
  while (index < input.length) {
    const c = input[index] ?? "";
    index += 1;
    if (c === '"') return { text, end: index };
    if (c !== "\\") {
      text += c;
      continue;
    }
    const escaped = input[index];
    if (escaped === undefined) return undefined;
    index += 1;
    if (escaped === "$" || escaped === "`" || escaped === '"' || escaped === "\\") text += escaped;
    else if (escaped !== "\n") text += `\\${escaped}`;
  }
  return undefined;
}

/** Quotes and joins words; undefined if a word contains a NUL byte (`shlex::try_join`). */
export function shlexTryJoin(words: readonly string[]): string | undefined {
  const quoted: string[] = [];
  for (const word of words) {
    if (word.includes("\0")) return undefined;
    quoted.push(quoteWord(word));
  }
  return quoted.join(" ");
}

/** Like shlexTryJoin, for callers whose words cannot contain NUL (argv entries, for example). */
export function shlexJoin(words: readonly string[]): string {
  const joined = shlexTryJoin(words);
  if (joined === undefined) throw new Error("cannot shell-quote a word containing a NUL byte");
  return joined;
}

const UNQUOTED_OK = 1;
const SINGLE_QUOTED_OK = 2;
const DOUBLE_QUOTED_OK = 4;

function isUnquotedSafe(c: string): boolean {
  return /^[A-Za-z0-9+\-./:@\]_]$/.test(c);
}

function quoteWord(word: string): string {
  if (word === "") return "''";
  let out = "";
  let rest = word;
  while (rest.length > 0) {
    const { length, styles } = longestChunk(rest);
    const chunk = rest.slice(0, length);
    rest = rest.slice(length);
    if (styles & UNQUOTED_OK) out += chunk;
    else if (styles & SINGLE_QUOTED_OK) out += `'${chunk}'`;
    else out += `"${chunk.replace(/["\\]/g, "\\$&")}"`;
  }
  return out;
}

/**
 * The longest prefix that one quoting style can cover, and the styles that can.
 * Chunks only ever break before ASCII characters, so working on UTF-16 code
 * units gives the same result as the crate's byte-wise loop.
 */
function longestChunk(text: string): { length: number; styles: number } {
  let styles = UNQUOTED_OK | SINGLE_QUOTED_OK | DOUBLE_QUOTED_OK;
  let index = 0;
  // zsh treats a leading `^` specially; only single quotes make it literal there.
  if (text.startsWith("^")) {
    styles = SINGLE_QUOTED_OK;
    index = 1;
  }
  for (; index < text.length; index += 1) {
    const c = text[index] ?? "";
    let allowed = styles;
    if (!isUnquotedSafe(c)) allowed &= ~UNQUOTED_OK;
    if (c === "'" || c === "\\" || c === "^") allowed &= ~SINGLE_QUOTED_OK;
    if (c === "`" || c === "$" || c === "!" || c === "^") allowed &= ~DOUBLE_QUOTED_OK;
    if (allowed === 0) break;
    styles = allowed;
  }
  return { length: index, styles };
}

/**
 * A command line as people read it in questions and refusals: the program as
 * given, then its arguments (argv[1..]) quoted for a shell where they can be.
 */
export function renderCommand(file: string, argv: readonly string[]): string {
  const args = argv.slice(1);
  return args.length === 0 ? file : `${file} ${shlexTryJoin(args) ?? args.join(" ")}`;
}
