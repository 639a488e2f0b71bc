/** Public API of the rules engine. */

export { allowPrefixRuleLine, alwaysAllowCovers, alwaysAllowOffer, appendAllowPrefixRule, type ExclusiveLock, readAlwaysAllowPrefixes } from "./amend.ts";
export { type CheckOutputOptions, renderCheckOutput } from "./check-output.ts";
export { allowedWhateverTheArguments, type ExecPolicyOutcome, type ExecPolicyRequest, evaluateExecPolicy } from "./evaluate.ts";
export { commandMightBeDangerous, isKnownSafeCommand } from "./heuristics.ts";
export {
  defaultRulesFiles,
  type Environment,
  listRulesFiles,
  type LoadOptions,
  loadDefaultPolicy,
  loadPolicyFromFiles,
  resolveCodexHome,
  RulesLoadError,
  SYSTEM_RULES_DIR,
} from "./loader.ts";
export {
  type Decision,
  type Evaluation,
  type Fallback,
  type HeuristicsRuleMatch,
  isPolicyMatch,
  type MatchOptions,
  Policy,
  PolicyError,
  type PrefixRule,
  type PrefixRuleMatch,
  type RuleMatch,
} from "./policy.ts";
export { shlexJoin, shlexSplit, shlexTryJoin } from "./shlex.ts";
