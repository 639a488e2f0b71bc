import { describe, expect, test } from "bun:test";
import type { PatternToken } from "../../src/policy/policy.ts";
import { formatRuleDebug, rustDebugString } from "../../src/policy/rules.ts";
import { policyFrom, rulesError } from "./helpers.ts";

describe("A. parse and validation errors (policy.md 10.A)", () => {
  const vectors: [string, string, string][] = [
    ["A1", 'prefix_rule(pattern=["ls"], decision="prompt", justification="   ")', "invalid rule: justification cannot be empty"],
    ["A2", 'prefix_rule(pattern=["git"], decision="ask")', "invalid decision: ask"],
    ["A3", 'prefix_rule(pattern=["git"], decision="Allow")', "invalid decision: Allow"],
    ["A4", "prefix_rule(pattern=[])", "invalid pattern element: pattern cannot be empty"],
    ["A5", 'prefix_rule(pattern=["git", []])', "invalid pattern element: pattern alternatives cannot be empty"],
    ["A6", 'prefix_rule(pattern=["git", 1])', "pattern element must be a string or list of strings (got int)"],
    ["A7", 'prefix_rule(pattern=["git", ["a", 2]])', "pattern alternative must be a string (got int)"],
    ["A8", 'prefix_rule(pattern=["git"], match=[""])', "invalid example: example cannot be an empty string"],
    ["A9", "prefix_rule(pattern=[\"git\"], match=[\"git 'status\"])", "invalid example: example string has invalid shell syntax"],
    ["A10", 'prefix_rule(pattern=["git"], match=[[]])', "invalid example: example cannot be an empty list"],
    ["A11", 'prefix_rule(pattern=["git"], match=[["git", 3]])', "example tokens must be strings (got int)"],
    ["A12", 'prefix_rule(pattern=["git"], match=[5])', "example must be a string or list of strings (got int)"],
    [
      "A13",
      'prefix_rule(pattern=["tmux capture-pane"], match=["tmux capture-pane -p"])',
      'expected every example to match at least one rule. rules: ["PrefixRule { pattern: PrefixPattern { first: \\"tmux capture-pane\\", rest: [] }, decision: Allow, justification: None }"]; unmatched examples: ["tmux capture-pane -p"]',
    ],
    [
      "A14",
      'prefix_rule(pattern=["git","status"], not_match=["git status --short"])',
      'expected example to not match rule `PrefixRule { pattern: PrefixPattern { first: "git", rest: [Single("status")] }, decision: Allow, justification: None }`: git status --short',
    ],
    ["A16", 'prefix_rule(pattern=["git", "status"]', "starlark error: Parse error"],
    ["A18", 'prefix_rule(pattern=["git"], not_match=["git"])\nprefix_rule(pattern=["ls"])', "expected example to not match rule"],
    [
      "A20",
      'prefix_rule(pattern=["git"], match=["git"])\nprefix_rule(pattern=["ls"], match=["git status"])',
      'expected every example to match at least one rule. rules: ["PrefixRule { pattern: PrefixPattern { first: \\"ls\\", rest: [] }, decision: Allow, justification: None }"]; unmatched examples: ["git status"]',
    ],
    // More pattern element types, named as Starlark names them.
    ["bool element", 'prefix_rule(pattern=["git", True])', "(got bool)"],
    ["None element", 'prefix_rule(pattern=["git", None])', "(got NoneType)"],
    ["dict element", 'prefix_rule(pattern=["git", {"a": "b"}])', "(got dict)"],
    ["tuple element", 'prefix_rule(pattern=["git", ("a", "b")])', "(got tuple)"],
    ["float element", 'prefix_rule(pattern=["git", 1.5])', "(got float)"],
    ["list example item", 'prefix_rule(pattern=["git"], match=[["git", ["x"]]])', "example tokens must be strings (got list)"],
    ["None example", 'prefix_rule(pattern=["git"], not_match=[None])', "example must be a string or list of strings (got NoneType)"],
    ["comment-only example", 'prefix_rule(pattern=["git"], match=["# nothing"])', "example cannot be an empty string"],
    ["NUL example", 'prefix_rule(pattern=["git"], not_match=[["git", "a\\x00b"]])', "`: unable to render example"],
  ];
  test.each(vectors)("%s", (_id, source, expected) => {
    expect(rulesError(source).message).toContain(expected);
  });

  test("errors from a builtin are located at the call", () => {
    const error = rulesError('# header\n\n  # indented comment\nprefix_rule(\n    pattern=["git"],\n    decision="maybe",\n)\n');
    expect(error.location).toEqual({ line: 4, col: 1 });
    expect(error.reason).toBe("invalid decision: maybe");
    expect(error.message).toBe("test.rules:4:1: starlark error: invalid decision: maybe");
  });

  test("the first failure in the reference's order wins", () => {
    // Decision before justification, before pattern, before examples.
    expect(rulesError('prefix_rule(pattern=[], decision="no", justification=" ", match=[1])').reason).toBe("invalid decision: no");
    expect(rulesError('prefix_rule(pattern=[], justification=" ", match=[1])').reason).toBe("invalid rule: justification cannot be empty");
    expect(rulesError("prefix_rule(pattern=[], match=[1])").reason).toBe("invalid pattern element: pattern cannot be empty");
    expect(rulesError('prefix_rule(pattern=["a"], match=[1], not_match=[2])').reason).toContain("(got int)");
    // not_match is checked before match.
    expect(rulesError('prefix_rule(pattern=["a"], match=["b"], not_match=["a"])').reason).toStartWith("expected example to not match rule");
  });

  test("A15: matching and non-matching examples load", () => {
    const policy = policyFrom(
      'prefix_rule(pattern=["git","status"], match=[["git","status"],"git status"], not_match=[["git","--config","color.status=always","status"], "git --config color.status=always status"])',
    );
    expect(policy.rulesFor("git")).toHaveLength(1);
  });

  test("A19: examples only need to match their own call's rules", () => {
    const policy = policyFrom('prefix_rule(pattern=["git","status"])\nprefix_rule(pattern=["git"], match=["git status"])');
    expect(policy.rulesFor("git")).toHaveLength(2);
  });

  test("the match error lists every rule of the call, in expansion order", () => {
    expect(rulesError('prefix_rule(pattern=[["bash", "sh"], "-c"], match=["zsh -c x"])').reason).toBe(
      'expected every example to match at least one rule. rules: ["PrefixRule { pattern: PrefixPattern { first: \\"bash\\", rest: [Single(\\"-c\\")] }, decision: Allow, justification: None }", "PrefixRule { pattern: PrefixPattern { first: \\"sh\\", rest: [Single(\\"-c\\")] }, decision: Allow, justification: None }"]; unmatched examples: ["zsh -c x"]',
    );
  });

  test("the not_match error re-quotes the example", () => {
    expect(rulesError('prefix_rule(pattern=["echo"], not_match=[["echo", "Hello, world!"]])').reason).toEndWith(
      "`: echo 'Hello, world!'",
    );
  });
});

