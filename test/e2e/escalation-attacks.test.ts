// Attacks on escalation from inside the sandbox, end to end: the compiled
// server over MCP, the real Landlock sandbox, our patched Bash. Rule:
// `git status` allowed; policy: workspace-write, network off, /tmp and
// $TMPDIR excluded. The verdict is a canary file outside every writable
// root: it must never appear. Where an attack could pass only because the
// program did not leave the sandbox at all, a control run shows the same
// command does escalate (and the attack then works) once the user opts in.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ElicitRequestSchema, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, isolatedEnv, SERVER_BINARY, setSandbox, shell, tempDir } from "../support.ts";

if (process.platform !== "linux") throw new Error("these tests exercise the Linux sandbox");

const GIT_STATUS_ALLOWED = 'prefix_rule(pattern=["git", "status"], decision="allow")\n';
/** Who commits in the repositories of these tests (the server's environment: escalated git sees it). */
const GIT_IDENTITY = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" };

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

interface Scene {
  client: Client;
  /** The sandbox's one writable root (and sandboxCwd). */
  workspace: string;
  /** A git repository outside every writable root, committed once. */
  repo: string;
  /** Must never appear. */
  canary: string;
  /** Approval questions the server asked. */
  asked: string[];
}

function git(cwd: string, ...args: string[]): string {
  const result = Bun.spawnSync(["git", ...args], { cwd, env: { ...process.env, ...GIT_IDENTITY }, stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

function makeRepo(dir: string): string {
  git(dir, "init", "-q", "-b", "main", ".");
  writeFileSync(join(dir, "tracked"), "one\n");
  git(dir, "add", "tracked");
  git(dir, "commit", "-qm", "first");
  return dir;
}

/** A server with `rules` (and `args`), a workspace-write sandbox on a fresh workspace, a repository and a canary outside it. */
/** How the server confines calls: this machine's namespace sandbox, or the forced Landlock-only fallback. */
type Confinement = "namespaces" | "landlock-only";

async function scene(
  rules: string,
  options: { args?: string[]; answer?: (message: string) => Promise<ElicitResult["action"]>; confinement?: Confinement } = {},
): Promise<Scene> {
  const env = isolatedEnv({ ...GIT_IDENTITY, ...(options.confinement === "landlock-only" ? { CODEX_EXEC_DISABLE_NAMESPACES: "1" } : {}) });
  mkdirSync(join(env.CODEX_HOME!, "rules"));
  writeFileSync(join(env.CODEX_HOME!, "rules", "test.rules"), rules);
  const client = await connect({ env, args: options.args });
  clients.push(client);
  const asked: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params.message);
    return { action: options.answer === undefined ? "accept" : await options.answer(request.params.message) };
  });
  const workspace = tempDir("codex-exec-ws-");
  await setSandbox(client, { type: "workspace-write", writable_roots: [], network_access: false, exclude_slash_tmp: true, exclude_tmpdir_env_var: true }, workspace);
  return { client, workspace, repo: makeRepo(tempDir("codex-exec-repo-")), canary: join(tempDir("codex-exec-outside-"), "x"), asked };
}

