// Differential test of `check` against the real `codex execpolicy check`.
//
//   bun scripts/differential.ts [--cases N] [--seed S] [--codex V]... [--no-corpus]
//
// Generates seeded rules files and commands from the rules language of
// docs/policy.md (sections 1, 5 and 8: prefix_rule, host_executable,
// network_rule, Starlark's lexical rules), not from our parser; runs each case
// through our compiled binary (dist/codex-exec-mcp-server check) and through
// Codex (default: 0.97.0 and the newest on npm, installed on demand from the
// npm registry into $XDG_CACHE_HOME/codex-exec-mcp/differential); compares exit
// status, stdout JSON and the `path:line:col` of a load error; prints the
// disagreements grouped by what the cases have in common; and writes the corpus
// replayed by test/policy/differential-corpus.test.ts (no Codex needed there).
//
// The expected result of a case is the newest Codex's, except where 0.97 loads a
// file the newest refuses (files written for 0.97 keep working: 0.97 is
// followed) and where docs/policy.md section 11 or our declarative subset
// (section 1.1) makes a deliberate difference (then the case is labelled).
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const OURS = join(ROOT, "dist", "codex-exec-mcp-server");
/** The corpus test/policy/differential-corpus.test.ts replays. */
export const CORPUS = join(ROOT, "test", "policy", "fixtures", "differential-corpus.jsonl");

interface Options {
  cases: number;
  seed: number;
  versions: string[];
  writeCorpus: boolean;
  parallel: number;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { cases: 5000, seed: 13, versions: [], writeCorpus: true, parallel: 3 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--cases") options.cases = Number(value());
    else if (arg === "--seed") options.seed = Number(value());
    else if (arg === "--codex") options.versions.push(value());
    else if (arg === "--parallel") options.parallel = Number(value());
    else if (arg === "--no-corpus") options.writeCorpus = false;
    else throw new Error(`unknown option ${arg}`);
  }
  if (options.versions.length === 0) options.versions = ["0.97.0", "latest"];
  return options;
}

// ---------------------------------------------------------------------------
// Codex from the npm registry

const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "codex-exec-mcp", "differential");

/** Installs @openai/codex@version (once) and returns its native binary and exact version. */
function installCodex(version: string): { binary: string; version: string } {
  const exact = version === "latest" ? execFileSync("npm", ["view", "@openai/codex@latest", "version"], { encoding: "utf8" }).trim() : version;
  const prefix = join(CACHE, `codex-${exact}`);
  let binary = findCodexBinary(prefix);
  if (binary === undefined) {
    mkdirSync(prefix, { recursive: true });
    process.stderr.write(`installing @openai/codex@${exact} into ${prefix}\n`);
    // The package ships its native binary either inside itself (0.97) or as an optional per-platform dependency (newer).
    execFileSync("npm", ["install", "--prefix", prefix, "--no-save", "--no-audit", "--no-fund", `@openai/codex@${exact}`], { stdio: "inherit" });
    binary = findCodexBinary(prefix);
  }
  if (binary === undefined) throw new Error(`no native codex binary for this platform in ${prefix}`);
  return { binary, version: exact };
}

