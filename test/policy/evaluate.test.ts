import { describe, expect, test } from "bun:test";
import { allowedWhateverTheArguments, evaluateExecPolicy } from "../../src/policy/evaluate.ts";
import { basename, Policy, PolicyError } from "../../src/policy/policy.ts";
import { policyFrom } from "./helpers.ts";

type Outcome = { decision: "allow" | "prompt" | "forbidden"; requireEscalated: boolean };

function outcome(policy: Policy, file: string, argv: string[], preserveProgramPaths = false): Outcome {
  const { decision, requireEscalated } = evaluateExecPolicy(policy, { file, argv, preserveProgramPaths });
  return { decision, requireEscalated };
}

function withCustomCommand(): Policy {
  const policy = new Policy();
  policy.addPrefixRule(["/usr/local/bin/custom-cmd", "--flag"], "allow");
  return policy;
}

describe("C. exec-server outcome (policy.md 10.C)", () => {
  const vectors: [string, () => Policy, string, string[], boolean, Outcome][] = [
    ["C1", () => new Policy(), "/bin/rm", ["rm", "-rf", "/"], false, { decision: "prompt", requireEscalated: false }],
    ["C2", withCustomCommand, "/usr/local/bin/custom-cmd", ["/usr/local/bin/custom-cmd", "--flag", "value"], true, { decision: "allow", requireEscalated: true }],
    ["C3", withCustomCommand, "/usr/local/bin/custom-cmd", ["/usr/local/bin/custom-cmd", "--flag", "value"], false, { decision: "allow", requireEscalated: false }],
    ["C4", () => policyFrom('prefix_rule(pattern=["git"], decision="prompt")'), "/usr/bin/git", ["git", "status"], false, { decision: "prompt", requireEscalated: true }],
    ["C5", () => policyFrom('prefix_rule(pattern=["rm"], decision="forbidden")'), "/bin/rm", ["rm", "x"], false, { decision: "forbidden", requireEscalated: true }],
    ["C6", () => new Policy(), "/bin/ls", ["ls", "-la"], false, { decision: "allow", requireEscalated: false }],
    [
      "C7",
      () => policyFrom('prefix_rule(pattern=["git"])\nprefix_rule(pattern=["git","push"], decision="prompt")'),
      "/usr/bin/git",
      ["git", "push"],
      false,
      { decision: "prompt", requireEscalated: true },
    ],
    ["C8", () => new Policy(), "/bin/bash", ["bash", "-c", "git reset --hard"], false, { decision: "prompt", requireEscalated: false }],
    ["C9", () => policyFrom('prefix_rule(pattern=["git"])'), "/usr/bin/git", ["anything-here", "reset"], false, { decision: "allow", requireEscalated: true }],
    // Dangerous, but with preserved paths the program is `/bin/rm`, which the 0.97 `rm` check does not recognise.
    ["preserve: /bin/rm is not `rm`", () => new Policy(), "/bin/rm", ["rm", "-rf", "/"], true, { decision: "allow", requireEscalated: false }],
    ["preserve: basename rules do not apply", () => policyFrom('prefix_rule(pattern=["git"], decision="forbidden")'), "/usr/bin/git", ["git"], true, { decision: "allow", requireEscalated: false }],
  ];
  test.each(vectors)("%s", (_id, makePolicy, file, argv, preserve, expected) => {
    expect(outcome(makePolicy(), file, argv, preserve)).toEqual(expected);
  });

  test("C9: argv[0] is replaced by the program name", () => {
    const { evaluation } = evaluateExecPolicy(policyFrom('prefix_rule(pattern=["git"])'), {
      file: "/usr/bin/git",
      argv: ["anything-here", "reset"],
      preserveProgramPaths: false,
    });
    expect(evaluation.matchedRules).toEqual([
      { kind: "prefixRuleMatch", matchedPrefix: ["git"], decision: "allow", justification: undefined, resolvedProgram: undefined },
    ]);
  });

  test("the heuristics see the basename command", () => {
    const { evaluation } = evaluateExecPolicy(new Policy(), { file: "/usr/bin/git", argv: ["git", "reset"], preserveProgramPaths: false });
    expect(evaluation).toEqual({ decision: "prompt", matchedRules: [{ kind: "heuristicsRuleMatch", command: ["git", "reset"], decision: "prompt" }] });
  });

  test("a file without a name is an error", () => {
    expect(() => evaluateExecPolicy(new Policy(), { file: "/", argv: ["x"], preserveProgramPaths: false })).toThrow(
      new PolicyError("failed to format program name for `/`"),
    );
  });
});

