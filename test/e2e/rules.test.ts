// Rules, heuristics and approvals end to end: the compiled server loads real
// .rules files from $CODEX_HOME, and this test plays the user answering the
// elicitations.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ElicitRequestSchema, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, isolatedEnv, SERVER_BINARY, setSandbox, shell, tempDir } from "../support.ts";

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

function rulesHome(rules: string): Record<string, string> {
  const env = isolatedEnv();
  mkdirSync(join(env.CODEX_HOME!, "rules"));
  writeFileSync(join(env.CODEX_HOME!, "rules", "test.rules"), rules);
  return env;
}

/** A server with `rules`, whose elicitations are answered with `answer` and recorded. */
async function serverWith(rules: string, answer: ElicitResult["action"] = "accept", elicitation = true) {
  // Recorded off the wire: the SDK's parsing would drop keys it does not know.
  const asked: unknown[] = [];
  const client = await connect({
    env: rulesHome(rules),
    elicitation,
    onServerMessage: (message) => {
      if ("method" in message && message.method === "elicitation/create") asked.push(message.params);
    },
  });
  if (elicitation) {
    client.setRequestHandler(ElicitRequestSchema, () => ({ action: answer }));
  }
  clients.push(client);
  return { client, asked };
}

const GIT = Bun.which("git", { PATH: process.env.PATH ?? "" })!;

describe("prompt rules ask the user once, with the reference's exact question (plus the optional always_allow field)", () => {
  test("accepted: `git init .` runs outside the read-only sandbox", async () => {
    const { client, asked } = await serverWith('prefix_rule(pattern=["git", "init"], decision="prompt", match=["git init ."])\n');
    const project = tempDir("codex-exec-project-");
    await setSandbox(client, { type: "read-only" }, project);
    const result = await shell(client, { command: "git init .", workdir: project });
    expect(asked).toEqual([
      {
        message: `Allow agent to run \`${GIT} init .\` in \`${project}\`?`,
        requestedSchema: {
          type: "object",
          title: "Execution Permission Request",
          properties: {
            reason: { type: "string", description: "Optional reason for allowing or denying execution" },
            // Ours, beyond the reference (optional: a client that ignores it loses nothing).
            always_allow: {
              type: "boolean",
              title: "Always allow `git init`",
              description: "Also allow commands starting with `git init` from now on, without asking (saved to $CODEX_HOME/rules/default.rules)",
              default: false,
            },
          },
        },
      },
    ]);
    expect(result.output).toContain(`Initialized empty Git repository in ${project}/.git/`);
    expect(result.exit_code).toBe(0);
    expect(existsSync(join(project, ".git"))).toBe(true);
    // Same sandbox, no rule: a plain write is still refused.
    const touch = await shell(client, { command: "touch x", workdir: project });
    expect(touch.exit_code).not.toBe(0);
    expect(touch.output).toMatch(/Permission denied|Read-only file system/);
    expect(asked.length).toBe(1);
  });

  test("declined: denied with the reason, exit status 1", async () => {
    const { client, asked } = await serverWith('prefix_rule(pattern=["git", "init"], decision="prompt")\n', "decline");
    const project = tempDir("codex-exec-project-");
    const result = await shell(client, { command: "git init .; echo status=$?", workdir: project });
    expect(asked.length).toBe(1);
    expect(result.output).toBe("Execution denied: User declined execution\nstatus=1\n");
    expect(existsSync(join(project, ".git"))).toBe(false);
  });

  test("cancelled: denied as cancelled", async () => {
    const { client } = await serverWith('prefix_rule(pattern=["git", "init"], decision="prompt")\n', "cancel");
    const result = await shell(client, { command: "git init . ; echo status=$?", workdir: tempDir() });
    expect(result.output).toBe("Execution denied: User cancelled execution\nstatus=1\n");
  });

  test("an unmatched dangerous command (`rm -rf x`) prompts through the heuristics", async () => {
    const { client, asked } = await serverWith("", "decline");
    const dir = tempDir();
    mkdirSync(join(dir, "x"));
    await setSandbox(client, { type: "danger-full-access" }, dir);
    const result = await shell(client, { command: "rm -rf x; echo status=$?", workdir: dir });
    expect(asked.map((params) => (params as { message: string }).message)).toEqual([`Allow agent to run \`${Bun.which("rm")} -rf x\` in \`${dir}\`?`]);
    expect(result.output).toBe("Execution denied: User declined execution\nstatus=1\n");
    expect(existsSync(join(dir, "x"))).toBe(true);
  });

  test("a client without elicitation gets a clear denial, no stack trace, no hang", async () => {
    const { client } = await serverWith('prefix_rule(pattern=["git"], decision="prompt")\n', "accept", false);
    const result = await shell(client, { command: "git --version; echo status=$?", workdir: tempDir() });
    expect(result.output).toBe(
      "Execution denied: approval required by policy, but this MCP client does not support elicitation, so nobody can be asked\nstatus=1\n",
    );
  });
});

