/**
 * The policy model: prefix rules keyed by program, matching, and evaluation
 * (policy.md sections 1.4, 3.1, 3.2 and 8).
 */

export type Decision = "allow" | "prompt" | "forbidden";

/** One position of a pattern after the first: an exact token, or any of several alternatives. */
export type PatternToken =
  | { readonly kind: "single"; readonly value: string }
  | { readonly kind: "alternatives"; readonly values: readonly string[] };

export interface PrefixRule {
  /** The program token; rules are looked up by it. */
  readonly first: string;
  readonly rest: readonly PatternToken[];
  readonly decision: Decision;
  readonly justification: string | undefined;
}

export interface PrefixRuleMatch {
  readonly kind: "prefixRuleMatch";
  /** The command's own tokens covered by the rule. */
  readonly matchedPrefix: readonly string[];
  readonly decision: Decision;
  readonly justification: string | undefined;
  /** The absolute path that was resolved to the basename rule, when host-executable resolution was used. */
  readonly resolvedProgram: string | undefined;
}

export interface HeuristicsRuleMatch {
  readonly kind: "heuristicsRuleMatch";
  readonly command: readonly string[];
  readonly decision: Decision;
}

export type RuleMatch = PrefixRuleMatch | HeuristicsRuleMatch;

export interface Evaluation {
  readonly decision: Decision;
  readonly matchedRules: readonly RuleMatch[];
}

/** Decides for a command that no rule matched. */
export type Fallback = (command: readonly string[]) => Decision;

export interface MatchOptions {
  /** Later-Codex basename resolution of absolute program paths (policy.md section 8). */
  readonly resolveHostExecutables?: boolean;
}

/** Errors from programmatic policy edits, displayed like the reference's `InvalidPattern`. */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
}

const STRICTNESS: Readonly<Record<Decision, number>> = { allow: 0, prompt: 1, forbidden: 2 };

/** The strictest decision (allow < prompt < forbidden); undefined for no decisions. */
export function strictestDecision(decisions: Iterable<Decision>): Decision | undefined {
  let strictest: Decision | undefined;
  for (const decision of decisions) {
    if (strictest === undefined || STRICTNESS[decision] > STRICTNESS[strictest]) strictest = decision;
  }
  return strictest;
}

/** True if some match came from a rule rather than from the heuristics fallback. */
export function isPolicyMatch(evaluation: Evaluation): boolean {
  return evaluation.matchedRules.some((match) => match.kind === "prefixRuleMatch");
}

/** The command's tokens covered by `rule`, or undefined if it does not match (section 3.1). */
export function matchPrefixRule(rule: PrefixRule, command: readonly string[]): readonly string[] | undefined {
  if (command[0] !== rule.first || command.length < rule.rest.length + 1) return undefined;
  const matches = rule.rest.every((token, i) => {
    const actual = command[i + 1] ?? "";
    return token.kind === "single" ? actual === token.value : token.values.includes(actual);
  });
  return matches ? command.slice(0, rule.rest.length + 1) : undefined;
}

/** The last path component, as Rust's `Path::file_name` gives it for the paths we see. */
export function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

export class Policy {
  /** Map iteration order is insertion order, which keeps rules in file and call order. */
  private readonly rulesByProgram = new Map<string, PrefixRule[]>();
  private readonly hostExecutables = new Map<string, readonly string[]>();

  /** Appends a rule; identical rules are kept, and both produce matches. */
  addRule(rule: PrefixRule): void {
    const rules = this.rulesByProgram.get(rule.first);
    if (rules === undefined) this.rulesByProgram.set(rule.first, [rule]);
    else rules.push(rule);
  }

  /** The reference's `add_prefix_rule`: single tokens only, no justification. */
  addPrefixRule(prefix: readonly string[], decision: Decision): void {
    const [first, ...rest] = prefix;
    if (first === undefined) throw new PolicyError("invalid pattern element: prefix cannot be empty");
    this.addRule({
      first,
      rest: rest.map((value) => ({ kind: "single", value })),
      decision,
      justification: undefined,
    });
  }

