/** Persisting an "always allow" prefix rule (policy.md section 6, `blocking_append_allow_prefix_rule`). */

import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { commandMightBeDangerous } from "./heuristics.ts";
import { basename } from "./policy.ts";

/** Codex's exact line: JSON strings (also Starlark strings with the same meaning), joined by ", ". */
export function allowPrefixRuleLine(prefix: readonly string[]): string {
  return `prefix_rule(pattern=[${prefix.map((token) => JSON.stringify(token)).join(", ")}], decision="allow")`;
}

/**
 * Takes an exclusive advisory lock on an open descriptor, released when it is
 * closed. The policy code does no FFI itself: the caller passes flock.
 */
export type ExclusiveLock = (fd: number) => void;

/**
 * Appends `prefix_rule(pattern=[...], decision="allow")` to `policyPath`
 * unless an identical line exists, creating the parent directory (one level).
 * With `lock`, the read and the append happen under it, so concurrent writers
 * (several servers) neither lose nor duplicate a line.
 */
export function appendAllowPrefixRule(policyPath: string, prefix: readonly string[], lock?: ExclusiveLock): void {
  if (prefix.length === 0) throw new Error("prefix rule requires at least one token");
  const line = allowPrefixRuleLine(prefix);

  const directory = dirname(policyPath);
  if (directory === policyPath) throw new Error(`policy path has no parent: ${policyPath}`);
  try {
    mkdirSync(directory);
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) {
      throw new Error(`failed to create policy directory ${directory}: ${describe(error)}`);
    }
  }

  let fd: number;
  try {
    fd = openSync(policyPath, "a+");
  } catch (error) {
    throw new Error(`failed to open policy file ${policyPath}: ${describe(error)}`);
  }
  try {
    if (lock !== undefined) {
      try {
        lock(fd);
      } catch (error) {
        throw new Error(`failed to lock policy file ${policyPath}: ${describe(error)}`);
      }
    }
    let contents: string;
    try {
      contents = readFileSync(fd, "utf8");
    } catch (error) {
      throw new Error(`failed to read policy file ${policyPath}: ${describe(error)}`);
    }
    // Rust's `lines()` also strips a trailing `\r`.
    if (contents.split("\n").some((existing) => existing.replace(/\r$/, "") === line)) return;
    const separator = contents.length > 0 && !contents.endsWith("\n") ? "\n" : "";
    try {
      writeSync(fd, `${separator}${line}\n`);
    } catch (error) {
      throw new Error(`failed to write to policy file ${policyPath}: ${describe(error)}`);
    }
  } finally {
    closeSync(fd);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Programs for which a prefix says nothing about what runs: shells,
 * interpreters, and programs that run another program or arbitrary code
 * from their arguments. "Always allow" is never offered for them.
 */
const RUNS_ANYTHING: ReadonlySet<string> = new Set([
  ...["sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "busybox"],
  ...["node", "nodejs", "deno", "bun", "perl", "ruby", "php", "lua", "luajit", "tclsh", "wish", "Rscript", "julia", "osascript"],
  ...["env", "sudo", "doas", "su", "runuser", "pkexec", "xargs", "nice", "ionice", "nohup", "timeout", "time", "stdbuf", "chroot"],
  ...["unshare", "nsenter", "setsid", "setpriv", "strace", "ltrace", "gdb", "watch", "flock", "script", "expect", "parallel"],
  ...["find", "awk", "gawk", "mawk", "nawk", "sed", "make", "gmake", "ssh", "docker", "podman", "kubectl"],
  ...["npx", "npm", "pnpm", "yarn", "bunx", "uv", "uvx", "pipx", "poetry", "cargo", "go", "just", "task"],
]);

function runsAnything(program: string): boolean {
  const name = basename(program);
  // python, python3, python3.12, pypy3...
  return RUNS_ANYTHING.has(name) || /^(python|pypy)[0-9.]*$/.test(name);
}

/**
 * The prefix "always allow" offers for a prompted command (as the rules see
 * it: program, then arguments): the program and its first word when that is
 * not an option (`git push` for `git push origin main`), or the program alone
 * when it has no arguments. Null when a prefix would allow too much or
 * cannot be stated: dangerous commands, shells and interpreters, an option
 * right after the program (a prefix cannot skip it).
 */
export function alwaysAllowOffer(command: readonly string[]): string[] | null {
  const [program, first] = command;
  if (program === undefined || runsAnything(program) || commandMightBeDangerous(command)) return null;
  if (first === undefined) return [program];
  if (first.startsWith("-") || first === "") return null;
  return [program, first];
}

const ALLOW_LINE = /^prefix_rule\(pattern=\[(.*)\], decision="allow"\)\r?$/;

/**
 * The prefixes "always allow" has written to `policyPath` (lines in exactly
 * our format; anything else in the file is the rules engine's business). A
 * missing or unreadable file has none.
 */
export function readAlwaysAllowPrefixes(policyPath: string): string[][] {
  let text: string;
  try {
    text = readFileSync(policyPath, "utf8");
  } catch {
    return [];
  }
  const prefixes: string[][] = [];
  for (const line of text.split("\n")) {
    const match = ALLOW_LINE.exec(line);
    if (match === null) continue;
    let tokens: unknown;
    try {
      tokens = JSON.parse(`[${match[1]}]`);
    } catch {
      continue;
    }
    if (Array.isArray(tokens) && tokens.length > 0 && tokens.every((token) => typeof token === "string")) prefixes.push(tokens);
  }
  return prefixes;
}

/**
 * Whether an "always allow" prefix approves `command` without asking: one of
 * `prefixes` starts it, token for token, and it is not a command for which
 * nothing would have been offered (`git push --force` still asks after
 * `git push` was allowed).
 */
export function alwaysAllowCovers(command: readonly string[], prefixes: readonly (readonly string[])[]): boolean {
  const program = command[0];
  if (program === undefined || runsAnything(program) || commandMightBeDangerous(command)) return false;
  return prefixes.some((prefix) => prefix.length > 0 && prefix.length <= command.length && prefix.every((token, i) => command[i] === token));
}
