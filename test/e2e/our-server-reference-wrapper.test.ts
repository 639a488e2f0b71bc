// Wire compatibility, first direction: our compiled server driving the
// reference's codex-execve-wrapper (`--execve`), with real rules deciding
// all three actions. (The other direction is reference-server.test.ts.)
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, isolatedEnv, REFERENCE_WRAPPER, setSandbox, shell, tempDir, restartIfLost } from "../support.ts";

let client: Client;
let workspace: string;
async function startShared(): Promise<void> {
  const env = isolatedEnv();
  mkdirSync(join(env.CODEX_HOME!, "rules"));
  writeFileSync(
    join(env.CODEX_HOME!, "rules", "compat.rules"),
    'prefix_rule(pattern=["touch"])\nprefix_rule(pattern=["rm"], decision="forbidden")\n',
  );
  client = await connect({ env, args: ["--execve", REFERENCE_WRAPPER] });
  workspace = tempDir();
  // Read-only: only an escalated program can write into the workspace.
  await setSandbox(client, { type: "read-only" }, workspace);
}
beforeAll(startShared);
restartIfLost(() => client, startShared);
afterAll(async () => {
  await client.close();
});

test("the reference wrapper is the one intercepting", async () => {
  const result = await shell(client, { command: 'echo "$BASH_EXEC_WRAPPER"', workdir: workspace });
  expect(result.output).toBe(`${REFERENCE_WRAPPER}\n`);
});

test("Run: an unmatched program runs in place, inside the sandbox", async () => {
  const result = await shell(client, { command: "/bin/echo in-place; mkdir nope; echo status=$?", workdir: workspace });
  expect(result.output).toContain("in-place\n");
  // Read-only mount under the namespace sandbox, Landlock's refusal without it.
  expect(result.output).toMatch(/Permission denied|Read-only file system/);
  expect(result.output).toEndWith("status=1\n");
});

test("Escalate: an allowed program runs outside the sandbox", async () => {
  const result = await shell(client, { command: "touch escalated && echo ok", workdir: workspace });
  expect(result).toMatchObject({ exit_code: 0, output: "ok\n" });
  expect(existsSync(join(workspace, "escalated"))).toBe(true);
});

test("Deny: a forbidden program is refused with the reference's wording", async () => {
  const result = await shell(client, { command: "rm escalated; echo status=$?", workdir: workspace });
  expect(result.output).toBe("Execution denied: Execution forbidden by policy\nstatus=1\n");
  expect(existsSync(join(workspace, "escalated"))).toBe(true);
});
