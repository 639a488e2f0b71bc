/**
 * The builtins of `.rules` files: `prefix_rule` (0.97 semantics, docs/policy.md 1.2-1.4,
 * with the later deferred example checks), `host_executable` (later Codex, section 8,
 * which this project adopts) and `network_rule` (later Codex: validated, not enforced).
 */

import { type CallArgument, type CallStatement, parseStarlarkProgram, StarlarkError, type StarlarkValue, starlarkTypeName } from "./starlark.ts";
import { basename, type Decision, matchPrefixRule, type PatternToken, type Policy, type PrefixRule } from "./policy.ts";
import { shlexSplit, shlexTryJoin } from "./shlex.ts";

/** What a rules file contained besides command rules. */
export interface RulesFileReport {
  /** How many `network_rule(...)` calls it made: validated, but this server does not enforce them. */
  readonly networkRules: number;
}

/**
 * Parses and evaluates one rules file into `policy`, which accumulates across
 * files. Throws StarlarkError; on error the caller must discard the policy,
 * because earlier calls of the file have already been added.
 */
export function applyRulesSource(policy: Policy, path: string, source: string): RulesFileReport {
  const { calls, references, bindings, unsupported } = parseStarlarkProgram(path, source);
  // Starlark resolves names before running anything: the first name that is
  // neither a global nor defined by the file fails it up front.
  for (const { name, location, callee } of references) {
    if (BUILTINS.has(name) || STARLARK_GLOBALS.has(name) || bindings.has(name)) continue;
    throw new StarlarkError(path, location, callee ? undefinedNameReason(name, false) : `Variable \`${name}\` not found`);
  }
  const pendingExamples: PendingExamples[] = [];
  let networkRules = 0;
  for (const call of calls.slice(0, unsupported?.afterCalls)) {
    const context: CallContext = { policy, fail: (reason) => { throw new StarlarkError(path, call.location, reason); } };
    // A defined function other than ours (a Starlark global, or one the file defines) is outside our subset.
    if (!BUILTINS.has(call.callee)) context.fail(undefinedNameReason(call.callee, true));
    if (call.callee === "prefix_rule") pendingExamples.push(evaluatePrefixRule(context, call));
    else if (call.callee === "host_executable") evaluateHostExecutable(context, call);
    else {
      evaluateNetworkRule(context, call);
      networkRules += 1;
    }
  }
  // The calls before a construct outside our subset have run (their errors come first); it stops the file.
  if (unsupported !== undefined) throw unsupported.error;
  // Later Codex checks examples once the whole file has run (0.97 did it inside each call),
  // so that a later call's own error is reported first and host executables are known.
  for (const pending of pendingExamples) checkExamples(policy, pending);
  return { networkRules };
}

interface CallContext {
  readonly policy: Policy;
  /** Raises an error located at the call, which is where the reference reports builtin errors. */
  readonly fail: (reason: string) => never;
}

const BUILTINS = new Set(["prefix_rule", "host_executable", "network_rule"]);

/** Rust's `char::is_whitespace` (Unicode White_Space), which differs from JavaScript's `trim` on U+0085 and U+FEFF. */
const RUST_WHITESPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;

function isBlank(text: string): boolean {
  return RUST_WHITESPACE.test(text);
}

/**
 * The standard Starlark globals Codex defines (`print` is not one of them):
 * valid names, but calls to them are outside our declarative subset.
 */
const STARLARK_GLOBALS = new Set([
  "abs", "all", "any", "bool", "chr", "dict", "dir", "isinstance", "ord", "enumerate", "fail", "float", "getattr", "hasattr", "hash", "int", "len",
  "list", "max", "min", "range", "repr", "reversed", "sorted", "str", "tuple", "type", "zip",
]);

function undefinedNameReason(name: string, defined: boolean): string {
  const supported = "rules files can only call prefix_rule, host_executable and network_rule";
  if (defined) return `calling \`${name}\` is not supported: ${supported}`;
  return `name \`${name}\` is not defined: ${supported}`;
}

// ---------------------------------------------------------------------------
// Argument binding, with Starlark's positional-or-named parameter rules

type Bound<P extends string> = Partial<Record<P, StarlarkValue>>;

