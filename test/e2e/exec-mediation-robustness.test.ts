// Exec mediation under stress, through the real server: a flood of execs in
// one call, a process that dies while its exec waits for a human, the
// start-up warning where mediation is off, and the heuristics with no rule.
// The routes themselves are in exec-mediation.test.ts.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ElicitRequestSchema, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, isolatedEnv, processesWith, setSandbox, shell, tempDir, waitUntil } from "../support.ts";

const WORKSPACE_WRITE = { type: "workspace-write", writable_roots: [], network_access: false, exclude_tmpdir_env_var: true, exclude_slash_tmp: true };

function envWithRules(rules: string, extra: Record<string, string> = {}): Record<string, string> {
  const env = isolatedEnv(extra);
  mkdirSync(join(env.CODEX_HOME!, "rules"));
  writeFileSync(join(env.CODEX_HOME!, "rules", "test.rules"), rules);
  return env;
}

const clients: Client[] = [];
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

describe("exec mediation under stress", () => {
  test("a call flooding the server with execs does not starve another call", async () => {
    const client = await connect({ env: isolatedEnv() });
    clients.push(client);
    const project = tempDir("codex-exec-flood-");
    await setSandbox(client, WORKSPACE_WRITE, project);
    const marker = `flood-${process.pid}-${Date.now()}`;
    let floodDone = false;
    const flood = shell(client, {
      command: `for i in 1 2 3; do (while :; do /bin/true ${marker}; done) & done; wait`,
      workdir: project,
      timeout_ms: 10_000,
    }).finally(() => {
      floodDone = true;
    });
    expect(await waitUntil(() => processesWith(marker).length > 0, 10_000)).toBe(true);
    // Each of these execs waits its turn behind the flood's.
    const other = await shell(client, { command: "/bin/echo one; env /bin/echo two; find . -maxdepth 0 -exec /bin/echo three \\;", workdir: project });
    expect(other.output).toBe("one\ntwo\nthree\n");
    expect(floodDone).toBe(false);
    const flooded = await flood;
    expect(flooded.timed_out).toBe(true);
  }, 60_000);

  test("a process killed while its exec waits for a human: the late answer is harmless, nothing runs, the server keeps serving", async () => {
    let answer: (result: ElicitResult) => void = () => {};
    const asked: string[] = [];
    const client = await connect({ env: envWithRules('prefix_rule(pattern=["touch"], decision="prompt")\n') });
    clients.push(client);
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params.message);
      return new Promise<ElicitResult>((resolve) => {
        answer = resolve;
      });
    });
    const project = tempDir("codex-exec-late-");
    await setSandbox(client, WORKSPACE_WRITE, project);
    const name = `late-${process.pid}-${Date.now()}`;
    // The call outlives the process, so that the answer reaches a live listener.
    const call = shell(client, { command: `env touch ${name}; echo "env=$?"; while [ ! -e release ]; do sleep 0.05; done`, workdir: project });
    expect(await waitUntil(() => asked.length === 1, 20_000)).toBe(true);
    expect(asked[0]).toBe(`Allow agent to run \`/usr/bin/touch ${name}\` in \`${project}\`?`);
    // The process stopped in its exec (still env's command line).
    const waiting = processesWith(name).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8") === `env\0touch\0${name}\0`);
    expect(waiting.length).toBe(1);
    process.kill(waiting[0]!, "SIGKILL");
    expect(await waitUntil(() => processesWith(name).every((pid) => !waiting.includes(pid)), 10_000)).toBe(true);
    answer({ action: "accept" });
    // Sent after the answer on the same stream: the server has the answer when it runs this.
    expect((await shell(client, { command: "env /bin/echo still serving", workdir: project })).output).toBe("still serving\n");
    writeFileSync(join(project, "release"), "");
    const result = await call;
    expect(result.output).toMatch(/Killed +env touch late-\S+\nenv=137\n$/);
    expect(existsSync(join(project, name))).toBe(false);
  }, 60_000);

  test("switched off (or unavailable), the server says so once at start, naming what is lost", async () => {
    let stderr = "";
    const client = await connect({ env: isolatedEnv({ CODEX_EXEC_DISABLE_EXEC_MEDIATION: "1" }), onStderr: (text) => (stderr += text) });
    clients.push(client);
    await shell(client, { command: "true" });
    const warnings = stderr.split("\n").filter((line) => line.includes("no exec mediation"));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toContain("CODEX_EXEC_DISABLE_EXEC_MEDIATION=1");
    expect(warnings[0]).toContain("rules only bind the programs Bash starts itself");
  });
});

describe("the heuristics apply to every program's execs, as to Bash's", () => {
  test("`xargs rm -rf` with no rule at all: the human is asked about rm, and a decline keeps the directory", async () => {
    const asked: string[] = [];
    const client = await connect({ env: isolatedEnv() });
    clients.push(client);
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params.message);
      return { action: "decline" };
    });
    const project = tempDir("codex-exec-heuristics-");
    mkdirSync(join(project, "keep"));
    await setSandbox(client, WORKSPACE_WRITE, project);
    const result = await shell(client, { command: "xargs rm -rf <<< keep", workdir: project });
    expect(asked).toEqual([`Allow agent to run \`${realpathSync(Bun.which("rm")!)} -rf keep\` in \`${project}\`?`]);
    expect(existsSync(join(project, "keep"))).toBe(true);
    expect(result.output).toContain(`codex-exec-mcp: refused \`${realpathSync(Bun.which("rm")!)} -rf keep\`: User declined execution`);
  });
});