describe("allow and forbidden rules", () => {
  test("forbidden: denied by policy without asking", async () => {
    const { client, asked } = await serverWith('prefix_rule(pattern=["rm"], decision="forbidden")\n');
    const dir = tempDir();
    writeFileSync(join(dir, "keep"), "");
    await setSandbox(client, { type: "danger-full-access" }, dir);
    const result = await shell(client, { command: "rm keep; echo status=$?", workdir: dir });
    expect(result.output).toBe("Execution denied: Execution forbidden by policy\nstatus=1\n");
    expect(asked).toEqual([]);
    expect(existsSync(join(dir, "keep"))).toBe(true);
  });

  test("a script cannot switch interception off by unsetting the wrapper variables", async () => {
    const { client } = await serverWith('prefix_rule(pattern=["rm"], decision="forbidden")\n');
    const dir = tempDir();
    writeFileSync(join(dir, "keep"), "");
    await setSandbox(client, { type: "danger-full-access" }, dir);
    const result = await shell(client, {
      command: 'unset BASH_EXEC_WRAPPER EXEC_WRAPPER; rm keep; echo status=$?; bash -c "rm keep; echo nested=\\$?"',
      workdir: dir,
    });
    expect(result.output).toBe(
      "Execution denied: Execution forbidden by policy\nstatus=1\nExecution denied: Execution forbidden by policy\nnested=1\n",
    );
    expect(existsSync(join(dir, "keep"))).toBe(true);
  });

  test("allow: the program runs outside the read-only sandbox", async () => {
    const { client } = await serverWith('prefix_rule(pattern=["touch"])\n');
    const dir = tempDir();
    await setSandbox(client, { type: "read-only" }, dir);
    const result = await shell(client, { command: "touch allowed && echo done", workdir: dir });
    expect(result).toMatchObject({ exit_code: 0, output: "done\n" });
    expect(existsSync(join(dir, "allowed"))).toBe(true);
  });

  test("a program the sandbox could write is never escalated, even when a rule allows its name", async () => {
    const { client } = await serverWith('prefix_rule(pattern=["git"])\n');
    const workspace = tempDir("codex-exec-workspace-");
    const outside = tempDir("codex-exec-outside-");
    await setSandbox(client, { type: "workspace-write", writable_roots: [], exclude_slash_tmp: true, exclude_tmpdir_env_var: true }, workspace);
    // The sandboxed command plants its own `git` and runs it by absolute path.
    const fake = `#!/bin/sh\ntouch ${outside}/escaped && echo escaped || echo contained\n`;
    const result = await shell(client, {
      command: `printf '%s' '${fake}' > git && chmod +x git && ${workspace}/git`,
      workdir: workspace,
    });
    expect(result.output).toContain("contained");
    expect(existsSync(join(outside, "escaped"))).toBe(false);
    // The real git, matched by the same rule, is escalated.
    const real = await shell(client, { command: "git --version", workdir: workspace });
    expect(real.output).toStartWith("git version");
  });
});

describe("loading", () => {
  test("a broken rules file stops the server at start, naming file:line:col", async () => {
    const env = rulesHome('prefix_rule(pattern=["git"])\nprefix_rule(pattern=["ls"], decision="ask")\n');
    const child = Bun.spawn([SERVER_BINARY], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    const path = join(env.CODEX_HOME!, "rules", "test.rules");
    expect(code).not.toBe(0);
    expect(stderr).toContain(`failed to parse rules file ${path}: ${path}:2:1:`);
    expect(stderr).toContain("invalid decision: ask");
  });

  test("CODEX_HOME that does not exist stops the server with the reference's message", async () => {
    const env = { ...isolatedEnv(), CODEX_HOME: "/no/such/codex-home" };
    const child = Bun.spawn([SERVER_BINARY], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).not.toBe(0);
    expect(stderr).toContain('CODEX_HOME points to "/no/such/codex-home", but that path does not exist');
  });
});

describe("check subcommand", () => {
  async function check(args: string[], env: Record<string, string> = isolatedEnv()) {
    const child = Bun.spawn([SERVER_BINARY, "check", ...args], { env, stdout: "pipe", stderr: "pipe" });
    const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    return { code, stdout, stderr };
  }

  test("prints the reference's JSON for --rules files, hyphen-leading command words included", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "p.rules"), 'prefix_rule(pattern=["rm"], decision="forbidden", justification="destructive command")\n');
    const result = await check(["-r", join(dir, "p.rules"), "rm", "-rf", "/x"]);
    expect(result.stdout).toBe(
      '{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":["rm"],"decision":"forbidden","justification":"destructive command"}}],"decision":"forbidden"}\n',
    );
    expect((await check(["--rules", join(dir, "p.rules"), "ls"])).stdout).toBe('{"matchedRules":[]}\n');
  });

  test("without --rules it evaluates the rules the server would load", async () => {
    const env = rulesHome('prefix_rule(pattern=["git", "status"])\n');
    const result = await check(["--pretty", "git", "status"], env);
    expect(JSON.parse(result.stdout)).toEqual({
      matchedRules: [{ prefixRuleMatch: { matchedPrefix: ["git", "status"], decision: "allow" } }],
      decision: "allow",
    });
    expect(result.stdout).toContain('\n  "matchedRules": [');
  });

  test("a broken file: non-zero exit and the reference's error chain", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.rules"), 'prefix_rule(pattern=["git", "status"]\n');
    const result = await check(["-r", join(dir, "bad.rules"), "git"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`Error: failed to parse policy at ${join(dir, "bad.rules")}`);
    expect(result.stderr).toContain("starlark error:");
  });
});

test("the fake-git script file really is executable (sanity check of the escape test's premise)", () => {
  const dir = tempDir();
  const script = join(dir, "git");
  writeFileSync(script, "#!/bin/sh\necho fake\n");
  chmodSync(script, 0o755);
  expect(Bun.spawnSync([script]).stdout.toString()).toBe("fake\n");
});
