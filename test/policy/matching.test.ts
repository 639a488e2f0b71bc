import { describe, expect, test } from "bun:test";
import { isPolicyMatch, type PatternToken, Policy, PolicyError, type RuleMatch } from "../../src/policy/policy.ts";
import { allowAll, policyFrom, promptAll } from "./helpers.ts";

function prefixMatch(matchedPrefix: string[], decision: RuleMatch["decision"], extra: { justification?: string; resolvedProgram?: string } = {}): RuleMatch {
  return {
    kind: "prefixRuleMatch",
    matchedPrefix,
    decision,
    justification: extra.justification,
    resolvedProgram: extra.resolvedProgram,
  };
}

function heuristicsMatch(command: string[], decision: RuleMatch["decision"]): RuleMatch {
  return { kind: "heuristicsRuleMatch", command, decision };
}

const B6_FILES = ['prefix_rule(pattern=["git"], decision="prompt")', 'prefix_rule(pattern=["git","commit"], decision="forbidden")'];
const B8_RULES = 'prefix_rule(pattern=[["bash","sh"],["-c","-l"]])';
const B10_RULES = 'prefix_rule(pattern=["npm",["i","install"],["--legacy-peer-deps","--no-save"]])';
const A15_RULES =
  'prefix_rule(pattern=["git","status"], match=[["git","status"],"git status"], not_match=[["git","--config","color.status=always","status"], "git --config color.status=always status"])';

describe("B. matching and evaluation (policy.md 10.B)", () => {
  const vectors: [string, string[], string[], RuleMatch["decision"], RuleMatch[]][] = [
    ["B1", ['prefix_rule(pattern=["git","status"])'], ["git", "status"], "allow", [prefixMatch(["git", "status"], "allow")]],
    [
      "B2",
      ['prefix_rule(pattern=["rm"], decision="forbidden", justification="destructive command")'],
      ["rm", "-rf", "/some/important/folder"],
      "forbidden",
      [prefixMatch(["rm"], "forbidden", { justification: "destructive command" })],
    ],
    ["B6", B6_FILES, ["git", "status"], "prompt", [prefixMatch(["git"], "prompt")]],
    ["B7", B6_FILES, ["git", "commit", "-m", "hi"], "forbidden", [prefixMatch(["git"], "prompt"), prefixMatch(["git", "commit"], "forbidden")]],
    ["B8", [B8_RULES], ["bash", "-c", "echo", "hi"], "allow", [prefixMatch(["bash", "-c"], "allow")]],
    ["B9", [B8_RULES], ["sh", "-l", "echo", "hi"], "allow", [prefixMatch(["sh", "-l"], "allow")]],
    ["B10", [B10_RULES], ["npm", "i", "--legacy-peer-deps"], "allow", [prefixMatch(["npm", "i", "--legacy-peer-deps"], "allow")]],
    ["B11", [B10_RULES], ["npm", "install", "--no-save", "leftpad"], "allow", [prefixMatch(["npm", "install", "--no-save"], "allow")]],
    [
      "B12",
      [A15_RULES],
      ["git", "--config", "color.status=always", "status"],
      "allow",
      [heuristicsMatch(["git", "--config", "color.status=always", "status"], "allow")],
    ],
    ["B15", ['prefix_rule(pattern=["git","status"])'], ["git"], "allow", [heuristicsMatch(["git"], "allow")]],
    ["B16", ['prefix_rule(pattern=["git"])'], ["/usr/bin/git", "status"], "allow", [heuristicsMatch(["/usr/bin/git", "status"], "allow")]],
    ["B17", ['prefix_rule(pattern=["git"], decision="forbidden")'], ["Git", "status"], "allow", [heuristicsMatch(["Git", "status"], "allow")]],
    ["B18", ['prefix_rule(pattern=["ls"])\nprefix_rule(pattern=["ls"])'], ["ls"], "allow", [prefixMatch(["ls"], "allow"), prefixMatch(["ls"], "allow")]],
    ["B19", ['prefix_rule(pattern=["ls"], decision="forbidden")'], [], "allow", [heuristicsMatch([], "allow")]],
    ["B20", ['prefix_rule(pattern=["echo",""])'], ["echo", ""], "allow", [prefixMatch(["echo", ""], "allow")]],
  ];
  test.each(vectors)("%s", (_id, files, command, decision, matchedRules) => {
    expect(policyFrom(...files).check(command, allowAll)).toEqual({ decision, matchedRules });
  });

  test("B3: a rule match wins and the fallback is not called", () => {
    let fallbackCalls = 0;
    const evaluation = policyFrom('prefix_rule(pattern=["ls"], decision="allow", justification="safe and commonly used")').check(["ls", "-l"], () => {
      fallbackCalls += 1;
      return "prompt";
    });
    expect(evaluation).toEqual({ decision: "allow", matchedRules: [prefixMatch(["ls"], "allow", { justification: "safe and commonly used" })] });
    expect(fallbackCalls).toBe(0);
  });

  test("B4: programmatic add_prefix_rule", () => {
    const policy = new Policy();
    policy.addPrefixRule(["ls", "-l"], "prompt");
    expect(policy.check(["ls", "-l", "/some/important/folder"], allowAll)).toEqual({
      decision: "prompt",
      matchedRules: [prefixMatch(["ls", "-l"], "prompt")],
    });
  });

  test("B5: an empty programmatic prefix is rejected", () => {
    expect(() => new Policy().addPrefixRule([], "allow")).toThrow(new PolicyError("invalid pattern element: prefix cannot be empty"));
  });

  test("B8: alternatives in first position are stored under each program", () => {
    const policy = policyFrom(B8_RULES);
    const rest: PatternToken[] = [{ kind: "alternatives", values: ["-c", "-l"] }];
    expect(policy.rulesFor("bash")).toEqual([{ first: "bash", rest, decision: "allow", justification: undefined }]);
    expect(policy.rulesFor("sh")).toEqual([{ first: "sh", rest, decision: "allow", justification: undefined }]);
  });

  test("B13: check_multiple concatenates matches and takes the strictest", () => {
    expect(policyFrom(...B6_FILES).checkMultiple([["git", "status"], ["git", "commit", "-m", "hi"]], allowAll)).toEqual({
      decision: "forbidden",
      matchedRules: [prefixMatch(["git"], "prompt"), prefixMatch(["git"], "prompt"), prefixMatch(["git", "commit"], "forbidden")],
    });
  });

  test("B14: empty policy with prompt_all", () => {
    const evaluation = new Policy().check(["python"], promptAll);
    expect(evaluation).toEqual({ decision: "prompt", matchedRules: [heuristicsMatch(["python"], "prompt")] });
    expect(isPolicyMatch(evaluation)).toBe(false);
  });

  test("check_multiple gives each unmatched command its own fallback", () => {
    const policy = policyFrom('prefix_rule(pattern=["ls"])');
    expect(policy.checkMultiple([["ls"], ["rm", "x"], ["cat"]], (command) => (command[0] === "rm" ? "prompt" : "allow"))).toEqual({
      decision: "prompt",
      matchedRules: [prefixMatch(["ls"], "allow"), heuristicsMatch(["rm", "x"], "prompt"), heuristicsMatch(["cat"], "allow")],
    });
  });

  test("without a fallback, no match gives an empty list (the CLI case)", () => {
    expect(policyFrom('prefix_rule(pattern=["ls"])').matchesForCommand(["cat"])).toEqual([]);
  });

  test("rules keep file order across files", () => {
    const policy = policyFrom('prefix_rule(pattern=["git"], decision="forbidden")', 'prefix_rule(pattern=["git"], decision="prompt")');
    expect(policy.rulesFor("git").map((rule) => rule.decision)).toEqual(["forbidden", "prompt"]);
  });
});