describe("exec-server with host_executable (policy.md 11.1)", () => {
  const rules = [
    'prefix_rule(pattern=["git"], decision="allow")',
    'prefix_rule(pattern=["rm"], decision="prompt")',
    'host_executable(name="git", paths=["/usr/bin/git"])',
    'host_executable(name="rm", paths=[])',
  ].join("\n");

  const vectors: [string, string, string[], boolean, Outcome][] = [
    ["listed path uses the basename rules", "/usr/bin/git", ["git", "status"], false, { decision: "allow", requireEscalated: true }],
    ["unlisted path falls back to the heuristics", "/tmp/x/git", ["git", "status"], false, { decision: "allow", requireEscalated: false }],
    ["unlisted path, dangerous command prompts inside the sandbox", "/tmp/x/git", ["git", "reset", "--hard"], false, { decision: "prompt", requireEscalated: false }],
    ["empty path list blocks every path", "/bin/rm", ["rm", "x"], false, { decision: "allow", requireEscalated: false }],
    ["the heuristics still recognise `rm` by name", "/bin/rm", ["rm", "-rf", "/"], false, { decision: "prompt", requireEscalated: false }],
    ["with preserved paths, a listed path reaches the basename rules", "/usr/bin/git", ["git", "status"], true, { decision: "allow", requireEscalated: true }],
    ["with preserved paths, an unlisted path does not", "/tmp/x/git", ["git", "status"], true, { decision: "allow", requireEscalated: false }],
  ];
  test.each(vectors)("%s", (_id, file, argv, preserve, expected) => {
    expect(outcome(policyFrom(rules), file, argv, preserve)).toEqual(expected);
  });

  test("without an entry, 0.97 basename matching is unchanged", () => {
    const policy = policyFrom('prefix_rule(pattern=["git"], decision="prompt")');
    expect(outcome(policy, "/tmp/x/git", ["git"])).toEqual({ decision: "prompt", requireEscalated: true });
  });

  test("a resolved match names the program", () => {
    const { evaluation } = evaluateExecPolicy(policyFrom(rules), { file: "/usr/bin/git", argv: ["git", "log"], preserveProgramPaths: false });
    expect(evaluation.matchedRules).toEqual([
      { kind: "prefixRuleMatch", matchedPrefix: ["git"], decision: "allow", justification: undefined, resolvedProgram: "/usr/bin/git" },
    ]);
  });
});

describe("allowedWhateverTheArguments: an exec let through on its name alone is one the rules allow", () => {
  const policy = policyFrom(
    [
      'prefix_rule(pattern=["touch"], decision="forbidden")',
      'prefix_rule(pattern=[["curl", "wget"], "-O"], decision="prompt")',
      'prefix_rule(pattern=["/opt/bin/deploy"], decision="prompt")',
      'prefix_rule(pattern=["ls"], decision="allow")',
      'prefix_rule(pattern=["python3", "-c"], decision="forbidden")',
      'host_executable(name="python3", paths=["/usr/bin/python3"])',
    ].join("\n"),
  );
  const restricted = new Set(policy.restrictedPrograms());
  const files = [
    "/usr/bin/touch", "/tmp/x/touch", "/usr/bin/curl", "/usr/bin/wget", "/opt/bin/deploy", "/usr/local/bin/deploy", "/bin/ls",
    "/usr/bin/python3", "/tmp/python3", "/bin/rm", "/usr/bin/git", "/tmp/legit", "/usr/bin/sudo", "/bin/bash", "/bin/sh", "/usr/bin/zsh",
    "/tmp/bash.exe", "/usr/bin/true", "/usr/bin/env", "/usr/bin/xargs", "/", "/tmp/..",
  ];
  const argLists = [[], ["-O", "x"], ["-rf", "/"], ["-f", "x"], ["-c", "print(1)"], ["reset", "--hard"], ["push", "--force"], ["-c", "rm -rf /"], ["-lc", "git reset"], ["rm", "-rf", "x"], ["x"]];

  test.each([false, true])("preserveProgramPaths=%p: every (file, argv) it lets through evaluates to allow", (preserveProgramPaths) => {
    let letThrough = 0;
    for (const file of files) {
      if (!allowedWhateverTheArguments(file, restricted)) continue;
      letThrough++;
      for (const args of argLists) {
        const argv = [basename(file), ...args];
        expect({ file, argv, decision: evaluateExecPolicy(policy, { file, argv, preserveProgramPaths }).decision }).toEqual({ file, argv, decision: "allow" });
      }
    }
    expect(letThrough).toBeGreaterThan(3);
  });

  test("programs a prompt or forbidden rule names, or the heuristics look at, always reach the rules", () => {
    expect(policy.restrictedPrograms().sort()).toEqual(["/opt/bin/deploy", "curl", "python3", "touch", "wget"]);
    for (const file of ["/usr/bin/touch", "/usr/bin/wget", "/opt/bin/deploy", "/tmp/python3", "/bin/rm", "/tmp/legit", "/usr/bin/sudo", "/bin/sh", "/tmp/bash.exe", "/"]) {
      expect({ file, letThrough: allowedWhateverTheArguments(file, restricted) }).toEqual({ file, letThrough: false });
    }
    for (const file of ["/bin/ls", "/usr/bin/true", "/usr/local/bin/deploy", "/usr/bin/env"]) {
      expect({ file, letThrough: allowedWhateverTheArguments(file, restricted) }).toEqual({ file, letThrough: true });
    }
  });
});
