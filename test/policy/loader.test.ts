import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultRulesFiles, listRulesFiles, loadDefaultPolicy, loadPolicyFromFiles, resolveCodexHome, RulesLoadError } from "../../src/policy/loader.ts";

let root: string;

beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "policy-loader-")));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(relative: string, text: string): string {
  const path = join(root, relative);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  return path;
}

function loadError(action: () => unknown): RulesLoadError {
  try {
    action();
  } catch (error) {
    if (error instanceof RulesLoadError) return error;
    throw error;
  }
  throw new Error("expected a RulesLoadError");
}

describe("resolveCodexHome (policy.md 2.1)", () => {
  test("CODEX_HOME is canonicalized", () => {
    mkdirSync(join(root, "real"));
    symlinkSync(join(root, "real"), join(root, "link"));
    expect(resolveCodexHome({ CODEX_HOME: join(root, "link"), HOME: "/nowhere" })).toBe(join(root, "real"));
  });

  test("a missing CODEX_HOME is an error", () => {
    const missing = join(root, "missing");
    expect(loadError(() => resolveCodexHome({ CODEX_HOME: missing })).message).toBe(
      `CODEX_HOME points to "${missing}", but that path does not exist`,
    );
  });

  test("a CODEX_HOME that is a file is an error", () => {
    const file = write("file", "");
    expect(loadError(() => resolveCodexHome({ CODEX_HOME: file })).message).toBe(`CODEX_HOME points to "${file}", but that path is not a directory`);
  });

  test("empty or unset CODEX_HOME means <home>/.codex, unchecked", () => {
    expect(resolveCodexHome({ CODEX_HOME: "", HOME: "/home/someone" })).toBe("/home/someone/.codex");
    expect(resolveCodexHome({ HOME: "/home/someone" })).toBe("/home/someone/.codex");
  });
});

describe("rules file discovery (policy.md 2.2)", () => {
  test("only regular *.rules files, sorted; symlinks, subdirectories and `.rules` are skipped", () => {
    write("dir/b.rules", "");
    write("dir/a.rules", "");
    write("dir/Z.rules", "");
    write("dir/..rules", "");
    write("dir/.rules", "");
    write("dir/c.RULES", "");
    write("dir/d.rules.bak", "");
    write("dir/sub/e.rules", "");
    mkdirSync(join(root, "dir", "f.rules"));
    symlinkSync(join(root, "dir", "a.rules"), join(root, "dir", "link.rules"));
    const dir = join(root, "dir");
    expect(listRulesFiles(dir)).toEqual([join(dir, "..rules"), join(dir, "Z.rules"), join(dir, "a.rules"), join(dir, "b.rules")]);
  });

  test("a missing directory has no files", () => {
    expect(listRulesFiles(join(root, "missing"))).toEqual([]);
  });

  test("a directory that cannot be read is an error", () => {
    const file = write("not-a-dir", "");
    expect(loadError(() => listRulesFiles(file)).message).toStartWith(`failed to read rules files from ${file}: `);
  });

  test("system rules first, then $CODEX_HOME/rules", () => {
    const system = write("etc/rules/z.rules", "");
    const user = write("home/rules/a.rules", "");
    expect(defaultRulesFiles({ CODEX_HOME: join(root, "home") }, join(root, "etc", "rules"))).toEqual([system, user]);
  });

  test("codex home failures are wrapped", () => {
    const missing = join(root, "missing");
    expect(loadError(() => defaultRulesFiles({ CODEX_HOME: missing }, join(root, "etc"))).message).toBe(
      `failed to resolve codex_home for execpolicy: CODEX_HOME points to "${missing}", but that path does not exist`,
    );
  });
});

