// Exec mediation (issue 14), end to end: every execve of every process in a
// sandboxed call is checked against the rules, not only our Bash's. Each route
// by which a program starts another one (env, xargs, find -exec, dash, Python
// by execve and execveat, a script, Perl, make, npm, git) meets a `touch` rule
// through the compiled server and the MCP SDK client. The verdict is judged
// from outside: the project is writable by the sandbox, so only the rule can
// keep `f` from appearing there.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type ExecResultJson, isolatedEnv, processesWith, restartIfLost, setSandbox, shell, tempDir, waitUntil } from "../support.ts";

/** The program the rules name, as the server reports it: its absolute real path. */
const TOUCH = realpathSync(Bun.which("touch")!);
/** A real interpreter, not a pyenv shim (a shim is a script that runs more programs). */
const PYTHON = "/usr/bin/python3";
const GIT = Bun.which("git")!;

const FORBID_TOUCH = 'prefix_rule(pattern=["touch"], decision="forbidden")\n';
const PROMPT_TOUCH = 'prefix_rule(pattern=["touch"], decision="prompt")\n';
const DISABLE_NAMESPACES = "CODEX_EXEC_DISABLE_NAMESPACES";
const DISABLE_EXEC_MEDIATION = "CODEX_EXEC_DISABLE_EXEC_MEDIATION";

/** The project (the sandbox's cwd) is writable; /tmp and $TMPDIR are not. */
const WORKSPACE_WRITE = { type: "workspace-write", writable_roots: [], network_access: false, exclude_tmpdir_env_var: true, exclude_slash_tmp: true };

interface Route {
  name: string;
  /** Files of the project the command needs (made executable: the script is run directly). */
  files?: Record<string, string>;
  /** Creates `f` in the project by way of a program other than our Bash starting `touch f`. */
  command: string;
  /** What the program that tried to start `touch` says when that exec fails with EACCES. */
  error: RegExp;
}

const ROUTES: Route[] = [
  { name: "env", command: "env touch f", error: /env: .touch.: Permission denied/ },
  { name: "xargs", command: "xargs touch <<< f", error: /xargs: touch: Permission denied/ },
  { name: "find -exec", command: String.raw`find . -maxdepth 0 -exec touch f \;`, error: /find: .touch.: Permission denied/ },
  { name: "sh -c (dash)", command: "/bin/sh -c 'touch f'", error: /\/bin\/sh: 1: touch: Permission denied/ },
  {
    name: "python3 os.execv",
    command: `${PYTHON} -c 'import os; os.execv("${TOUCH}", ["touch", "f"])'`,
    error: /PermissionError: \[Errno 13\] Permission denied/,
  },
  {
    // fexecve: glibc makes it an execveat of the descriptor (AT_EMPTY_PATH).
    name: "python3 os.execve(fd) (execveat)",
    command: `${PYTHON} -c 'import os; os.execve(os.open("${TOUCH}", os.O_RDONLY), ["touch", "f"], os.environ)'`,
    error: /PermissionError: \[Errno 13\] Permission denied/,
  },
  { name: "#!/bin/sh script", files: { script: "#!/bin/sh\ntouch f\n" }, command: "./script", error: /\.\/script: 2: touch: Permission denied/ },
  { name: "perl exec", command: `perl -we 'exec "touch", "f"'`, error: /Can't exec "touch": Permission denied/ },
  { name: "make recipe", files: { Makefile: "f:\n\ttouch f\n" }, command: "make", error: /make: touch: Permission denied/ },
  {
    name: "npm script",
    files: { "package.json": JSON.stringify({ name: "p", version: "1.0.0", scripts: { t: "touch f" } }) },
    command: "npm run t",
    error: /sh: 1: touch: Permission denied/,
  },
  { name: "git alias", command: "git -c alias.t='!touch f' t", error: /touch f: 1: touch: Permission denied/ },
];

function project(files: Record<string, string> = {}): string {
  const dir = tempDir("codex-exec-project-");
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), content);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

/** The server's lines about execs it refused outside our Bash. */
function refusals(output: string): string[] {
  return output.split("\n").filter((line) => line.startsWith("codex-exec-mcp: refused"));
}

function refused(reason: string): string {
  return `codex-exec-mcp: refused \`${TOUCH} f\`: ${reason}`;
}

function question(cwd: string): string {
  return `Allow agent to run \`${TOUCH} f\` in \`${cwd}\`?`;
}

/** A process seen a moment ago may have exited since. */
function killIfAlive(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}

/** A server with `rules`, whose questions are recorded and answered by `answer`. */
class RulesServer {
  readonly asked: string[] = [];
  answer: () => ElicitResult | Promise<ElicitResult> = () => ({ action: "accept" });
  private onAsked: (() => void)[] = [];

