/**
 * The exec-server's decision for one intercepted execve (policy.md section 3.3),
 * with this project's `host_executable` restriction (section 11.1).
 */

import { commandMightBeDangerous, heuristicsMayFlag } from "./heuristics.ts";
import { basename, type Decision, type Evaluation, type Fallback, type Policy, PolicyError } from "./policy.ts";

export interface ExecPolicyRequest {
  /** The execve target, already made absolute by the caller. */
  readonly file: string;
  /** The execve argv; `argv[0]` is ignored, as in the reference. */
  readonly argv: readonly string[];
  /** Match rules on the full program path instead of its last component (`--preserve-program-paths`). */
  readonly preserveProgramPaths: boolean;
}

export interface ExecPolicyOutcome {
  readonly decision: Decision;
  /**
   * True when a rule, not the heuristics, produced the decision: an allowed or
   * approved command then runs outside the sandbox.
   */
  readonly requireEscalated: boolean;
  readonly evaluation: Evaluation;
}

export function evaluateExecPolicy(policy: Policy, request: ExecPolicyRequest): ExecPolicyOutcome {
  const { file, argv, preserveProgramPaths } = request;
  const name = basename(file);
  // Like Rust's `Path::file_name`, which has no name for `/` or a path ending in `..`.
  if (name === "" || name === "..") throw new PolicyError(`failed to format program name for \`${file}\``);
  const args = argv.slice(1);
  const command = [preserveProgramPaths ? file : name, ...args];

  // The heuristics always look at the command as 0.97 sees it, so that a
  // host_executable entry never changes what counts as dangerous (`rm` is only
  // recognised by its bare name).
  const fallback: Fallback = () => (commandMightBeDangerous(command) ? "prompt" : "allow");

  // Without host_executable we keep 0.97 matching: the program name is the
  // basename, so a `git` rule already applies to /usr/bin/git. An entry for
  // the basename turns that into an allow-list: we then match the absolute path
  // with later-Codex resolution, under which the basename rules only apply to
  // the listed paths (so a `git` rule does not cover /tmp/x/git) and anything
  // else falls back to the heuristics.
  const restrictedByHostExecutable = policy.hostExecutablePaths(name) !== undefined;
  const evaluation = restrictedByHostExecutable
    ? policy.check([file, ...args], fallback, { resolveHostExecutables: true })
    : policy.check(command, fallback);

  // Heuristic matches only appear when no rule matched, so this is "a rule decided".
  const requireEscalated = evaluation.matchedRules.some(
    (match) => match.kind === "prefixRuleMatch" && match.decision === evaluation.decision,
  );
  return { decision: evaluation.decision, requireEscalated, evaluation };
}

/**
 * True when evaluateExecPolicy allows every exec of `file`, whatever its
 * argv: no `prompt` or `forbidden` rule names it (by name or by path, with or
 * without host_executable), and the heuristics never look at it. Decided on
 * the name alone, so that an exec can be let through without its arguments
 * reaching the rules. `restricted`: Policy.restrictedPrograms(). Allow rules
 * added later (always allow) cannot change a verdict of allow.
 */
export function allowedWhateverTheArguments(file: string, restricted: ReadonlySet<string>): boolean {
  const name = basename(file);
  if (name === "" || name === "..") return false;
  return !restricted.has(name) && !restricted.has(file) && !heuristicsMayFlag(name) && !heuristicsMayFlag(file);
}
