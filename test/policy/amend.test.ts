import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendAllowPrefixRule } from "../../src/policy/amend.ts";
import { loadPolicyFromFiles } from "../../src/policy/loader.ts";

let root: string;
let rulesFile: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "policy-amend-"));
  rulesFile = join(root, "rules", "default.rules");
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const ECHO_LINE = 'prefix_rule(pattern=["echo", "Hello, world!"], decision="allow")\n';
const LS_LINE = 'prefix_rule(pattern=["ls"], decision="allow")';

describe("F. appendAllowPrefixRule (policy.md 10.F)", () => {
  test("F1: creates the rules directory and the file", () => {
    appendAllowPrefixRule(rulesFile, ["echo", "Hello, world!"]);
    expect(readFileSync(rulesFile, "utf8")).toBe(ECHO_LINE);
  });

  test("F2: appends after existing content", () => {
    mkdirSync(join(root, "rules"));
    writeFileSync(rulesFile, `${LS_LINE}\n`);
    appendAllowPrefixRule(rulesFile, ["echo", "Hello, world!"]);
    expect(readFileSync(rulesFile, "utf8")).toBe(`${LS_LINE}\n${ECHO_LINE}`);
  });

  test("F3: inserts the missing newline first", () => {
    mkdirSync(join(root, "rules"));
    writeFileSync(rulesFile, LS_LINE);
    appendAllowPrefixRule(rulesFile, ["echo", "Hello, world!"]);
    expect(readFileSync(rulesFile, "utf8")).toBe(`${LS_LINE}\n${ECHO_LINE}`);
  });

  test("F4: an identical line is not added twice", () => {
    appendAllowPrefixRule(rulesFile, ["python3"]);
    appendAllowPrefixRule(rulesFile, ["python3"]);
    expect(readFileSync(rulesFile, "utf8")).toBe('prefix_rule(pattern=["python3"], decision="allow")\n');
  });

  test("F5: an empty prefix is an error and writes nothing", () => {
    expect(() => appendAllowPrefixRule(rulesFile, [])).toThrow("prefix rule requires at least one token");
    expect(existsSync(rulesFile)).toBe(false);
  });

  test("F6: quotes are escaped and the file parses back to the same token", () => {
    appendAllowPrefixRule(rulesFile, ['say "hi"']);
    expect(readFileSync(rulesFile, "utf8")).toBe('prefix_rule(pattern=["say \\"hi\\""], decision="allow")\n');
    expect(loadPolicyFromFiles([rulesFile]).rulesFor('say "hi"')).toHaveLength(1);
  });

  test("control characters, backslashes and non-ASCII round-trip through the rules parser", () => {
    const token = "tab\there\\back\u0001é";
    appendAllowPrefixRule(rulesFile, ["printf", token]);
    expect(loadPolicyFromFiles([rulesFile]).rulesFor("printf")[0]?.rest).toEqual([{ kind: "single", value: token }]);
  });

  test("a CRLF line counts as identical", () => {
    mkdirSync(join(root, "rules"));
    writeFileSync(rulesFile, `${LS_LINE}\r\n`);
    appendAllowPrefixRule(rulesFile, ["ls"]);
    expect(readFileSync(rulesFile, "utf8")).toBe(`${LS_LINE}\r\n`);
  });

  test("only one directory level is created", () => {
    const deep = join(root, "missing", "rules", "default.rules");
    expect(() => appendAllowPrefixRule(deep, ["ls"])).toThrow(`failed to create policy directory ${join(root, "missing", "rules")}: `);
  });
});