function bindArguments<P extends string>(
  context: CallContext,
  functionName: string,
  parameters: readonly P[],
  args: readonly CallArgument[],
): Bound<P> {
  const bound: Bound<P> = {};
  const isParameter = (name: string): name is P => (parameters as readonly string[]).includes(name);
  args.forEach((arg, index) => {
    const parameter = arg.name ?? parameters[index];
    if (parameter === undefined) {
      const positionalCount = args.filter((candidate) => candidate.name === undefined).length;
      context.fail(`Found ${positionalCount - parameters.length} extra positional argument(s) for call to \`${functionName}\``);
    } else if (!isParameter(parameter)) {
      context.fail(`Found \`${parameter}\` extra named parameter for call to \`${functionName}\``);
    } else if (bound[parameter] !== undefined) {
      context.fail(`Repeated parameter \`${parameter}\` for call to \`${functionName}\``);
    } else {
      bound[parameter] = arg.value;
    }
  });
  return bound;
}

function requireArgument(context: CallContext, functionName: string, name: string, value: StarlarkValue | undefined): StarlarkValue {
  return value ?? context.fail(`Missing parameter \`${name}\` for call to \`${functionName}\``);
}

/**
 * The reference types optional parameters as "string or list", so an explicit
 * `None` (or any other type) fails Starlark's type check.
 */
function typeMismatch(context: CallContext, name: string, expected: string, value: StarlarkValue): never {
  return context.fail(`Type of parameter \`${name}\` doesn't match, expected \`${expected}\`, actual \`${starlarkTypeName(value)}\``);
}

function optionalString(context: CallContext, name: string, value: StarlarkValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.kind === "string" ? value.value : typeMismatch(context, name, "str", value);
}

function listItems(context: CallContext, name: string, value: StarlarkValue | undefined): readonly StarlarkValue[] {
  if (value === undefined) return [];
  return value.kind === "list" ? value.items : typeMismatch(context, name, "list", value);
}

// ---------------------------------------------------------------------------
// prefix_rule

const PREFIX_RULE_PARAMETERS = ["pattern", "decision", "match", "not_match", "justification"] as const;

/** One call's examples, checked once its file has run. */
interface PendingExamples {
  readonly rules: readonly PrefixRule[];
  readonly positives: readonly string[][];
  readonly negatives: readonly string[][];
  readonly fail: (reason: string) => never;
}

function evaluatePrefixRule(context: CallContext, call: CallStatement): PendingExamples {
  const args = bindArguments(context, "prefix_rule", PREFIX_RULE_PARAMETERS, call.args);
  const pattern = listItems(context, "pattern", requireArgument(context, "prefix_rule", "pattern", args.pattern));
  const rawDecision = optionalString(context, "decision", args.decision);
  const matchExamples = listItems(context, "match", args.match);
  const notMatchExamples = listItems(context, "not_match", args.not_match);
  const rawJustification = optionalString(context, "justification", args.justification);

  // The order below is the reference's; the first failure wins.
  const decision = parseDecision(context, rawDecision ?? "allow");
  if (rawJustification !== undefined && isBlank(rawJustification)) {
    context.fail("invalid rule: justification cannot be empty");
  }
  const { first, rest } = parsePattern(context, pattern);
  const positives = matchExamples.map((example) => parseExample(context, example));
  const negatives = notMatchExamples.map((example) => parseExample(context, example));

  // Alternatives in first position expand into one rule per program; later ones stay as matchers.
  const programs = first.kind === "single" ? [first.value] : first.values;
  const rules: PrefixRule[] = programs.map((program) => ({ first: program, rest, decision, justification: rawJustification }));

  for (const rule of rules) context.policy.addRule(rule);
  return { rules, positives, negatives, fail: context.fail };
}

/**
 * Examples are checked only against their own call's rules. A positive example
 * may name an absolute path of a listed host executable (later Codex resolves
 * those); a negative one matches only by its exact program, as in 0.97, because
 * resolving there would refuse 0.97 files such as `not_match=["/usr/bin/git"]`.
 */