  /** Defines the absolute paths allowed to use `name`'s rules; a later definition replaces an earlier one. */
  setHostExecutable(name: string, paths: readonly string[]): void {
    this.hostExecutables.set(name, paths);
  }

  /** A policy holding only `rules`, with this policy's host executables (for checking one call's examples). */
  withSameHostExecutables(rules: readonly PrefixRule[]): Policy {
    const policy = new Policy();
    for (const rule of rules) policy.addRule(rule);
    for (const [name, paths] of this.hostExecutables) policy.setHostExecutable(name, paths);
    return policy;
  }

  /** The allowed paths for `name`, or undefined when no `host_executable` names it. */
  hostExecutablePaths(name: string): readonly string[] | undefined {
    return this.hostExecutables.get(name);
  }

  /** How many prefix rules were added, duplicates included. */
  get ruleCount(): number {
    let count = 0;
    for (const rules of this.rulesByProgram.values()) count += rules.length;
    return count;
  }

  /** Every program (first pattern word: a name or a path) that some `prompt` or `forbidden` rule names. */
  restrictedPrograms(): string[] {
    return [...this.rulesByProgram].filter(([, rules]) => rules.some((rule) => rule.decision !== "allow")).map(([program]) => program);
  }

  rulesFor(program: string): readonly PrefixRule[] {
    return this.rulesByProgram.get(program) ?? [];
  }

  /**
   * Rule matches for one command; when none match and a fallback is given,
   * a single heuristics match instead (also for an empty command).
   */
  matchesForCommand(command: readonly string[], fallback?: Fallback, options: MatchOptions = {}): RuleMatch[] {
    const matches = this.prefixRuleMatches(command, options);
    if (matches.length === 0 && fallback !== undefined) {
      return [{ kind: "heuristicsRuleMatch", command: [...command], decision: fallback(command) }];
    }
    return matches;
  }

  check(command: readonly string[], fallback: Fallback, options: MatchOptions = {}): Evaluation {
    return this.checkMultiple([command], fallback, options);
  }

  /** Each command gets its own fallback when it matched nothing; the strictest decision wins. */
  checkMultiple(commands: readonly (readonly string[])[], fallback: Fallback, options: MatchOptions = {}): Evaluation {
    const matchedRules = commands.flatMap((command) => this.matchesForCommand(command, fallback, options));
    // Every command contributes at least its fallback match, so only an empty command list has no decision.
    const decision = strictestDecision(matchedRules.map((match) => match.decision)) ?? "allow";
    return { decision, matchedRules };
  }

  private prefixRuleMatches(command: readonly string[], options: MatchOptions): PrefixRuleMatch[] {
    const program = command[0];
    if (program === undefined) return [];
    const exact = this.matchRules(this.rulesFor(program), command, undefined);
    if (exact.length > 0 || options.resolveHostExecutables !== true || !program.startsWith("/")) return exact;

    // Section 8: an absolute path falls back to its basename's rules, unless a
    // host_executable entry for that name does not list the path.
    const name = basename(program);
    const allowedPaths = this.hostExecutablePaths(name);
    if (allowedPaths !== undefined && !allowedPaths.includes(program)) return [];
    return this.matchRules(this.rulesFor(name), [name, ...command.slice(1)], program);
  }

  private matchRules(rules: readonly PrefixRule[], command: readonly string[], resolvedProgram: string | undefined): PrefixRuleMatch[] {
    const matches: PrefixRuleMatch[] = [];
    for (const rule of rules) {
      const matchedPrefix = matchPrefixRule(rule, command);
      if (matchedPrefix === undefined) continue;
      matches.push({
        kind: "prefixRuleMatch",
        matchedPrefix,
        decision: rule.decision,
        justification: rule.justification,
        resolvedProgram,
      });
    }
    return matches;
  }
}
