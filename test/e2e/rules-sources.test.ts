// Which rules the server read, said where a user looks: the startup log (info)
// and `doctor`. Codex does not pass CODEX_HOME on unless told to, so the
// directory and its origin must be visible.
import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isolatedEnv, SERVER_BINARY, tempDir } from "../support.ts";

async function run(args: string[], env: Record<string, string>) {
  // stdin closed at once: `serve` loads its rules, logs, and exits.
  const child = Bun.spawn([SERVER_BINARY, ...args], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

function codexHomeWithRules(): string {
  const home = tempDir("codex-exec-rules-home-");
  mkdirSync(join(home, "rules"));
  writeFileSync(join(home, "rules/default.rules"), 'prefix_rule(pattern=["git", "push"], decision="prompt")\nprefix_rule(pattern=["rm"], decision="forbidden")\n');
  writeFileSync(join(home, "rules/extra.rules"), 'prefix_rule(pattern=["ls"], decision="allow")\n');
  return home;
}

test("serve logs at info the rules directories it loaded and how many rules", async () => {
  const home = codexHomeWithRules();
  const { stderr } = await run([], isolatedEnv({ CODEX_HOME: home }));
  expect(stderr).toContain("rules: /etc/codex/rules (system): ");
  expect(stderr).toContain(`rules: ${join(home, "rules")} ($CODEX_HOME): 3 rule(s) in 2 file(s)`);
});

test("without CODEX_HOME the log says ~/.codex was read, and why", async () => {
  const env = isolatedEnv();
  delete env.CODEX_HOME;
  env.HOME = tempDir("codex-exec-home-");
  const { stderr } = await run(["--log-level", "info"], env);
  expect(stderr).toContain(`rules: ${join(env.HOME, ".codex/rules")} (~/.codex (CODEX_HOME is not set)): no .rules files`);
});

test("doctor prints the same", async () => {
  const home = codexHomeWithRules();
  const { stdout, code } = await run(["doctor"], isolatedEnv({ CODEX_HOME: home }));
  expect(code).toBe(0);
  expect(stdout).toMatch(new RegExp(`^ok +rules +/etc/codex/rules \\(system\\): .*; ${join(home, "rules").replaceAll("/", "\\/")} \\(\\$CODEX_HOME\\): 3 rule\\(s\\) in 2 file\\(s\\)$`, "m"));
});