  private constructor(readonly client: Client) {}

  static async start(rules: string, env: Record<string, string> = {}): Promise<RulesServer> {
    const home = isolatedEnv(env);
    mkdirSync(join(home.CODEX_HOME!, "rules"));
    writeFileSync(join(home.CODEX_HOME!, "rules", "test.rules"), rules);
    const server = new RulesServer(await connect({ env: home }));
    server.client.setRequestHandler(ElicitRequestSchema, (request) => {
      server.asked.push(request.params.message);
      server.onAsked.splice(0).forEach((resolve) => resolve());
      return server.answer();
    });
    return server;
  }

  get pid(): number {
    return (this.client.transport as StdioClientTransport).pid!;
  }

  /** Resolves when the next question arrives. */
  nextQuestion(): Promise<void> {
    return new Promise((resolve) => this.onAsked.push(resolve));
  }

  reset(): void {
    this.asked.length = 0;
    this.answer = () => ({ action: "accept" });
  }

  /** Runs `command` in `dir`, with `dir` as the workspace-write sandbox's writable project. */
  async run(command: string, dir: string, timeoutMs = 60_000): Promise<ExecResultJson> {
    await setSandbox(this.client, WORKSPACE_WRITE, dir);
    return shell(this.client, { command, workdir: dir, timeout_ms: timeoutMs });
  }
}

/** One server for the tests of the enclosing describe, replaced if a test lost it. */
function sharedServer(rules: string, env: Record<string, string> = {}): () => RulesServer {
  let server: RulesServer | undefined;
  const start = async () => {
    server = await RulesServer.start(rules, env);
  };
  beforeAll(start);
  restartIfLost(() => server?.client, start);
  beforeEach(() => server!.reset());
  afterAll(async () => {
    await server?.client.close();
  });
  return () => server!;
}

describe.each([
  ["the namespace sandbox", {}],
  [`the fallback (${DISABLE_NAMESPACES}=1)`, { [DISABLE_NAMESPACES]: "1" }],
])("under %s", (_confinement, confinementEnv: Record<string, string>) => {
  describe("a forbidden rule binds every program that starts touch", () => {
    const server = sharedServer(FORBID_TOUCH, confinementEnv);

    test.each(ROUTES)("$name: refused, with the program's error and one line naming the rule's verdict", async (route) => {
      const dir = project(route.files);
      const result = await server().run(route.command, dir);
      expect(existsSync(join(dir, "f"))).toBe(false);
      expect(result.output).toMatch(route.error);
      expect(refusals(result.output)).toEqual([refused("Execution forbidden by policy")]);
      expect(server().asked).toEqual([]);
    });

    test("read-only too: touch is refused before it starts, not left to fail on the sandbox's file system", async () => {
      const dir = project();
      await setSandbox(server().client, { type: "read-only" }, dir);
      const result = await shell(server().client, { command: "env touch f", workdir: dir });
      expect(result.output).toMatch(/env: .touch.: Permission denied/);
      // What touch itself says when it runs and the sandbox stops its write.
      expect(result.output).not.toContain("cannot touch");
      expect(refusals(result.output)).toEqual([refused("Execution forbidden by policy")]);
    });
  });

  describe("a prompt rule asks once about every program that starts touch", () => {
    const server = sharedServer(PROMPT_TOUCH, confinementEnv);

    test.each(ROUTES)("$name: accepted → runs, asked exactly once with the command and the process's cwd", async (route) => {
      const dir = project(route.files);
      const result = await server().run(route.command, dir);
      expect(server().asked).toEqual([question(dir)]);
      expect(existsSync(join(dir, "f"))).toBe(true);
      expect(refusals(result.output)).toEqual([]);
      expect(result.exit_code).toBe(0);
    });

    test.each(ROUTES)("$name: declined → refused with the user's reason, asked once", async (route) => {
      server().answer = () => ({ action: "decline" });
      const dir = project(route.files);
      const result = await server().run(route.command, dir);
      expect(existsSync(join(dir, "f"))).toBe(false);
      expect(result.output).toMatch(route.error);
      expect(refusals(result.output)).toEqual([refused("User declined execution")]);
      // Once, though execvp and dash try touch again in each later $PATH entry.
      expect(server().asked).toEqual([question(dir)]);
    });

    test("`touch f` typed directly is asked about once (by Bash's protocol), not again by the exec mediation", async () => {
      const dir = project();
      const result = await server().run("touch f", dir);
      expect(server().asked).toEqual([question(dir)]);
      expect(existsSync(join(dir, "f"))).toBe(true);
      expect(result.exit_code).toBe(0);
    });

    test("the call's timeout is paused while the question is open: answered after 2.5 s, a 1.5 s call still runs touch", async () => {
      server().answer = async () => {
        await Bun.sleep(2_500);
        return { action: "accept" };
      };
      const dir = project();
      const started = performance.now();
      const result = await server().run("env touch f", dir, 1_500);
      expect(performance.now() - started).toBeGreaterThanOrEqual(2_500);
      expect(result).toMatchObject({ exit_code: 0, timed_out: false });
      expect(existsSync(join(dir, "f"))).toBe(true);
      expect(server().asked).toEqual([question(dir)]);
    });
  });

  test("the server SIGKILLed while an exec waits for the answer: the exec fails, nothing of the call survives", async () => {
    const server = await RulesServer.start(PROMPT_TOUCH, confinementEnv);
    // Never answered: the server dies first.
    server.answer = () => new Promise<ElicitResult>(() => {});
    const dir = project();
    const canary = join(dir, `canary-${process.pid}-${Math.floor(Math.random() * 1e9)}`);
    const asked = server.nextQuestion();
    const call = server.run(`env touch ${canary}`, dir).then(
      () => "finished",
      () => "failed",
    );
    try {
      expect(await Promise.race([asked.then(() => "asked"), call])).toBe("asked");
      process.kill(server.pid, "SIGKILL");
      await call;
      expect(await waitUntil(() => processesWith(canary).length === 0, 10_000)).toBe(true);
      // Every chance to appear late.
      expect(await waitUntil(() => existsSync(canary), 2_000)).toBe(false);
    } finally {
      processesWith(canary).forEach(killIfAlive);
      await server.client.close();
    }
  });
});

