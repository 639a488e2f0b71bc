import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderCheckOutput } from "../../src/policy/check-output.ts";
import { loadPolicyFromFiles } from "../../src/policy/loader.ts";

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "policy-check-"));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function writeRules(name: string, text: string): string {
  const path = join(root, name);
  writeFileSync(path, text);
  return path;
}

/** What `codex execpolicy check -r <files...> <command...>` prints. */
function check(files: string[], command: string[], options: { pretty?: boolean; resolveHostExecutables?: boolean } = {}): string {
  const policy = loadPolicyFromFiles(files);
  const matches = policy.matchesForCommand(command, undefined, { resolveHostExecutables: options.resolveHostExecutables });
  return renderCheckOutput(matches, { pretty: options.pretty });
}

describe("G. check JSON output (policy.md 10.G)", () => {
  test("G1: a match", () => {
    const rules = writeRules("g1.rules", 'prefix_rule(pattern=["git","status"])\n');
    expect(check([rules], ["git", "status"])).toBe(
      '{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":["git","status"],"decision":"allow"}}],"decision":"allow"}',
    );
  });

  test("G2: no match omits the decision", () => {
    const rules = writeRules("g2.rules", 'prefix_rule(pattern=["git","status"])\n');
    expect(check([rules], ["ls"])).toBe('{"matchedRules":[]}');
  });

  test("G3: justification is included when present", () => {
    const rules = writeRules("g3.rules", 'prefix_rule(pattern=["rm"], decision="forbidden", justification="destructive command")\n');
    expect(check([rules], ["rm", "-rf", "/x"])).toBe(
      '{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":["rm"],"decision":"forbidden","justification":"destructive command"}}],"decision":"forbidden"}',
    );
  });

  test("G4: matches in file order, strictest decision", () => {
    const first = writeRules("first.rules", 'prefix_rule(pattern=["git"], decision="prompt")\n');
    const second = writeRules("second.rules", 'prefix_rule(pattern=["git","commit"], decision="forbidden")\n');
    expect(check([first, second], ["git", "commit", "-m", "hi"])).toBe(
      '{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":["git"],"decision":"prompt"}},{"prefixRuleMatch":{"matchedPrefix":["git","commit"],"decision":"forbidden"}}],"decision":"forbidden"}',
    );
  });

  test("G5: a broken file fails to load, naming the file and location", () => {
    const broken = writeRules("broken.rules", 'prefix_rule(pattern=["git"])\nprefix_rule(pattern=["git"], decision="ask")\n');
    expect(() => check([broken], ["git"])).toThrow(`failed to parse rules file ${broken}: ${broken}:2:1: starlark error: invalid decision: ask`);
  });

  test("--pretty uses two-space indentation", () => {
    const rules = writeRules("pretty.rules", 'prefix_rule(pattern=["rm"], decision="forbidden", justification="no")\n');
    expect(check([rules], ["rm"], { pretty: true })).toBe(
      [
        "{",
        '  "matchedRules": [',
        "    {",
        '      "prefixRuleMatch": {',
        '        "matchedPrefix": [',
        '          "rm"',
        "        ],",
        '        "decision": "forbidden",',
        '        "justification": "no"',
        "      }",
        "    }",
        "  ],",
        '  "decision": "forbidden"',
        "}",
      ].join("\n"),
    );
    expect(check([rules], ["ls"], { pretty: true })).toBe('{\n  "matchedRules": []\n}');
  });

  test("resolvedProgram sits between decision and justification", () => {
    const rules = writeRules("resolved.rules", 'prefix_rule(pattern=["git"], decision="prompt", justification="ask first")\n');
    expect(check([rules], ["/usr/bin/git", "push"], { resolveHostExecutables: true })).toBe(
      '{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":["git"],"decision":"prompt","resolvedProgram":"/usr/bin/git","justification":"ask first"}}],"decision":"prompt"}',
    );
  });

  test("heuristics matches are externally tagged", () => {
    expect(renderCheckOutput([{ kind: "heuristicsRuleMatch", command: ["python"], decision: "prompt" }])).toBe(
      '{"matchedRules":[{"heuristicsRuleMatch":{"command":["python"],"decision":"prompt"}}],"decision":"prompt"}',
    );
  });
});