function checkExamples(policy: Policy, { rules, positives, negatives, fail }: PendingExamples): void {
  for (const example of negatives) {
    const matching = rules.find((rule) => matchPrefixRule(rule, example) !== undefined);
    if (matching !== undefined) fail(`expected example to not match rule \`${formatRuleDebug(matching)}\`: ${renderExample(example)}`);
  }
  const ownRules = policy.withSameHostExecutables(rules);
  const unmatched = positives.filter((example) => ownRules.matchesForCommand(example, undefined, { resolveHostExecutables: true }).length === 0);
  if (unmatched.length > 0) {
    const ruleList = formatDebugStringList(rules.map(formatRuleDebug));
    const exampleList = formatDebugStringList(unmatched.map(renderExample));
    fail(`expected every example to match at least one rule. rules: ${ruleList}; unmatched examples: ${exampleList}`);
  }
}

const DECISIONS: readonly Decision[] = ["allow", "prompt", "forbidden"];

function parseDecision(context: CallContext, raw: string): Decision {
  return DECISIONS.find((decision) => decision === raw) ?? context.fail(`invalid decision: ${raw}`);
}

function parsePattern(context: CallContext, elements: readonly StarlarkValue[]): { first: PatternToken; rest: PatternToken[] } {
  const invalid = (message: string): never => context.fail(`invalid pattern element: ${message}`);
  const [first, ...rest] = elements.map((element): PatternToken => {
    if (element.kind === "string") return { kind: "single", value: element.value };
    if (element.kind !== "list") {
      return invalid(`pattern element must be a string or list of strings (got ${starlarkTypeName(element)})`);
    }
    if (element.items.length === 0) invalid("pattern alternatives cannot be empty");
    const values = element.items.map((item) =>
      item.kind === "string" ? item.value : invalid(`pattern alternative must be a string (got ${starlarkTypeName(item)})`),
    );
    const [only] = values;
    return values.length === 1 && only !== undefined ? { kind: "single", value: only } : { kind: "alternatives", values };
  });
  return first === undefined ? invalid("pattern cannot be empty") : { first, rest };
}

function parseExample(context: CallContext, example: StarlarkValue): string[] {
  const invalid = (message: string): never => context.fail(`invalid example: ${message}`);
  if (example.kind === "string") {
    const tokens = shlexSplit(example.value) ?? invalid("example string has invalid shell syntax");
    if (tokens.length === 0) invalid("example cannot be an empty string");
    return tokens;
  }
  if (example.kind === "list") {
    if (example.items.length === 0) invalid("example cannot be an empty list");
    return example.items.map((item) =>
      item.kind === "string" ? item.value : invalid(`example tokens must be strings (got ${starlarkTypeName(item)})`),
    );
  }
  return invalid(`example must be a string or list of strings (got ${starlarkTypeName(example)})`);
}

function renderExample(tokens: readonly string[]): string {
  return shlexTryJoin(tokens) ?? "unable to render example";
}

// ---------------------------------------------------------------------------
// host_executable

const HOST_EXECUTABLE_PARAMETERS = ["name", "paths"] as const;

function evaluateHostExecutable(context: CallContext, call: CallStatement): void {
  const args = bindArguments(context, "host_executable", HOST_EXECUTABLE_PARAMETERS, call.args);
  const nameValue = requireArgument(context, "host_executable", "name", args.name);
  const name = nameValue.kind === "string" ? nameValue.value : typeMismatch(context, "name", "str", nameValue);
  const items = listItems(context, "paths", requireArgument(context, "host_executable", "paths", args.paths));

  if (name === "") context.fail("invalid rule: host_executable name cannot be empty");
  if (name.includes("/") || name === "." || name === "..") {
    context.fail(`invalid rule: host_executable name must be a bare executable name (got ${name})`);
  }
  const paths: string[] = [];
  for (const item of items) {
    if (item.kind !== "string") {
      context.fail(`invalid rule: host_executable paths must be strings (got ${starlarkTypeName(item)})`);
    } else {
      // `~/...` paths (accepted by later Codex) are not supported: the server has no notion of the user's home here.
      if (!item.value.startsWith("/")) context.fail(`invalid rule: host_executable paths must be absolute (got ${item.value})`);
      if (basename(item.value) !== name) {
        context.fail(`invalid rule: host_executable path \`${item.value}\` must have basename \`${name}\``);
      }
      if (!paths.includes(item.value)) paths.push(item.value);
    }
  }
  context.policy.setHostExecutable(name, paths);
}