describe("H. host-executable resolution with resolveHostExecutables (policy.md 10.H)", () => {
  const resolve = { resolveHostExecutables: true };
  const vectors: [string, string, string[], RuleMatch["decision"], RuleMatch[]][] = [
    [
      "H1",
      'prefix_rule(pattern=["git","status"], decision="prompt")\nhost_executable(name="git", paths=["/usr/bin/git"])',
      ["/usr/bin/git", "status"],
      "prompt",
      [prefixMatch(["git", "status"], "prompt", { resolvedProgram: "/usr/bin/git" })],
    ],
    [
      "H2",
      'prefix_rule(pattern=["git"], decision="prompt")\nhost_executable(name="git", paths=[])',
      ["/usr/bin/git", "status"],
      "allow",
      [heuristicsMatch(["/usr/bin/git", "status"], "allow")],
    ],
    [
      "H3",
      'prefix_rule(pattern=["git","status"], decision="prompt")\nhost_executable(name="git", paths=["/usr/bin/git"])',
      ["/opt/homebrew/bin/git", "status"],
      "allow",
      [heuristicsMatch(["/opt/homebrew/bin/git", "status"], "allow")],
    ],
    [
      "H4",
      'prefix_rule(pattern=["git"], decision="prompt")',
      ["/usr/bin/git", "status"],
      "prompt",
      [prefixMatch(["git"], "prompt", { resolvedProgram: "/usr/bin/git" })],
    ],
    [
      "H5",
      'prefix_rule(pattern=["/usr/bin/git"])\nprefix_rule(pattern=["git"], decision="prompt")\nhost_executable(name="git", paths=["/usr/bin/git"])',
      ["/usr/bin/git", "status"],
      "allow",
      [prefixMatch(["/usr/bin/git"], "allow")],
    ],
    ["relative paths are not resolved", 'prefix_rule(pattern=["git"], decision="prompt")', ["bin/git", "status"], "allow", [heuristicsMatch(["bin/git", "status"], "allow")]],
  ];
  test.each(vectors)("%s", (_id, rules, command, decision, matchedRules) => {
    expect(policyFrom(rules).check(command, allowAll, resolve)).toEqual({ decision, matchedRules });
  });

  test("B16 [L]: without the option an absolute path does not match a basename rule", () => {
    expect(policyFrom('prefix_rule(pattern=["git"])').matchesForCommand(["/usr/bin/git", "status"])).toEqual([]);
    expect(policyFrom('prefix_rule(pattern=["git"])').matchesForCommand(["/usr/bin/git", "status"], undefined, resolve)).toEqual([
      prefixMatch(["git"], "allow", { resolvedProgram: "/usr/bin/git" }),
    ]);
  });
});