describe("prefix_rule arguments", () => {
  const vectors: [string, string, string][] = [
    ["missing pattern", 'prefix_rule(decision="allow")', "Missing parameter `pattern` for call to `prefix_rule`"],
    ["unknown keyword", 'prefix_rule(pattern=["a"], reviewer="x")', "Found `reviewer` extra named parameter for call to `prefix_rule`"],
    ["too many positional", 'prefix_rule(["a"], "allow", [], [], "why", "extra")', "extra positional argument(s) for call to `prefix_rule`"],
    ["positional then same keyword", 'prefix_rule(["a"], pattern=["b"])', "Repeated parameter `pattern`"],
    ["None decision", 'prefix_rule(pattern=["a"], decision=None)', "Type of parameter `decision` doesn't match, expected `str`, actual `NoneType`"],
    ["None justification", 'prefix_rule(pattern=["a"], justification=None)', "parameter `justification`"],
    ["None match", 'prefix_rule(pattern=["a"], match=None)', "Type of parameter `match` doesn't match, expected `list`, actual `NoneType`"],
    ["None not_match", 'prefix_rule(pattern=["a"], not_match=None)', "parameter `not_match`"],
    ["tuple pattern", 'prefix_rule(pattern=("a",))', "expected `list`, actual `tuple`"],
    ["string pattern", 'prefix_rule(pattern="git")', "expected `list`, actual `string`"],
    ["int decision", 'prefix_rule(pattern=["a"], decision=1)', "expected `str`, actual `int`"],
  ];
  test.each(vectors)("%s", (_id, source, expected) => {
    expect(rulesError(source).reason).toContain(expected);
  });

  test("parameters can be given positionally in declared order", () => {
    const policy = policyFrom('prefix_rule(["rm"], "forbidden", ["rm -rf /"], ["ls"], "destructive")');
    expect(policy.rulesFor("rm")).toEqual([
      { first: "rm", rest: [], decision: "forbidden", justification: "destructive" },
    ]);
  });

  test("defaults: allow, no justification; justification is kept verbatim", () => {
    const policy = policyFrom('prefix_rule(pattern=["ls"])\nprefix_rule(pattern=["cat"], justification="  padded  ")');
    expect(policy.rulesFor("ls")).toEqual([{ first: "ls", rest: [], decision: "allow", justification: undefined }]);
    expect(policy.rulesFor("cat")[0]?.justification).toBe("  padded  ");
  });

  test("alternatives: first position expands, later positions stay, single alternative is a plain token", () => {
    const policy = policyFrom('prefix_rule(pattern=[["bash", "sh"], ["-c", "-l"], ["x"]])');
    const rest: PatternToken[] = [
      { kind: "alternatives", values: ["-c", "-l"] },
      { kind: "single", value: "x" },
    ];
    expect(policy.rulesFor("bash")).toEqual([{ first: "bash", rest, decision: "allow", justification: undefined }]);
    expect(policy.rulesFor("sh")).toEqual([{ first: "sh", rest, decision: "allow", justification: undefined }]);
  });

  test("empty strings are allowed in patterns", () => {
    expect(policyFrom('prefix_rule(pattern=["echo", ""])').rulesFor("echo")[0]?.rest).toEqual([{ kind: "single", value: "" }]);
  });
});

