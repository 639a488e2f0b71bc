/** Shared helpers for the policy tests. */

import { Policy } from "../../src/policy/policy.ts";
import { applyRulesSource } from "../../src/policy/rules.ts";
import { StarlarkError } from "../../src/policy/starlark.ts";

/** Evaluates each source as its own file, into one shared policy, as the loader does. */
export function policyFrom(...sources: string[]): Policy {
  const policy = new Policy();
  sources.forEach((source, index) => applyRulesSource(policy, `file${index + 1}.rules`, source));
  return policy;
}

/** The StarlarkError raised by evaluating `source` as `test.rules`; fails the test if none is raised. */
export function rulesError(source: string): StarlarkError {
  try {
    applyRulesSource(new Policy(), "test.rules", source);
  } catch (error) {
    if (error instanceof StarlarkError) return error;
    throw error;
  }
  throw new Error(`expected an error for: ${source}`);
}

export const allowAll = (): "allow" => "allow";
export const promptAll = (): "prompt" => "prompt";