describe("ordinary builds still work under unrelated forbidden and prompt rules", () => {
  const server = sharedServer(
    ['prefix_rule(pattern=["rm", "-rf"], decision="forbidden")', 'prefix_rule(pattern=["git", "push"], decision="prompt")', 'prefix_rule(pattern=["curl"], decision="prompt")', ""].join("\n"),
  );

  interface Build {
    name: string;
    files?: Record<string, string>;
    /** Prepares the project from outside the sandbox. */
    prepare?: (dir: string) => void;
    command: string;
    output: string[];
    /** Files the build leaves, with their contents. */
    made?: Record<string, string>;
  }

  const BUILDS: Build[] = [
    {
      name: "make with three recipes",
      files: { Makefile: "c: a b\n\tcat a b > c\na:\n\techo one > a\nb:\n\tprintf 'two\\n' > b\n" },
      command: "make",
      output: ["echo one > a", "printf 'two\\n' > b", "cat a b > c"],
      made: { a: "one\n", b: "two\n", c: "one\ntwo\n" },
    },
    {
      name: "git with an alias",
      prepare: (dir) => {
        expect(Bun.spawnSync([GIT, "init", "-q", dir]).exitCode).toBe(0);
        writeFileSync(join(dir, "untracked.txt"), "");
      },
      command: "git -c alias.st=status st",
      output: ["No commits yet", "untracked.txt"],
    },
    {
      name: "a Python script spawning a subprocess",
      files: { "listed.txt": "", "spawn.py": 'import subprocess\nsubprocess.run(["ls"], check=True)\n' },
      command: `${PYTHON} spawn.py`,
      output: ["listed.txt", "spawn.py"],
    },
  ];

  test.each(BUILDS)("$name", async (build) => {
    const dir = project(build.files);
    build.prepare?.(dir);
    const result = await server().run(build.command, dir);
    expect(result.exit_code).toBe(0);
    for (const line of build.output) expect(result.output).toContain(line);
    for (const [name, content] of Object.entries(build.made ?? {})) expect(readFileSync(join(dir, name), "utf8")).toBe(content);
    expect(refusals(result.output)).toEqual([]);
    expect(server().asked).toEqual([]);
  });
});

test(`${DISABLE_EXEC_MEDIATION}=1: only Bash's own execs are checked, so \`env touch f\` runs`, async () => {
  const server = await RulesServer.start(FORBID_TOUCH, { [DISABLE_EXEC_MEDIATION]: "1" });
  try {
    const dir = project();
    const result = await server.run("env touch f; touch g", dir);
    expect(existsSync(join(dir, "f"))).toBe(true);
    // The rule is loaded: Bash's own exec of touch is still refused.
    expect(result.output).toContain("Execution denied: Execution forbidden by policy");
    expect(existsSync(join(dir, "g"))).toBe(false);
  } finally {
    await server.client.close();
  }
});