describe("host_executable (policy.md 8, 10.H)", () => {
  const vectors: [string, string, string][] = [
    ["H6", 'host_executable(name="git", paths=["git"])', "invalid rule: host_executable paths must be absolute (got git)"],
    ["H7", 'host_executable(name="/usr/bin/git", paths=["/usr/bin/git"])', "invalid rule: host_executable name must be a bare executable name (got /usr/bin/git)"],
    ["H8", 'host_executable(name="git", paths=["/usr/bin/rg"])', "invalid rule: host_executable path `/usr/bin/rg` must have basename `git`"],
    ["empty name", 'host_executable(name="", paths=[])', "invalid rule: host_executable name cannot be empty"],
    ["non-string path", 'host_executable(name="git", paths=[1])', "invalid rule: host_executable paths must be strings (got int)"],
    ["missing paths", 'host_executable(name="git")', "Missing parameter `paths` for call to `host_executable`"],
    ["tuple paths", 'host_executable(name="git", paths=("/usr/bin/git",))', "expected `list`, actual `tuple`"],
    ["unknown keyword", 'host_executable(name="git", paths=[], extra=1)', "Found `extra` extra named parameter"],
  ];
  test.each(vectors)("%s", (_id, source, expected) => {
    expect(rulesError(source).reason).toContain(expected);
  });

  test("H9: the last definition wins, across files", () => {
    const policy = policyFrom(
      'host_executable(name="git", paths=["/usr/bin/git"])',
      'host_executable(name="git", paths=["/opt/homebrew/bin/git"])',
    );
    expect(policy.hostExecutablePaths("git")).toEqual(["/opt/homebrew/bin/git"]);
  });

  test("duplicate paths are removed; an empty list is allowed; positional arguments work", () => {
    const policy = policyFrom('host_executable("git", ["/usr/bin/git", "/bin/git", "/usr/bin/git"])\nhost_executable(name="rg", paths=[])');
    expect(policy.hostExecutablePaths("git")).toEqual(["/usr/bin/git", "/bin/git"]);
    expect(policy.hostExecutablePaths("rg")).toEqual([]);
    expect(policy.hostExecutablePaths("ls")).toBeUndefined();
  });
});

describe("Rust debug renderings", () => {
  test("strings", () => {
    expect(rustDebugString('a"b\\c\nd\te\u0001')).toBe('"a\\"b\\\\c\\nd\\te\\u{1}"');
  });

  test("rules with alternatives and a justification", () => {
    expect(
      formatRuleDebug({
        first: "npm",
        rest: [{ kind: "alternatives", values: ["i", "install"] }, { kind: "single", value: "x" }],
        decision: "forbidden",
        justification: 'say "no"',
      }),
    ).toBe(
      'PrefixRule { pattern: PrefixPattern { first: "npm", rest: [Alts(["i", "install"]), Single("x")] }, decision: Forbidden, justification: Some("say \\"no\\"") }',
    );
  });
});