describe("loading (policy.md 2.3)", () => {
  test("rules accumulate across files in order", () => {
    write("etc/rules/1.rules", 'prefix_rule(pattern=["git"], decision="prompt")\nhost_executable(name="git", paths=["/usr/bin/git"])');
    write("home/rules/2.rules", 'prefix_rule(pattern=["git"], decision="forbidden")\nhost_executable(name="git", paths=["/bin/git"])');
    const policy = loadDefaultPolicy({ CODEX_HOME: join(root, "home") }, join(root, "etc", "rules"));
    expect(policy.rulesFor("git").map((rule) => rule.decision)).toEqual(["prompt", "forbidden"]);
    expect(policy.hostExecutablePaths("git")).toEqual(["/bin/git"]);
  });

  test("A18: a failing example aborts the whole load", () => {
    const good = write("good.rules", 'prefix_rule(pattern=["ls"])\n');
    const bad = write("bad.rules", '# comment\nprefix_rule(pattern=["ls"])\n\nprefix_rule(pattern=["git"], not_match=["git"])\nprefix_rule(pattern=["cat"])\n');
    const error = loadError(() => loadPolicyFromFiles([good, bad]));
    expect(error.message).toStartWith(`failed to parse rules file ${bad}: ${bad}:4:1: starlark error: expected example to not match rule \``);
    expect([error.path, error.line, error.col]).toEqual([bad, 4, 1]);
  });

  test("syntax errors carry their own line and column", () => {
    const bad = write("bad.rules", 'prefix_rule(pattern=["ls"])\n  \n   prefix_rule(pattern=["git"])\n');
    const error = loadError(() => loadPolicyFromFiles([bad]));
    expect(error.message).toBe(`failed to parse rules file ${bad}: ${bad}:3:1: starlark error: Parse error: unexpected indentation`);
    expect([error.path, error.line, error.col]).toEqual([bad, 3, 1]);
  });

  test("evaluation errors carry the call's location", () => {
    const bad = write("bad.rules", 'prefix_rule(pattern=["ls"])\n\nprefix_rule(\n  pattern=["git"],\n  not_match=["git"],\n)\n');
    const error = loadError(() => loadPolicyFromFiles([bad]));
    expect(error.message).toStartWith(`failed to parse rules file ${bad}: ${bad}:3:1: starlark error: expected example to not match rule \``);
    expect([error.line, error.col]).toEqual([3, 1]);
  });

  test("A17 (our dialect): host_executable and network_rule are defined, unknown names are not", () => {
    const bad = write("bad.rules", 'host_executable(name="git", paths=["/usr/bin/git"])\nweb_rule(host="example.com")\n');
    expect(loadError(() => loadPolicyFromFiles([bad])).message).toBe(
      `failed to parse rules file ${bad}: ${bad}:2:1: starlark error: name \`web_rule\` is not defined: rules files can only call prefix_rule, host_executable and network_rule`,
    );
  });

  test("network_rule loads with one warning per file that it is not enforced", () => {
    const rules = write(
      "net.rules",
      'network_rule(host="Example.COM:443", protocol="https", decision="deny")\nnetwork_rule(host="a.b", protocol="socks5_udp", decision="allow", justification="x")\nprefix_rule(pattern=["ls"])\n',
    );
    const plain = write("plain.rules", 'prefix_rule(pattern=["cat"])\n');
    const warnings: string[] = [];
    const policy = loadPolicyFromFiles([rules, plain], { onWarning: (message) => warnings.push(message) });
    expect(policy.rulesFor("ls")).toHaveLength(1);
    expect(warnings).toEqual([`${rules}: 2 network_rule(...) call(s) checked but not enforced: this server does not filter network traffic by host`]);
  });

  test("a byte-order mark is refused, as Codex refuses it", () => {
    const bom = write("bom.rules", '\ufeffprefix_rule(pattern=["ls"])\n');
    const error = loadError(() => loadPolicyFromFiles([bom]));
    expect([error.line, error.col]).toEqual([1, 1]);
    expect(error.message).toContain("Parse error: invalid input");
  });

  test("a file that cannot be read", () => {
    const missing = join(root, "missing.rules");
    const error = loadError(() => loadPolicyFromFiles([missing]));
    expect(error.message).toStartWith(`failed to read rules file ${missing}: `);
    expect(error.path).toBe(missing);
    expect(error.line).toBeUndefined();
  });

  test("invalid UTF-8 is a read error", () => {
    const path = join(root, "latin1.rules");
    writeFileSync(path, Buffer.from([0x23, 0xe9, 0x0a]));
    expect(loadError(() => loadPolicyFromFiles([path])).message).toStartWith(`failed to read rules file ${path}: `);
  });

  // Root ignores directory permissions, so the failure cannot be provoked there.
  test.skipIf(process.getuid?.() === 0)("an unreadable rules directory stops the load", () => {
    const dir = join(root, "home", "rules");
    write("home/rules/a.rules", "");
    chmodSync(dir, 0o000);
    try {
      expect(loadError(() => loadDefaultPolicy({ CODEX_HOME: join(root, "home") }, join(root, "etc"))).message).toStartWith(
        `failed to read rules files from ${dir}: `,
      );
    } finally {
      chmodSync(dir, 0o755);
    }
  });
});
