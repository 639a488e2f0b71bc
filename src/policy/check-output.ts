/** The JSON printed by `codex execpolicy check` (policy.md section 5). */

import { type RuleMatch, strictestDecision } from "./policy.ts";

export interface CheckOutputOptions {
  /** Two-space indentation instead of compact output. */
  readonly pretty?: boolean;
}

/**
 * Renders matches in serde's key order. `justification` and `resolvedProgram`
 * are omitted when absent, and the top-level `decision` when nothing matched.
 */
export function renderCheckOutput(matches: readonly RuleMatch[], options: CheckOutputOptions = {}): string {
  const matchedRules = matches.map((match) =>
    match.kind === "prefixRuleMatch"
      ? {
          prefixRuleMatch: {
            matchedPrefix: match.matchedPrefix,
            decision: match.decision,
            resolvedProgram: match.resolvedProgram,
            justification: match.justification,
          },
        }
      : { heuristicsRuleMatch: { command: match.command, decision: match.decision } },
  );
  // JSON.stringify drops undefined properties, which gives exactly the omissions above.
  const output = { matchedRules, decision: strictestDecision(matches.map((match) => match.decision)) };
  return options.pretty === true ? JSON.stringify(output, null, 2) : JSON.stringify(output);
}
