// "Always allow": which prefix is offered, which saved prefixes approve a
// command without asking, and reading back what was saved.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allowPrefixRuleLine, alwaysAllowCovers, alwaysAllowOffer, appendAllowPrefixRule, readAlwaysAllowPrefixes } from "../../src/policy/amend.ts";
import { loadPolicyFromFiles } from "../../src/policy/loader.ts";

const dir = mkdtempSync(join(tmpdir(), "always-allow-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("alwaysAllowOffer", () => {
  test("the program and its first word, not the rest", () => {
    expect(alwaysAllowOffer(["git", "push", "origin", "main"])).toEqual(["git", "push"]);
    expect(alwaysAllowOffer(["cargo-fmt"])).toEqual(["cargo-fmt"]);
    expect(alwaysAllowOffer(["/usr/bin/git", "status"])).toEqual(["/usr/bin/git", "status"]);
  });

  test("never for dangerous commands", () => {
    expect(alwaysAllowOffer(["git", "push", "--force"])).toBeNull();
    expect(alwaysAllowOffer(["git", "reset", "--hard"])).toBeNull();
    expect(alwaysAllowOffer(["rm", "-rf", "x"])).toBeNull();
  });

  test("never for shells, interpreters and programs that run other programs", () => {
    for (const command of [
      ["bash", "-c", "x"],
      ["sh", "script.sh"],
      ["python3", "-c", "x"],
      ["python3.12", "tool.py"],
      ["/usr/bin/python", "x.py"],
      ["node", "-e", "x"],
      ["env", "FOO=1", "ls"],
      ["sudo", "ls"],
      ["xargs", "rm"],
      ["find", ".", "-exec", "rm", "{}", ";"],
      ["npx", "something"],
    ]) {
      expect(alwaysAllowOffer(command)).toBeNull();
    }
  });

  test("not when an option follows the program: a prefix cannot skip it", () => {
    expect(alwaysAllowOffer(["git", "-C", "/x", "push"])).toBeNull();
    expect(alwaysAllowOffer(["ls", "-la"])).toBeNull();
  });
});

describe("alwaysAllowCovers", () => {
  const saved = [["git", "push"]];
  test("a command starting with a saved prefix, token for token", () => {
    expect(alwaysAllowCovers(["git", "push", "origin", "main"], saved)).toBe(true);
    expect(alwaysAllowCovers(["git", "push"], saved)).toBe(true);
    expect(alwaysAllowCovers(["git", "pull"], saved)).toBe(false);
    expect(alwaysAllowCovers(["git"], saved)).toBe(false);
    expect(alwaysAllowCovers(["git", "pushy"], saved)).toBe(false);
  });

  test("a dangerous command still asks although its prefix was allowed", () => {
    expect(alwaysAllowCovers(["git", "push", "--force", "origin"], saved)).toBe(false);
  });

  test("a saved prefix never covers an interpreter", () => {
    expect(alwaysAllowCovers(["bash", "-c", "rm -rf /"], [["bash"]])).toBe(false);
  });
});

describe("saved lines", () => {
  test("Codex's exact line format", () => {
    expect(allowPrefixRuleLine(["echo", 'say "hi"\\n'])).toBe('prefix_rule(pattern=["echo", "say \\"hi\\"\\\\n"], decision="allow")');
  });

  test("read back exactly what was appended; other lines are left to the rules engine", () => {
    const file = join(dir, "default.rules");
    writeFileSync(file, 'prefix_rule(pattern=["ls"], decision="prompt")\n# a comment\nprefix_rule(pattern=["cat"],decision="allow")\n');
    appendAllowPrefixRule(file, ["git", "push"]);
    appendAllowPrefixRule(file, ["echo", 'tab\there "q"']);
    appendAllowPrefixRule(file, ["git", "push"]);
    expect(readAlwaysAllowPrefixes(file)).toEqual([
      ["git", "push"],
      ["echo", 'tab\there "q"'],
    ]);
    // What the rules engine makes of the file: it still parses.
    expect(loadPolicyFromFiles([file]).ruleCount).toBe(4);
  });

  test("a missing file has none", () => {
    expect(readAlwaysAllowPrefixes(join(dir, "nope.rules"))).toEqual([]);
  });

  test("the lock is taken on the descriptor that reads and appends", () => {
    const file = join(dir, "locked.rules");
    const locked: number[] = [];
    appendAllowPrefixRule(file, ["ls"], (fd) => locked.push(fd));
    expect(locked.length).toBe(1);
    expect(() =>
      appendAllowPrefixRule(file, ["pwd"], () => {
        throw new Error("ENOLCK");
      }),
    ).toThrow(`failed to lock policy file ${file}: ENOLCK`);
    expect(readAlwaysAllowPrefixes(file)).toEqual([["ls"]]);
  });
});