function findCodexBinary(prefix: string): string | undefined {
  const triple = `${process.arch === "arm64" ? "aarch64" : "x86_64"}-${process.platform === "darwin" ? "apple-darwin" : "unknown-linux-musl"}`;
  const scope = join(prefix, "node_modules", "@openai");
  if (!existsSync(scope)) return undefined;
  for (const pkg of readdirSync(scope)) {
    for (const candidate of [join(scope, pkg, "vendor", triple, "codex", "codex"), join(scope, pkg, "vendor", triple, "bin", "codex")]) {
      if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Seeded generator

export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** mulberry32 */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
}

/** Words commands and patterns are built from: programs, flags, odd characters, the whitespace Rust and JavaScript disagree on. */
const WORDS = [
  "git", "ls", "rm", "npm", "bash", "sh", "cat", "status", "commit", "push", "-rf", "-l", "-c", "-lc", "--force", "-h", "--help",
  "-_", "--_", "-x_", "--pretty", "-r", "--", "/usr/bin/git", "/bin/ls", "a b", "", "é", "😀", "it's", 'say "hi"', "a\\b", "$HOME",
  "#x", "tab\there", "new\nline", "\u0085", "\ufeff", "\u00a0", "x=1", "~/bin", "*", "a'b\"c",
];
const DECISIONS = ["allow", "prompt", "forbidden", "deny", "Allow", "ask", ""];
const JUSTIFICATIONS = ["destructive command", "", "   ", "\t", "\u0085", "\ufeff", "\u00a0", "\u3000", "why\nnot", "😀 ok", "\u2028"];
const NETWORK_HOSTS = ["example.com", "Example.COM.", "api.example.com:443", "[::1]:8080", "[::1", "*.example.com", "http://x", "a b", "", " ", "x/y", "host:", "1.2.3.4"];
const NETWORK_PROTOCOLS = ["http", "https", "https_connect", "http-connect", "socks5_tcp", "socks5_udp", "ftp", "HTTP"];
const HOST_PATHS = ["/usr/bin/git", "/bin/git", "git", "/usr/bin/rg", "~/bin/git", "/opt/homebrew/bin/git", "/usr/bin/ls"];

/** Features a case uses, to group disagreements by what they have in common. */
type Tags = Set<string>;

/** A Starlark string literal for `value`, in one of the spellings the lexer accepts (or, tagged, one it does not). */
function stringLiteral(r: Random, value: string, tags: Tags): string {
  const escaped = (quote: string): string => {
    let out = "";
    for (const char of value) {
      if (char === "\\") out += "\\\\";
      else if (char === quote) out += `\\${quote}`;
      else if (char === "\n") out += r.chance(0.5) ? "\\n" : "\\x0a";
      else if (char === "\t") out += r.chance(0.7) ? "\\t" : "\\u0009";
      else if (char.codePointAt(0)! > 0x7f && r.chance(0.3)) {
        const code = char.codePointAt(0)!;
        out += code > 0xffff ? `\\U${code.toString(16).padStart(8, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
        tags.add("unicode-escape");
      } else out += char;
    }
    return out;
  };
  const roll = r.int(200);
  if (roll === 0) {
    tags.add("prefix-invalid");
    return `${r.pick(["u", "R", "B", "F", "U", "rf", "Rb"])}"${escaped('"')}"`;
  }
  if (roll === 1) {
    tags.add("prefix-bytes");
    return `${r.pick(["b", "rb", "br"])}"${escaped('"')}"`;
  }
  if (roll >= 2 && roll < 6 && !/[\\"{}\n]/.test(value)) {
    tags.add("prefix-raw");
    return `${r.pick(["r", "f", "fr"])}"${value}"`;
  }
  if (roll === 6) {
    tags.add("fstring-placeholder");
    return `f"{${r.pick(["x", "name"])}}${escaped('"')}"`;
  }
  if (roll === 7) {
    tags.add("escape-invalid");
    return `"${escaped('"')}${r.pick(["\\ud800", "\\x4", "\\U00110000", "\\u12"])}"`;
  }
  if (roll >= 8 && roll < 12) {
    tags.add("triple-quoted");
    return `"""${escaped('"').replace(/\\n/g, "\n")}"""`;
  }
  if (roll >= 12 && roll < 16) {
    tags.add("escape-unknown");
    return `"${escaped('"')}\\d"`;
  }
  if (roll < 80) return `'${escaped("'")}'`;
  return `"${escaped('"')}"`;
}

function pick<T>(r: Random, items: readonly T[], count: number): T[] {
  return Array.from({ length: count }, () => r.pick(items));
}

interface RuleSketch {
  pattern: string[][];
}

/** A shell-quoted example string for a token list (sometimes broken or empty). */
function exampleString(r: Random, tokens: readonly string[], tags: Tags): string {
  const quoted = tokens.map((token) => (/^[A-Za-z0-9_./-]+$/.test(token) ? token : `'${token.replaceAll("'", "'\\''")}'`));
  const roll = r.int(40);
  if (roll === 0) {
    tags.add("example-bad-shell");
    return `${quoted.join(" ")} 'unterminated`;
  }
  if (roll === 1) {
    tags.add("example-empty");
    return r.pick(["", "  ", "# only a comment"]);
  }
  return quoted.join(" ");
}

/** One `prefix_rule(...)` call. */
function prefixRuleCall(r: Random, tags: Tags, sketches: RuleSketch[]): string {
  const length = 1 + r.int(3);
  const pattern = Array.from({ length }, (_, i) => (r.chance(i === 0 ? 0.15 : 0.25) ? pick(r, WORDS, 1 + r.int(3)) : [r.pick(i === 0 ? WORDS.slice(0, 8) : WORDS)]));
  sketches.push({ pattern });
  const args: string[] = [];
  const literalToken = (alternatives: string[]): string =>
    alternatives.length === 1 && r.chance(0.9) ? stringLiteral(r, alternatives[0]!, tags) : `[${alternatives.map((value) => stringLiteral(r, value, tags)).join(", ")}]`;
  let patternText = `[${pattern.map(literalToken).join(", ")}]`;
  const oddPattern = r.int(60);
  if (oddPattern === 0) {
    tags.add("pattern-empty");
    patternText = "[]";
  } else if (oddPattern === 1) {
    tags.add("pattern-bad-element");
    patternText = `[${stringLiteral(r, "git", tags)}, ${r.pick(["1", "None", "True", "[]", "(\"a\",)", "{}", '["a", 2]'])}]`;
  } else if (oddPattern === 2) {
    tags.add("pattern-tuple");
    patternText = `(${stringLiteral(r, "git", tags)},)`;
  }
  const positional = r.chance(0.05);
  if (positional) tags.add("positional");
  args.push(positional ? patternText : `pattern=${patternText}`);
  if (r.chance(0.6)) {
    const decision = r.chance(0.9) ? r.pick(DECISIONS.slice(0, 3)) : r.pick(DECISIONS);
    if (!["allow", "prompt", "forbidden"].includes(decision)) tags.add("decision-invalid");
    args.push(`decision=${stringLiteral(r, decision, tags)}`);
  }
  if (r.chance(0.3)) {
    const justification = r.chance(0.7) ? r.pick(["destructive command", "😀 ok", "why\nnot"]) : r.pick(JUSTIFICATIONS);
    tags.add(`justification-${[...justification].map((c) => c.codePointAt(0)!.toString(16)).join("-").slice(0, 20) || "empty"}`);
    args.push(`justification=${stringLiteral(r, justification, tags)}`);
  }
  for (const key of ["match", "not_match"]) {
    if (!r.chance(0.3)) continue;
    tags.add(key);
    const examples = Array.from({ length: 1 + r.int(2) }, () => {
      const tokens = pattern.map((alternatives) => r.pick(alternatives));
      if (r.chance(0.4)) tokens.push(r.pick(WORDS));
      // Mostly examples that pass: matching for `match`, not matching for `not_match`.
      if (key === "not_match" && r.chance(0.85)) tokens[r.int(tokens.length)] = "zzz";
      if (r.chance(0.05)) tokens[0] = r.pick(["/usr/bin/git", "/bin/ls", "other"]);
      if (r.chance(0.5)) return `[${tokens.map((token) => stringLiteral(r, token, tags)).join(", ")}]`;
      return stringLiteral(r, exampleString(r, tokens, tags), tags);
    });
    if (r.chance(0.02)) {
      tags.add("example-bad-type");
      examples.push(r.pick(["1", "[]", "[1]", "None"]));
    }
    args.push(`${key}=[${examples.join(", ")}]`);
  }
  if (r.chance(0.03)) {
    tags.add("argument-unknown");
    args.push(`reviewer=${stringLiteral(r, "user", tags)}`);
  }
  if (r.chance(0.03)) {
    tags.add("argument-none");
    args.push(`${r.pick(["decision", "justification", "match"])}=None`);
  }
  if (!positional && r.chance(0.3)) args.reverse();
  return `prefix_rule(${joinArguments(r, args, tags)})`;
}

function hostExecutableCall(r: Random, tags: Tags): string {
  tags.add("host_executable");
  const name = r.chance(0.8) ? r.pick(["git", "ls"]) : r.pick(["/usr/bin/git", "", "rg"]);
  const goodPaths = HOST_PATHS.filter((path) => path.startsWith("/") && path.endsWith(`/${name}`));
  const paths = pick(r, r.chance(0.8) && goodPaths.length > 0 ? goodPaths : HOST_PATHS, r.int(3)).map((path) => stringLiteral(r, path, tags));
  return `host_executable(${joinArguments(r, [`name=${stringLiteral(r, name, tags)}`, `paths=[${paths.join(", ")}]`], tags)})`;
}

function networkRuleCall(r: Random, tags: Tags): string {
  tags.add("network_rule");
  const args = [
    `host=${stringLiteral(r, r.chance(0.7) ? r.pick(NETWORK_HOSTS.slice(0, 4)) : r.pick(NETWORK_HOSTS), tags)}`,
    `protocol=${stringLiteral(r, r.chance(0.8) ? r.pick(NETWORK_PROTOCOLS.slice(0, 6)) : r.pick(NETWORK_PROTOCOLS), tags)}`,
    `decision=${stringLiteral(r, r.chance(0.8) ? r.pick(DECISIONS.slice(0, 4)) : r.pick(DECISIONS), tags)}`,
  ];
  if (r.chance(0.3)) args.push(`justification=${stringLiteral(r, r.pick(JUSTIFICATIONS), tags)}`);
  if (r.chance(0.05)) {
    tags.add("network-missing-argument");
    args.splice(r.int(args.length), 1);
  }
  return `network_rule(${joinArguments(r, args, tags)})`;
}

/** Arguments with the layout variations Starlark allows (and a few it does not). */
function joinArguments(r: Random, args: string[], tags: Tags): string {
  const separator = (): string => {
    const roll = r.int(80);
    if (roll === 0) {
      tags.add("tab");
      return ",\t";
    }
    if (roll < 4) {
      tags.add("line-continuation");
      return `, \\${r.chance(0.3) ? "\r\n" : "\n"}`;
    }
    if (roll < 10) {
      tags.add("newline-in-brackets");
      return ",\n    ";
    }
    if (roll < 13) {
      tags.add("comment-in-brackets");
      return ", # note\n";
    }
    return ", ";
  };
  let text = args.reduce((acc, arg, i) => (i === 0 ? arg : acc + separator() + arg), "");
  if (r.chance(0.1)) {
    tags.add("trailing-comma");
    text += ",";
  }
  return text;
}

/** A statement outside our declarative subset (valid Starlark, or not). */
function oddStatement(r: Random, tags: Tags): string {
  const statements: [string, string][] = [
    ["unknown-function", 'foo_rule(pattern=["a"])'],
    ["variable", 'X = ["git"]'],
    ["variable-use", "prefix_rule(pattern=GIT)"],
    ["operator", 'prefix_rule(pattern=["a"] + ["b"])'],
    ["unary-minus", "prefix_rule(pattern=[-1])"],
    ["def", "def f():\n    pass"],
    ["load", 'load("x.star", "y")'],
    ["docstring", '"""A docstring."""'],
    ["pass", "pass"],
    ["missing-paren", 'prefix_rule(pattern=["a"]'],
    ["extra-paren", 'prefix_rule(pattern=["a"]))'],
    ["two-calls-one-line", 'prefix_rule(pattern=["a"]) prefix_rule(pattern=["b"])'],
    ["semicolon", 'prefix_rule(pattern=["a"]); prefix_rule(pattern=["b"])'],
    ["print", 'print("x")'],
    ["invalid-character", 'prefix_rule(pattern=["a"]) $'],
    ["leading-zero", "prefix_rule(pattern=[01])"],
    ["unterminated-string", 'prefix_rule(pattern=["a)'],
  ];
  const [tag, text] = r.pick(statements);
  tags.add(`statement-${tag}`);
  return text;
}

export interface GeneratedCase {
  rules: string;
  args: string[];
  tags: string[];
}

export function generateCase(r: Random): GeneratedCase {
  const tags: Tags = new Set();
  const sketches: RuleSketch[] = [];
  const lines: string[] = [];
  const statementCount = 1 + r.int(4);
  for (let i = 0; i < statementCount; i++) {
    const roll = r.int(40);
    let line: string;
    if (roll < 29) line = prefixRuleCall(r, tags, sketches);
    else if (roll < 32) line = hostExecutableCall(r, tags);
    else if (roll < 35) line = networkRuleCall(r, tags);
    else if (roll < 38) {
      tags.add("comment");
      line = `# ${r.pick(WORDS)}\t${r.pick(WORDS)}`;
    } else line = oddStatement(r, tags);
    if (r.chance(0.015)) {
      tags.add("leading-spaces");
      line = `${" ".repeat(1 + r.int(3))}${line}`;
    }
    if (r.chance(0.05)) {
      tags.add("trailing-comment");
      line += "  # trailing 😀";
    }
    lines.push(line);
    if (r.chance(0.1)) lines.push("");
  }
  const roll = r.int(50);
  let eol = "\n";
  if (roll === 0) {
    tags.add("crlf");
    eol = "\r\n";
  } else if (roll === 1) {
    tags.add("lone-cr");
    eol = "\r";
  }
  let rules = lines.join(eol) + (r.chance(0.9) ? eol : "");
  if (r.chance(0.015)) {
    tags.add("bom");
    rules = `\ufeff${rules}`;
  }
  if (r.chance(0.01)) {
    tags.add("emoji-before-error");
    rules = `prefix_rule(pattern=["😀😀"], decision="x")${eol}${rules}`;
  }

  // A command that often starts like a generated pattern, with hyphen words the CLI must not take as options.
  const sketch = sketches.length > 0 && r.chance(0.8) ? r.pick(sketches) : undefined;
  const command = sketch === undefined ? pick(r, WORDS, 1 + r.int(3)) : sketch.pattern.slice(0, 1 + r.int(sketch.pattern.length)).map((alts) => r.pick(alts));
  if (r.chance(0.5)) command.push(...pick(r, WORDS, r.int(3)));
  if (r.chance(0.1)) {
    tags.add("absolute-program");
    command[0] = `/usr/bin/${command[0]}`;
  }
  const args = ["-r", "p.rules"];
  if (r.chance(0.1)) {
    tags.add("pretty");
    args.push("--pretty");
  }
  if (r.chance(0.1)) {
    tags.add("resolve-host-executables");
    args.push("--resolve-host-executables");
  }
  if (command[0]?.startsWith("-") === true || r.chance(0.2)) {
    tags.add(command[0]?.startsWith("-") === true ? "command-hyphen-first" : "double-dash");
    args.push("--");
  }
  if (command.slice(1).some((word) => word.startsWith("-"))) tags.add("command-hyphen-word");
  args.push(...command);
  return { rules, args, tags: [...tags].sort() };
}

// ---------------------------------------------------------------------------
// Running a case

export interface Outcome {
  /** Exit status. */
  status: number;
  /** stdout re-serialised compactly when it is JSON, else verbatim. */
  stdout: string;
  /** `line:col` of a load error in p.rules, if one was reported. */
  location: string | null;
  /** The error's gist, for grouping disagreements; not compared, not in the corpus. */
  reason?: string;
}

/** The first error line of stderr, with quoted specifics blanked so that similar errors group together. */
function reasonOf(stderr: string): string | undefined {
  const line = stderr.split("\n").find((text) => /error:|expected (every )?example|invalid |Parse error/.test(text) && !text.includes("Traceback"));
  if (line === undefined) return undefined;
  return line
    .replace(/^.*?(error: |Caused by: )/, "")
    .replace(/^starlark error: /, "")
    .replace(/p\.rules:\d+:\d+: /, "")
    .replace(/`[^`]*`|"[^"]*"|'[^']*'|\(got [^)]*\)/g, "_")
    .replace(/ here, expected one of .*$/, "")
    .slice(0, 80)
    .trim();
}

/** Stdout JSON compared as values (compact and pretty print alike). */
export function normalizeStdout(stdout: string): string {
  try {
    return JSON.stringify(JSON.parse(stdout));
  } catch {
    return stdout;
  }
}

function run(binary: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(binary, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code, signal) => resolvePromise({ status: code ?? (signal === null ? -1 : 128), stdout, stderr }));
  });
}

/** Codex points at errors with `--> p.rules:L:C`; ours starts its message with `p.rules:L:C:`. */
function locationOf(stderr: string, codex: boolean): string | null {
  const match = codex ? /--> p\.rules:(\d+):(\d+)/.exec(stderr) : /p\.rules:(\d+):(\d+):/.exec(stderr);
  return match === null ? null : `${match[1]}:${match[2]}`;
}

async function runCase(testCase: GeneratedCase, binary: string, codex: boolean, work: string): Promise<Outcome> {
  const dir = mkdtempSync(join(work, "case-"));
  try {
    writeFileSync(join(dir, "p.rules"), testCase.rules);
    mkdirSync(join(dir, "home", ".codex"), { recursive: true });
    const env = { PATH: process.env.PATH, HOME: join(dir, "home"), CODEX_HOME: join(dir, "home", ".codex"), NO_COLOR: "1" };
    const args = codex ? ["execpolicy", "check", ...testCase.args] : ["check", ...testCase.args];
    const result = await run(binary, args, dir, env);
    return { status: result.status, stdout: normalizeStdout(result.stdout), location: locationOf(result.stderr, codex), reason: reasonOf(result.stderr) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Codex's answers do not change for a given binary: kept on disk so that a rerun only runs ours. */
class OutcomeCache {
  private readonly entries: Record<string, Outcome>;
  constructor(private readonly path: string) {
    this.entries = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, Outcome>) : {};
  }
  static key(testCase: GeneratedCase): string {
    return createHash("sha256").update(JSON.stringify([testCase.rules, testCase.args])).digest("hex");
  }
  get(testCase: GeneratedCase): Outcome | undefined {
    return this.entries[OutcomeCache.key(testCase)];
  }
  set(testCase: GeneratedCase, outcome: Outcome): void {
    this.entries[OutcomeCache.key(testCase)] = outcome;
  }
  save(): void {
    writeFileSync(this.path, JSON.stringify(this.entries));
  }
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  });
  await Promise.all(workers);
  return results;
}

// ---------------------------------------------------------------------------
// Judging

/** Why ours may deliberately differ from Codex on a case, or undefined. */
function documentedDifference(newest: Outcome, old: Outcome, ours: Outcome): string | undefined {
  // Files written for 0.97 keep loading: where the newest refuses what 0.97 accepts, 0.97 is followed
  // (the newest resolves `not_match` examples' absolute paths to basename rules, and so refuses
  // `not_match=["/usr/bin/git"]` under a `git` rule).
  if (old.status === 0 && newest.status !== 0 && same(ours, old)) return "0.97-compatibility";
  if (ours.status === 0 && newest.reason?.startsWith("expected example to not match") === true) return "0.97-compatibility";
  // docs/policy.md 11.4: every load error names file, line and column; the newest Codex prints none for example checks.
  if (ours.status === newest.status && ours.stdout === newest.stdout && newest.location === null && ours.location !== null) return "located-errors";
  // Our declarative subset (docs/policy.md 1.1): valid Starlark we refuse, with a located error, where Codex would run it.
  if (ours.status !== 0 && /not supported in rules files|rules files can only call/.test(ours.reason ?? "")) return "declarative-subset";
  return undefined;
}

function strip({ status, stdout, location }: Outcome): Outcome {
  return { status, stdout, location };
}

function same(a: Outcome, b: Outcome): boolean {
  return a.status === b.status && a.stdout === b.stdout && a.location === b.location;
}

function describeMismatch(expected: Outcome, ours: Outcome): string {
  const parts: string[] = [];
  if (expected.status !== ours.status) parts.push(`status ${expected.status}/${ours.status}`);
  if (expected.stdout !== ours.stdout) parts.push("stdout");
  if (expected.location !== ours.location) parts.push("location");
  return parts.join("+");
}

export interface CorpusEntry {
  id: number;
  rules: string;
  args: string[];
  /** What ours must produce. */
  expected: Outcome;
  /** The newest Codex's result, when ours deliberately differs from it. */
  codex?: Outcome;
  /** Why ours differs from the newest Codex on this case. */
  difference?: string;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (!existsSync(OURS)) throw new Error(`${OURS} is missing: run \`bun scripts/build.ts\` first`);
  const codexes = options.versions.map(installCodex);
  const random = new Random(options.seed);
  const cases = Array.from({ length: options.cases }, () => generateCase(random));
  const work = mkdtempSync(join(tmpdir(), "differential-"));
  mkdirSync(CACHE, { recursive: true });

  const codexOutcomes: Outcome[][] = [];
  for (const codex of codexes) {
    const cache = new OutcomeCache(join(CACHE, `outcomes-${codex.version}.json`));
    process.stderr.write(`running ${cases.length} cases through codex ${codex.version}\n`);
    codexOutcomes.push(
      await mapLimited(cases, options.parallel, async (testCase) => {
        const cached = cache.get(testCase);
        if (cached !== undefined) return cached;
        const outcome = await runCase(testCase, codex.binary, true, work);
        cache.set(testCase, outcome);
        return outcome;
      }),
    );
    cache.save();
  }
  process.stderr.write(`running ${cases.length} cases through ${OURS}\n`);
  const ours = await mapLimited(cases, options.parallel, (testCase) => runCase(testCase, OURS, false, work));
  rmSync(work, { recursive: true, force: true });

  const newestIndex = codexes.length - 1;
  const corpus: CorpusEntry[] = [];
  const disagreements = new Map<string, { count: number; example: number }>();
  const versionSplits = new Map<string, { count: number; example: number }>();
  const differences = new Map<string, number>();
  const bump = (map: Map<string, { count: number; example: number }>, key: string, index: number): void => {
    const entry = map.get(key);
    if (entry === undefined) map.set(key, { count: 1, example: index });
    else entry.count += 1;
  };
  cases.forEach((testCase, index) => {
    const newest = codexOutcomes[newestIndex]![index]!;
    const old = codexOutcomes[0]![index]!;
    const mine = ours[index]!;
    if (codexes.length > 1 && !same(newest, old)) bump(versionSplits, `${describeMismatch(old, newest)}: ${old.reason ?? "ok"} -> ${newest.reason ?? "ok"}`, index);
    const difference = same(mine, newest) ? undefined : documentedDifference(newest, old, mine);
    if (difference !== undefined) {
      differences.set(difference, (differences.get(difference) ?? 0) + 1);
      corpus.push({ id: index, rules: testCase.rules, args: testCase.args, expected: strip(mine), codex: strip(newest), difference });
      return;
    }
    if (!same(mine, newest)) {
      bump(disagreements, `${describeMismatch(newest, mine)}: codex ${newest.reason ?? "ok"}; ours ${mine.reason ?? "ok"} [${testCase.tags.join(" ")}]`, index);
      return;
    }
    corpus.push({ id: index, rules: testCase.rules, args: testCase.args, expected: strip(newest) });
  });

  const report = (title: string, map: Map<string, { count: number; example: number }>): void => {
    const total = [...map.values()].reduce((sum, entry) => sum + entry.count, 0);
    console.log(`\n${title}: ${total} cases`);
    for (const [key, { count, example }] of [...map].sort((a, b) => b[1].count - a[1].count)) {
      console.log(`  ${String(count).padStart(5)}  ${key}`);
      const testCase = cases[example]!;
      console.log(`         e.g. #${example} ${JSON.stringify(testCase.rules)} ${JSON.stringify(testCase.args)}`);
      console.log(`         codex ${JSON.stringify(codexOutcomes[newestIndex]![example])}, 0.97 ${JSON.stringify(codexOutcomes[0]![example])}, ours ${JSON.stringify(ours[example])}`);
    }
  };
  console.log(`cases: ${cases.length} (seed ${options.seed}); codex: ${codexes.map((codex) => codex.version).join(", ")}`);
  console.log(`loaded by the newest codex: ${codexOutcomes[newestIndex]!.filter((outcome) => outcome.status === 0).length}`);
  console.log(`documented differences: ${JSON.stringify(Object.fromEntries(differences))}`);
  if (codexes.length > 1) report(`codex ${codexes[0]!.version} vs ${codexes[newestIndex]!.version}`, versionSplits);
  report("disagreements (ours vs the newest codex, undocumented)", disagreements);

  if (options.writeCorpus) {
    mkdirSync(join(ROOT, "test", "policy", "fixtures"), { recursive: true });
    writeFileSync(CORPUS, corpus.map((entry) => JSON.stringify(entry)).join("\n") + "\n");
    console.log(`\nwrote ${corpus.length} cases to ${CORPUS}`);
  }
  if (disagreements.size > 0) process.exitCode = 1;
}

if (import.meta.main) await main();