// ---------------------------------------------------------------------------
// network_rule: validated like later Codex, then dropped (this server does not filter network traffic)

const NETWORK_RULE_PARAMETERS = ["host", "protocol", "decision", "justification"] as const;

const NETWORK_PROTOCOLS = new Set(["http", "https", "https_connect", "http-connect", "socks5_tcp", "socks5_udp"]);

function evaluateNetworkRule(context: CallContext, call: CallStatement): void {
  const args = bindArguments(context, "network_rule", NETWORK_RULE_PARAMETERS, call.args);
  const requiredString = (name: (typeof NETWORK_RULE_PARAMETERS)[number]): string =>
    optionalString(context, name, requireArgument(context, "network_rule", name, args[name])) ?? "";
  const host = requiredString("host");
  const protocol = requiredString("protocol");
  const decision = requiredString("decision");
  const justification = optionalString(context, "justification", args.justification);

  if (!NETWORK_PROTOCOLS.has(protocol)) {
    context.fail(`invalid rule: network_rule protocol must be one of http, https, socks5_tcp, socks5_udp (got ${protocol})`);
  }
  if (decision !== "deny") parseDecision(context, decision);
  if (justification !== undefined && isBlank(justification)) context.fail("invalid rule: justification cannot be empty");
  validateNetworkHost(context, host);
}

/** Later Codex's host normalisation, for its errors: no scheme or path, no wildcard, no whitespace, optional port. */
function validateNetworkHost(context: CallContext, raw: string): void {
  const invalid = (message: string): never => context.fail(`invalid rule: network_rule ${message}`);
  let host = rustTrim(raw);
  if (host === "") invalid("host cannot be empty");
  if (/[/?#]/.test(host)) invalid("host must be a hostname or IP literal (without scheme or path)");
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close === -1) invalid("host has an invalid bracketed IPv6 literal");
    const rest = host.slice(close + 1);
    if (rest !== "" && !/^:[0-9]+$/.test(rest)) invalid(`host contains an unsupported suffix: ${raw}`);
    host = host.slice(1, close);
  } else {
    const port = /^([^:]+):[0-9]+$/.exec(host);
    if (port?.[1] !== undefined) host = port[1];
  }
  const normalized = rustTrim(host.replace(/\.+$/, ""));
  if (normalized === "") invalid("host cannot be empty");
  if (normalized.includes("*")) invalid("host must be a specific host; wildcards are not allowed");
  if ([...normalized].some(isBlank)) invalid("host cannot contain whitespace");
}

function rustTrim(text: string): string {
  const chars = [...text];
  let start = 0;
  let end = chars.length;
  while (start < end && isBlank(chars[start] ?? "")) start += 1;
  while (end > start && isBlank(chars[end - 1] ?? "")) end -= 1;
  return chars.slice(start, end).join("");
}

// ---------------------------------------------------------------------------
// Rust `Debug` renderings used in example-check errors

/** Rust's `{:?}` of a string. */
export function rustDebugString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (char === "\0") out += "\\0";
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += char;
  }
  return `${out}"`;
}

function formatDebugStringList(values: readonly string[]): string {
  return `[${values.map(rustDebugString).join(", ")}]`;
}

/** E.g. `PrefixRule { pattern: PrefixPattern { first: "git", rest: [Single("status")] }, decision: Allow, justification: None }`. */
export function formatRuleDebug(rule: PrefixRule): string {
  const rest = rule.rest
    .map((token) => (token.kind === "single" ? `Single(${rustDebugString(token.value)})` : `Alts(${formatDebugStringList(token.values)})`))
    .join(", ");
  const decision = `${rule.decision.charAt(0).toUpperCase()}${rule.decision.slice(1)}`;
  const justification = rule.justification === undefined ? "None" : `Some(${rustDebugString(rule.justification)})`;
  return `PrefixRule { pattern: PrefixPattern { first: ${rustDebugString(rule.first)}, rest: [${rest}] }, decision: ${decision}, justification: ${justification} }`;
}