/** Single-quotes `value` for Bash. */
function sq(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

describe("class 1: an escalated program takes no orders from the sandbox's environment", () => {
  const injected = (canary: string) => `GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0=${sq(`touch ${canary}; false`)} git status`;

  test("GIT_CONFIG_COUNT/KEY/VALUE naming core.fsmonitor: git runs without it", async () => {
    const { client, repo, canary } = await scene(GIT_STATUS_ALLOWED);
    const result = await shell(client, { command: injected(canary), workdir: repo });
    expect(result.output).toContain("On branch main");
    expect(existsSync(canary)).toBe(false);
  });

  test("control: the same command escalates, and the attack works once the user passes those variables with --escalation-env", async () => {
    const args = ["--escalation-env", "GIT_CONFIG_COUNT", "--escalation-env", "GIT_CONFIG_KEY_0", "--escalation-env=GIT_CONFIG_VALUE_0"];
    const { client, repo, canary } = await scene(GIT_STATUS_ALLOWED, { args });
    await shell(client, { command: injected(canary), workdir: repo });
    expect(existsSync(canary)).toBe(true);
  });

  // Each with its control: passed knowingly, the same variable does reach the program outside.
  for (const passed of [false, true]) {
    const args = (name: string) => (passed ? ["--escalation-env", name] : []);
    const verdict = passed ? "control: obeyed once the user passes it" : "ignored outside";

    test.skipIf(Bun.which("gcc") === null)(`LD_PRELOAD of a library the sandbox built: ${verdict}`, async () => {
      const { client, workspace, repo, canary } = await scene(GIT_STATUS_ALLOWED, { args: args("LD_PRELOAD") });
      writeFileSync(
        join(workspace, "p.c"),
        `#include <fcntl.h>\n__attribute__((constructor)) static void init(void) { open("${canary}", O_CREAT | O_WRONLY, 0644); }\n`,
      );
      expect(Bun.spawnSync(["gcc", "-shared", "-fPIC", "-o", join(workspace, "p.so"), join(workspace, "p.c")]).exitCode).toBe(0);
      const result = await shell(client, { command: `LD_PRELOAD=${workspace}/p.so git status`, workdir: repo });
      expect(result.output).toContain("On branch main");
      expect(existsSync(canary)).toBe(passed);
    });

    test(`a PATH whose first entry the sandbox wrote, for an allowed zcat (which runs gzip): ${verdict}`, async () => {
      const { client, workspace, canary } = await scene('prefix_rule(pattern=["zcat"], decision="allow")\n', { args: args("PATH") });
      Bun.spawnSync(["sh", "-c", `echo hello | gzip > ${workspace}/f.gz`]);
      const command = [
        "mkdir -p bin",
        `printf '#!/bin/sh\\ntouch ${canary}\\n' > bin/gzip`,
        "chmod +x bin/gzip",
        `PATH=${workspace}/bin:$PATH zcat f.gz`,
      ].join(" && ");
      const result = await shell(client, { command, workdir: workspace });
      if (!passed) expect(result.output).toBe("hello\n");
      expect(existsSync(canary)).toBe(passed);
    });
  }

  test("GIT_DIR naming a directory the sandbox crafted: ignored, and refused even when passed knowingly", async () => {
    for (const args of [[], ["--escalation-env", "GIT_DIR"]]) {
      const { client, workspace, repo, canary } = await scene(GIT_STATUS_ALLOWED, { args });
      git(workspace, "init", "-q", "--bare", "crafted");
      git(workspace, "--git-dir=crafted", "config", "core.fsmonitor", `touch ${canary}; false`);
      git(workspace, "--git-dir=crafted", "config", "core.bare", "false");
      const result = await shell(client, { command: `GIT_DIR=${workspace}/crafted GIT_WORK_TREE=${repo} git status`, workdir: repo });
      expect(result.exit_code).toBe(0);
      expect(existsSync(canary)).toBe(false);
    }
  });
});

// With namespaces the sandbox cannot write an existing .git at all (it is
// bound read-only) and git escalates; without them (Landlock alone) it can,
// and git runs inside instead. Either way nothing runs outside.
describe.each(["namespaces", "landlock-only"] as const)("class 2 (%s): an escalated program reads no configuration the sandbox could write", (confinement) => {
  test("core.fsmonitor set by the sandbox in a .git under the writable root: never run outside", async () => {
    const { client, workspace, canary } = await scene(GIT_STATUS_ALLOWED, { confinement });
    makeRepo(workspace);
    const result = await shell(client, { command: `git config core.fsmonitor ${sq(`touch ${canary}; false`)}; git status`, workdir: workspace });
    expect(result.output).toContain("On branch main");
    expect(existsSync(canary)).toBe(false);
  });

  test("a post-index-change hook the sandbox wrote: never run outside", async () => {
    const { client, workspace, canary } = await scene(GIT_STATUS_ALLOWED, { confinement });
    makeRepo(workspace);
    const command = [
      `printf '#!/bin/sh\\ntouch ${canary}\\n' > .git/hooks/post-index-change`,
      "chmod +x .git/hooks/post-index-change",
      "touch -d '2001-01-01' tracked",
      "git status",
    ].join("; ");
    const result = await shell(client, { command, workdir: workspace });
    expect(result.output).toContain("On branch main");
    expect(existsSync(canary)).toBe(false);
  });

  test("a nested sub/.git file whose gitdir: names a crafted directory: git runs inside", async () => {
    const { client, workspace, repo, canary } = await scene(GIT_STATUS_ALLOWED, { confinement });
    git(workspace, "init", "-q", "--bare", "crafted");
    git(workspace, "--git-dir=crafted", "config", "core.fsmonitor", `touch ${canary}; false`);
    git(workspace, "--git-dir=crafted", "config", "core.bare", "false");
    const command = `mkdir -p sub && echo 'gitdir: ${workspace}/crafted' > sub/.git && cd sub && git status; echo status=$?`;
    const result = await shell(client, { command, workdir: workspace });
    expect(result.output).toContain("status=");
    expect(existsSync(canary)).toBe(false);
    // The same rule still escalates git where nothing is writable.
    expect((await shell(client, { command: "git status", workdir: repo })).output).toContain("On branch main");
  });
});

describe("class 3: the server escalates the program the rule matched, and nothing else", () => {
  test("./git -> /usr/bin/touch in the workspace: runs inside, the canary stays absent", async () => {
    const { client, workspace, canary } = await scene(GIT_STATUS_ALLOWED);
    const result = await shell(client, { command: `ln -s /usr/bin/touch git && ./git status ${canary}; echo status=$?`, workdir: workspace });
    expect(result.output).toContain("status=1");
    expect(existsSync(canary)).toBe(false);
  });

  test("./git -> /bin/sh and a script named status: runs inside", async () => {
    const { client, workspace, canary } = await scene(GIT_STATUS_ALLOWED);
    const command = `ln -s /bin/sh git && printf 'touch ${canary}\\n' > status && ./git status; echo status=$?`;
    const result = await shell(client, { command, workdir: workspace });
    expect(result.output).toContain("status=1");
    expect(existsSync(canary)).toBe(false);
  });

  test("the approval question names the file that would run; a link swapped while it is open changes nothing", async () => {
    let swapped = false;
    const { client, workspace, canary, asked } = await scene('prefix_rule(pattern=["git", "status"], decision="prompt")\n', {
      answer: async () => {
        // The sandbox's background job swaps the link while the human reads.
        for (let i = 0; i < 200 && !swapped; i++) await Bun.sleep(25);
        return "accept";
      },
    });
    const command = [
      "ln -s /usr/bin/git git",
      `(while [ ! -e swap ]; do sleep 0.02; done; ln -sf /usr/bin/touch git; touch swapped) &`,
      `(sleep 0.3; touch swap) &`,
      `./git status ${canary}; echo status=$?`,
      "wait",
    ].join("\n");
    const call = shell(client, { command, workdir: workspace, timeout_ms: 20_000 });
    for (let i = 0; i < 400 && !existsSync(join(workspace, "swapped")); i++) await Bun.sleep(25);
    swapped = true;
    const result = await call;
    expect(asked).toEqual([`Allow agent to run \`${realpathSync("/usr/bin/git")} status ${canary}\` in \`${workspace}\`?`]);
    expect(existsSync(join(workspace, "swapped"))).toBe(true);
    expect(result.output).toContain("status=");
    expect(existsSync(canary)).toBe(false);
  });

  test("(exec -a git-clone git status ...) runs git status, not git clone", async () => {
    const { client, repo, canary } = await scene(GIT_STATUS_ALLOWED);
    // What `git clone status <canary>` would clone.
    mkdirSync(join(repo, "status"));
    makeRepo(join(repo, "status"));
    const result = await shell(client, { command: `(exec -a git-clone git status ${canary}); echo status=$?`, workdir: repo });
    expect(result.output).not.toContain("Cloning into");
    expect(existsSync(canary)).toBe(false);
  });
});

describe("legitimate escalations still work", () => {
  test("an allowed git status prints the repository's status", async () => {
    const { client, repo } = await scene(GIT_STATUS_ALLOWED);
    writeFileSync(join(repo, "tracked"), "two\n");
    writeFileSync(join(repo, "new-file"), "");
    const result = await shell(client, { command: "git status --short", workdir: repo });
    expect(result).toMatchObject({ exit_code: 0, output: " M tracked\n?? new-file\n" });
  });

  test("an approved git commit writes a repository the sandbox cannot write", async () => {
    const { client, repo, asked } = await scene('prefix_rule(pattern=["git", "commit"], decision="prompt")\n');
    writeFileSync(join(repo, "tracked"), "two\n");
    const denied = await shell(client, { command: "git add tracked; echo add=$?", workdir: repo });
    expect(denied.output).toContain("add=128");
    git(repo, "add", "tracked");
    const result = await shell(client, { command: "git commit -qm second && echo committed", workdir: repo });
    expect(asked).toEqual([`Allow agent to run \`${realpathSync("/usr/bin/git")} commit -qm second\` in \`${repo}\`?`]);
    expect(result.output).toBe("committed\n");
    expect(git(repo, "log", "--format=%s")).toBe("second\nfirst\n");
  });

  test("an escalated program sees LANG (and TERM, TZ) from the command, and none of its other variables", async () => {
    const { client, workspace } = await scene('prefix_rule(pattern=["printenv"], decision="allow")\n');
    const command = "LANG=en_US.UTF-8 TERM=xterm-256color TZ=Europe/Paris LC_ALL=/tmp/evil PYTHONPATH=/x BASH_ENV=/x FOO=bar printenv LANG TERM TZ LC_ALL PYTHONPATH BASH_ENV FOO; echo status=$?";
    const result = await shell(client, { command, workdir: workspace });
    expect(result.output).toBe("en_US.UTF-8\nxterm-256color\nEurope/Paris\nstatus=1\n");
  });
});

test("the canary premise: the sandbox really cannot write the canary's directory", async () => {
  const { client, workspace, canary } = await scene("");
  const result = await shell(client, { command: `touch ${canary}; echo status=$?`, workdir: workspace });
  // Landlock's refusal, or the namespace sandbox's read-only bind under it.
  expect(result.output).toMatch(/Permission denied|Read-only file system/);
  expect(existsSync(canary)).toBe(false);
}, 30_000);

test("--escalation-env takes variable names only: anything else stops the server at start, naming it", async () => {
  const child = Bun.spawn([SERVER_BINARY, "--escalation-env", "LD_PRELOAD=/x.so"], { env: isolatedEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  expect(code).toBe(2);
  expect(stderr).toContain('--escalation-env needs a variable name, got "LD_PRELOAD=/x.so"');
});
