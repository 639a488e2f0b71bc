/**
 * Heuristics for commands that no rule matched (policy.md section 4):
 * `commandMightBeDangerous` (0.97, used by the exec-server's fallback) and
 * `isKnownSafeCommand` (core, 2026-02; kept for completeness and tests).
 */

import { basename } from "./policy.ts";

// ---------------------------------------------------------------------------
// Shell-wrapper recognition

const WRAPPER_SHELLS = new Set(["bash", "zsh", "sh"]);

/** Rust's `Path::file_stem`: the file name without its last extension, unless that dot starts the name. */
function fileStem(path: string): string {
  const name = basename(path);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

/**
 * For `[shell, -c|-lc, script]` with a bash/zsh/sh shell and a script made only
 * of plain commands, returns those commands; otherwise undefined.
 */
function parseShellWrapperCommands(command: readonly string[]): string[][] | undefined {
  if (command.length !== 3) return undefined;
  const [shell = "", flag, script = ""] = command;
  if (flag !== "-lc" && flag !== "-c") return undefined;
  if (!WRAPPER_SHELLS.has(shell) && !WRAPPER_SHELLS.has(fileStem(shell))) return undefined;
  return parsePlainCommands(script);
}

/**
 * Words that start a compound or declaration command, or a test, for which
 * tree-sitter-bash produces nodes outside the accepted set.
 */
const SHELL_RESERVED_WORDS = new Set([
  "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do", "done",
  "function", "in", "time", "coproc", "{", "}", "!", "[", "[[", "]]",
  "declare", "typeset", "export", "local", "readonly", "unset",
]);

const SEPARATORS = ["&&", "||", ";", "|"] as const;

type ScriptToken =
  | { readonly kind: "word"; readonly text: string; readonly plain: boolean }
  | { readonly kind: "separator"; readonly text: (typeof SEPARATORS)[number] }
  | { readonly kind: "newline" };

/** Characters that end an unquoted word. */
const WORD_BREAKS = new Set([" ", "\t", "\n", "&", "|", ";"]);

/**
 * Characters that bring in a construct outside the plain subset that the
 * reference's tree-sitter check accepts: redirections, subshells, expansions,
 * command substitution, background jobs, and escapes (which we do not interpret).
 */
const REJECTED_CHARACTERS = new Set(["<", ">", "(", ")", "$", "`", "\\"]);

/**
 * A hand-written equivalent of the reference's tree-sitter acceptance rules:
 * words, double-quoted literal strings, single-quoted strings and their
 * concatenations, separated by `&&`, `||`, `;`, `|` or new lines.
 */
export function parsePlainCommands(script: string): string[][] | undefined {
  const tokens = tokenizeScript(script);
  if (tokens === undefined) return undefined;

  const commands: string[][] = [];
  let current: string[] = [];
  // After `&&`, `||` or `|` another command must follow, possibly on a later line.
  let needCommand = false;
  for (const token of tokens) {
    if (token.kind === "word") {
      // The command name must be a plain word; `NAME=value` there would be an assignment.
      if (current.length === 0 && (!token.plain || SHELL_RESERVED_WORDS.has(token.text) || token.text.includes("="))) {
        return undefined;
      }
      current.push(token.text);
    } else if (current.length > 0) {
      commands.push(current);
      current = [];
      needCommand = token.kind === "separator" && token.text !== ";";
    } else if (token.kind === "separator") {
      // A separator with no command before it is a syntax error; blank lines are fine.
      return undefined;
    }
  }
  if (current.length > 0) commands.push(current);
  else if (needCommand) return undefined;
  return commands;
}

function tokenizeScript(script: string): ScriptToken[] | undefined {
  const tokens: ScriptToken[] = [];
  let index = 0;
  while (index < script.length) {
    const c = script[index] ?? "";
    if (c === " " || c === "\t") {
      index += 1;
      continue;
    }
    if (c === "\n") {
      tokens.push({ kind: "newline" });
      index += 1;
      continue;
    }
    const separator = SEPARATORS.find((s) => script.startsWith(s, index));
    if (separator !== undefined) {
      // `;;`, `|&` and a lone `&` (background) are not in the accepted set.
      const after = script[index + separator.length];
      if ((separator === ";" && after === ";") || (separator === "|" && after === "&")) return undefined;
      tokens.push({ kind: "separator", text: separator });
      index += separator.length;
      continue;
    }
    if (c === "&" || c === "#") return undefined; // background job, or a comment node
    const word = readScriptWord(script, index);
    if (word === undefined) return undefined;
    tokens.push(word.token);
    index = word.end;
  }
  return tokens;
}

function readScriptWord(script: string, start: number): { token: ScriptToken; end: number } | undefined {
  let text = "";
  let plain = true;
  let index = start;
  while (index < script.length) {
    const c = script[index] ?? "";
    if (WORD_BREAKS.has(c)) break;
    if (REJECTED_CHARACTERS.has(c)) return undefined;
    if (c === "'" || c === '"') {
      const close = script.indexOf(c, index + 1);
      if (close === -1) return undefined;
      const content = script.slice(index + 1, close);
      // Double-quoted strings are only plain when they hold literal text; the reference keeps it unprocessed.
      if (c === '"' && /[$`\\]/.test(content)) return undefined;
      text += content;
      plain = false;
      index = close + 1;
      continue;
    }
    text += c;
    index += 1;
  }
  return { token: { kind: "word", text, plain }, end: index };
}

// ---------------------------------------------------------------------------
// Git subcommand scan (shared by both heuristics)

/** Global options whose value is the next token. */
const GIT_OPTIONS_WITH_VALUE = new Set([
  "-C", "-c", "--config-env", "--exec-path", "--git-dir", "--namespace", "--super-prefix", "--work-tree",
]);
const GIT_INLINE_VALUE_PREFIXES = [
  "--config-env=", "--exec-path=", "--git-dir=", "--namespace=", "--super-prefix=", "--work-tree=",
];

/**
 * Finds git's subcommand: the first token after the global options. Returns its
 * index if it is one of `wanted`, else undefined (later tokens are never considered).
 */
function findGitSubcommand(command: readonly string[], wanted: ReadonlySet<string>): number | undefined {
  for (let index = 1; index < command.length; index += 1) {
    const token = command[index] ?? "";
    if (GIT_INLINE_VALUE_PREFIXES.some((prefix) => token.startsWith(prefix))) continue;
    if (token.length > 2 && (token.startsWith("-C") || token.startsWith("-c"))) continue;
    if (GIT_OPTIONS_WITH_VALUE.has(token)) {
      index += 1;
      continue;
    }
    if (token.startsWith("-")) continue;
    return wanted.has(token) ? index : undefined;
  }
  return undefined;
}

/** `-dv`, `-vD`...: a short-flag group (not `--long`) containing one of `letters`. */
function isShortFlagGroupWith(token: string, letters: string): boolean {
  return token.startsWith("-") && !token.startsWith("--") && [...letters].some((letter) => token.includes(letter));
}

// ---------------------------------------------------------------------------
// commandMightBeDangerous (0.97)

/** True if the command, or any plain command of a recognised shell wrapper, looks destructive. */
export function commandMightBeDangerous(command: readonly string[]): boolean {
  if (isDangerousDirect(command)) return true;
  return parseShellWrapperCommands(command)?.some(isDangerousDirect) ?? false;
}

const DANGEROUS_GIT_SUBCOMMANDS: ReadonlySet<string> = new Set(["reset", "rm", "branch", "push", "clean"]);

/**
 * False when commandMightBeDangerous is false for every command starting with
 * `program`, whatever its arguments: the programs isDangerousDirect looks at,
 * and the shells whose scripts it reads.
 */
export function heuristicsMayFlag(program: string): boolean {
  return program.endsWith("git") || program === "rm" || program === "sudo" || WRAPPER_SHELLS.has(program) || WRAPPER_SHELLS.has(fileStem(program));
}

function isDangerousDirect(command: readonly string[]): boolean {
  const program = command[0];
  if (program === undefined) return false;
  // A plain suffix test, as in the reference: `/usr/bin/git` but also `legit`.
  if (program.endsWith("git")) return isDangerousGit(command);
  if (program === "rm") return command[1] === "-f" || command[1] === "-rf";
  if (program === "sudo") return isDangerousDirect(command.slice(1));
  return false;
}

function isDangerousGit(command: readonly string[]): boolean {
  const index = findGitSubcommand(command, DANGEROUS_GIT_SUBCOMMANDS);
  if (index === undefined) return false;
  const args = command.slice(index + 1);
  switch (command[index]) {
    case "reset":
    case "rm":
      return true;
    case "branch":
      return args.some(
        (arg) => arg === "-d" || arg === "-D" || arg === "--delete" || arg.startsWith("--delete=") || isShortFlagGroupWith(arg, "dD"),
      );
    case "push":
      return args.some(
        (arg) =>
          ["--force", "--force-with-lease", "--force-if-includes", "--delete", "-f", "-d"].includes(arg) ||
          ["--force-with-lease=", "--force-if-includes=", "--delete="].some((prefix) => arg.startsWith(prefix)) ||
          isShortFlagGroupWith(arg, "fd") ||
          ((arg.startsWith("+") || arg.startsWith(":")) && arg.length > 1),
      );
    case "clean":
      return args.some((arg) => arg === "--force" || arg === "-f" || arg.startsWith("--force=") || isShortFlagGroupWith(arg, "f"));
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------
// isKnownSafeCommand (core, 2026-02)

/**
 * True for read-only commands, directly or as every command of a shell wrapper.
 * The reference first rewrites `zsh` to `bash`; that cannot change the result
 * here, because wrapper recognition accepts both and neither is safe-direct.
 * Its PowerShell safelist does not apply on POSIX.
 */
export function isKnownSafeCommand(command: readonly string[], platform: NodeJS.Platform = process.platform): boolean {
  if (isSafeDirect(command, platform)) return true;
  const commands = parseShellWrapperCommands(command);
  return commands !== undefined && commands.length > 0 && commands.every((c) => isSafeDirect(c, platform));
}

const ALWAYS_SAFE = new Set([
  "cat", "cd", "cut", "echo", "expr", "false", "grep", "head", "id", "ls", "nl", "paste", "pwd", "rev", "seq",
  "stat", "tail", "tr", "true", "uname", "uniq", "wc", "which", "whoami",
]);
const ALWAYS_SAFE_ON_LINUX = new Set(["numfmt", "tac"]);

const UNSAFE_FIND_OPTIONS = new Set(["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf"]);
const SAFE_GIT_SUBCOMMANDS: ReadonlySet<string> = new Set(["status", "log", "diff", "show", "branch"]);
const UNSAFE_GIT_READ_OPTIONS = new Set(["--output", "--ext-diff", "--textconv", "--exec", "--paginate"]);
const READ_ONLY_BRANCH_FLAGS = new Set(["--list", "-l", "--show-current", "-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose"]);

function isSafeDirect(command: readonly string[], platform: NodeJS.Platform): boolean {
  const program = command[0];
  if (program === undefined) return false;
  const name = basename(program);
  const args = command.slice(1);
  if (ALWAYS_SAFE.has(name)) return true;
  if (ALWAYS_SAFE_ON_LINUX.has(name)) return platform === "linux";
  switch (name) {
    case "base64":
      return !args.some((arg) => arg === "-o" || arg === "--output" || arg.startsWith("--output=") || (arg.startsWith("-o") && arg.length > 2));
    case "find":
      return !args.some((arg) => UNSAFE_FIND_OPTIONS.has(arg));
    case "rg":
      return !args.some(
        (arg) =>
          arg === "--search-zip" || arg === "-z" || arg === "--pre" || arg === "--hostname-bin" ||
          arg.startsWith("--pre=") || arg.startsWith("--hostname-bin="),
      );
    case "git":
      return isSafeGit(command);
    case "sed":
      return command.length <= 4 && command[1] === "-n" && /^(\d+,)?\d+p$/.test(command[2] ?? "");
    default:
      return false;
  }
}

function isSafeGit(command: readonly string[]): boolean {
  // Config overrides can run arbitrary programs (pagers, diff drivers), wherever they appear.
  const overridesConfig = command.some(
    (token) => token === "-c" || token === "--config-env" || token.startsWith("--config-env=") || (token.startsWith("-c") && token.length > 2),
  );
  if (overridesConfig) return false;
  const index = findGitSubcommand(command, SAFE_GIT_SUBCOMMANDS);
  if (index === undefined) return false;
  const args = command.slice(index + 1);
  const readsOnly = !args.some((arg) => UNSAFE_GIT_READ_OPTIONS.has(arg) || arg.startsWith("--output=") || arg.startsWith("--exec="));
  if (!readsOnly) return false;
  if (command[index] !== "branch") return true;
  return args.every((arg) => READ_ONLY_BRANCH_FLAGS.has(arg) || arg.startsWith("--format="));
}
