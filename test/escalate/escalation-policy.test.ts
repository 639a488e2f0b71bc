// Escalation safety as the decider applies it: which resolved programs may
// leave the sandbox, the per-program preconditions (git), the environment an
// escalated program gets, and the argv[0] and question it is given. Real
// files and repositories in temporary directories; no server.
import { describe, expect, test } from "bun:test";
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { holdProgram, type ResolvedProgram } from "../../src/escalate/program.ts";
import type { ExecRequest } from "../../src/escalate/protocol.ts";
import { closeFd } from "../../src/ffi/socket.ts";
import { createExecDecider, programRefusal, type ApprovalAnswer } from "../../src/mcp/escalation-policy.ts";
import { escalationEnvironment } from "../../src/policy/escalation-env.ts";
import { loadPolicyFromFiles } from "../../src/policy/loader.ts";
import { preconditionRefusal } from "../../src/policy/preconditions.ts";
import type { SandboxWrites } from "../../src/policy/sandbox-writes.ts";
import { tempDir } from "../support.ts";

function resolved(workdir: string, file: string): ResolvedProgram {
  const { program, fd } = holdProgram(workdir, file);
  if (fd !== null) closeFd(fd);
  return program;
}

function writes(roots: string[], readOnlyEnforced: string[] = []): SandboxWrites {
  return { roots, readOnlyEnforced };
}

function git(cwd: string, ...args: string[]): void {
  const result = Bun.spawnSync(["git", ...args], { cwd, stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(result.stderr.toString());
}

describe("which resolved programs may leave the sandbox", () => {
  test("a root-owned file, and a root-owned link to one, stay escalatable under any writable root", () => {
    const workspace = tempDir();
    expect(programRefusal(resolved(workspace, "/usr/bin/env"), writes([workspace]))).toBeNull();
    expect(programRefusal(resolved(workspace, "/usr/bin/python3"), writes([workspace]))).toBeNull();
  });

  test("a ./git link in a writable root is refused, whatever it points to", () => {
    const workspace = tempDir();
    symlinkSync("/usr/bin/git", join(workspace, "git"));
    expect(programRefusal(resolved(workspace, "./git"), writes([workspace]))).toBe(`${workspace}/git is inside ${workspace}, which the sandbox can write`);
  });

  test("a hop in the middle of a chain, or a directory link on the way, is enough to refuse", () => {
    const workspace = tempDir();
    const elsewhere = tempDir();
    symlinkSync(join(workspace, "hop"), join(elsewhere, "git"));
    symlinkSync("/usr/bin/git", join(workspace, "hop"));
    symlinkSync("/usr/bin", join(workspace, "bin"));
    expect(programRefusal(resolved("/", join(elsewhere, "git")), writes([workspace]))).toContain(`${workspace}/hop is inside`);
    expect(programRefusal(resolved("/", join(workspace, "bin/git")), writes([workspace]))).toContain(`${workspace}/bin is inside`);
    // The same chain is fine where the sandbox writes nothing.
    expect(programRefusal(resolved("/", join(elsewhere, "git")), writes([]))).toBeNull();
  });

  test("a file the sandbox keeps read-only inside a writable root is escalatable; an unresolvable one never is", () => {
    const workspace = tempDir();
    mkdirSync(join(workspace, "tools"));
    writeFileSync(join(workspace, "tools", "x"), "");
    expect(programRefusal(resolved(workspace, "tools/x"), writes([workspace]))).not.toBeNull();
    expect(programRefusal(resolved(workspace, "tools/x"), writes([workspace], [join(workspace, "tools")]))).toBeNull();
    expect(programRefusal(resolved(workspace, "missing"), writes([]))).toContain("ENOENT");
  });
});

describe("git's precondition: the repository and configuration it would use", () => {
  const serverEnv = { HOME: "/nonexistent-home" };
  const refusal = (argv: string[], workdir: string, sandbox: SandboxWrites, env: Record<string, string> = serverEnv) =>
    preconditionRefusal(["git"], { argv, workdir, env, writes: sandbox });

  test("a repository under a writable root is refused; the same one kept read-only by the sandbox is not", () => {
    const workspace = tempDir();
    git(workspace, "init", "-q");
    expect(refusal(["git", "status"], workspace, writes([workspace]))).toBe(`${workspace}/.git is inside ${workspace}, which the sandbox can write`);
    expect(refusal(["git", "status"], workspace, writes([workspace], [join(workspace, ".git")]))).toBeNull();
    expect(refusal(["git", "status"], workspace, writes([]))).toBeNull();
  });

  test("a subdirectory of a writable root could receive a planted .git before git looks: refused", () => {
    const workspace = tempDir();
    git(workspace, "init", "-q");
    mkdirSync(join(workspace, "sub"));
    const sandbox = writes([workspace], [join(workspace, ".git")]);
    expect(refusal(["git", "status"], join(workspace, "sub"), sandbox)).toContain(`no protected repository between ${workspace}/sub and ${workspace}/sub`);
    // -C moves the search, as git does.
    expect(refusal(["git", "-C", "..", "status"], join(workspace, "sub"), sandbox)).toBeNull();
  });

  test("a .git file's gitdir: target, a linked worktree's common directory, GIT_DIR: each checked", () => {
    const outside = tempDir();
    const workspace = tempDir();
    git(outside, "init", "-q", "--bare", "crafted.git");
    writeFileSync(join(outside, ".git"), `gitdir: ${join(workspace, "repo.git")}\n`);
    git(workspace, "init", "-q", "--bare", "repo.git");
    expect(refusal(["git", "status"], outside, writes([workspace]))).toBe(`${workspace}/repo.git is inside ${workspace}, which the sandbox can write`);
    const linked = join(outside, "linked");
    mkdirSync(linked);
    mkdirSync(join(outside, "wt"));
    writeFileSync(join(outside, "wt", "commondir"), `${join(workspace, "repo.git")}\n`);
    writeFileSync(join(linked, ".git"), `gitdir: ${join(outside, "wt")}\n`);
    expect(refusal(["git", "status"], linked, writes([workspace]))).toContain(`${workspace}/repo.git is inside`);
    expect(refusal(["git", "status"], "/", writes([workspace]), { ...serverEnv, GIT_DIR: join(workspace, "repo.git") })).toContain("is inside");
    expect(refusal(["git", "--git-dir", join(outside, "crafted.git"), "status"], "/", writes([workspace]))).toBeNull();
  });

  test("a FIFO the sandbox made where git keeps a path is never read (the check would hang the server)", () => {
    const workspace = tempDir();
    git(workspace, "init", "-q", "--bare", "repo.git");
    expect(Bun.spawnSync(["mkfifo", join(workspace, "repo.git", "commondir")]).exitCode).toBe(0);
    const outside = tempDir();
    writeFileSync(join(outside, ".git"), `gitdir: ${join(workspace, "repo.git")}\n`);
    expect(refusal(["git", "status"], outside, writes([workspace]))).toContain(`${workspace}/repo.git is inside`);
  });

  test("core.hooksPath naming a directory in the work tree (husky's .husky/_) is refused; one outside is not", () => {
    const repo = tempDir();
    const elsewhere = tempDir();
    git(repo, "init", "-q");
    const sandbox = writes([join(repo, ".husky")], [join(repo, ".git")]);
    mkdirSync(join(repo, ".husky"));
    git(repo, "config", "core.hooksPath", ".husky/_");
    expect(refusal(["git", "commit"], repo, sandbox)).toBe(`core.hooksPath in ${repo}/.git/config names ${repo}/.husky/_: ${repo}/.husky/_ is inside ${repo}/.husky, which the sandbox can write`);
    git(repo, "config", "core.hooksPath", elsewhere);
    expect(refusal(["git", "commit"], repo, sandbox)).toBeNull();
    writeFileSync(join(repo, ".git", "config"), '[core]\n\tbare = false\n[Core]\n\tHooksPath = ".husky/_"\n');
    expect(refusal(["git", "commit"], repo, sandbox)).toContain("core.hooksPath");
  });

  test("a submodule whose .git the sandbox could replace in the work tree is refused, even with .git kept read-only", () => {
    const top = tempDir();
    git(top, "init", "-q");
    git(top, "update-index", "--add", "--cacheinfo", "160000,0123456789abcdef0123456789abcdef01234567,sub");
    const sandbox = writes([top], [join(top, ".git")]);
    expect(refusal(["git", "status"], top, sandbox)).toBe(
      `submodule sub: ${top}/sub/.git is inside ${top}, which the sandbox can write, and git would obey the git directory found there`,
    );
    expect(refusal(["git", "status"], top, writes([top], [join(top, ".git"), join(top, "sub")]))).toBeNull();
  });

  test("global configuration the sandbox could write (a HOME inside a writable root) is refused", () => {
    const home = tempDir();
    const repo = tempDir();
    git(repo, "init", "-q");
    expect(refusal(["git", "status"], repo, writes([home]), { HOME: home })).toBe(`${home}/.config/git/config is inside ${home}, which the sandbox can write`);
    expect(preconditionRefusal(["touch"], { argv: ["touch"], workdir: repo, env: { HOME: home }, writes: writes([home]) })).toBeNull();
  });
});

describe("the environment of an escalated program", () => {
  const build = (requestEnv: Record<string, string>, passedByUser: string[] = []) =>
    escalationEnvironment({ serverEnv: { PATH: "/usr/bin:/bin", HOME: "/home/u", LANG: "C.UTF-8" }, requestEnv, passedByUser, workdir: "/w" });

  test("the server's environment, plus presentation variables from the request, and PWD", () => {
    const env = build({ LANG: "de_DE.UTF-8", LC_MESSAGES: "fr_FR@euro", LANGUAGE: "de:en", TERM: "xterm-256color", COLUMNS: "120", LINES: "40", NO_COLOR: "1", CLICOLOR: "0", TZ: "Europe/Paris" });
    expect(env).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/home/u",
      LANG: "de_DE.UTF-8",
      LC_MESSAGES: "fr_FR@euro",
      LANGUAGE: "de:en",
      TERM: "xterm-256color",
      COLUMNS: "120",
      LINES: "40",
      NO_COLOR: "1",
      CLICOLOR: "0",
      TZ: "Europe/Paris",
      PWD: "/w",
    });
  });

  test("nothing that chooses code or files: LD_*, GIT_*, BASH_ENV, ENV, BASH_FUNC_*, PATH, PYTHON*, NODE_OPTIONS, PERL5*, RUBY*", () => {
    const hostile = {
      LD_PRELOAD: "/w/p.so",
      LD_LIBRARY_PATH: "/w",
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "core.fsmonitor",
      GIT_DIR: "/w/crafted",
      BASH_ENV: "/w/rc",
      ENV: "/w/rc",
      "BASH_FUNC_git%%": "() { touch /x; }",
      PATH: "/w/bin:/usr/bin",
      HOME: "/w",
      PYTHONPATH: "/w",
      NODE_OPTIONS: "--require /w/x.js",
      PERL5OPT: "-M/w/x",
      RUBYOPT: "-r/w/x",
      BUN_OPTIONS: "--preload /w/x.js",
    };
    expect(build(hostile)).toEqual({ PATH: "/usr/bin:/bin", HOME: "/home/u", LANG: "C.UTF-8", PWD: "/w" });
  });

  test("presentation variables whose value could name a file are dropped", () => {
    const env = build({ LANG: "/w/locale", LC_ALL: "../../w/x", LANGUAGE: "de:/w/x", TERM: "../w/term", TZ: "/w/zone", COLUMNS: "80; rm", NO_COLOR: "$(x)" });
    expect(env).toEqual({ PATH: "/usr/bin:/bin", HOME: "/home/u", LANG: "C.UTF-8", PWD: "/w" });
    expect(build({ TZ: ":../../w/zone" }).TZ).toBeUndefined();
    expect(build({ TZ: "<+03>-3" }).TZ).toBe("<+03>-3");
  });

  test("--escalation-env names pass as they are; inherited object keys never do", () => {
    expect(build({ GIT_DIR: "/w/crafted", FOO: "bar" }, ["GIT_DIR", "MISSING"])).toMatchObject({ GIT_DIR: "/w/crafted" });
    expect(build({}, ["constructor", "toString"])).toEqual({ PATH: "/usr/bin:/bin", HOME: "/home/u", LANG: "C.UTF-8", PWD: "/w" });
  });
});

describe("the decider", () => {
  function decider(rules: string, sandboxWritableRoots: string[], answers: ApprovalAnswer[] = []) {
    const dir = tempDir();
    writeFileSync(join(dir, "r.rules"), rules);
    const asked: string[] = [];
    const logged: string[] = [];
    const decide = createExecDecider({
      policy: loadPolicyFromFiles([join(dir, "r.rules")]),
      preserveProgramPaths: false,
      sandboxWritableRoots,
      serverEnv: { PATH: "/usr/bin" },
      ask: async (message) => {
        asked.push(message);
        return answers.shift() ?? { kind: "accept" };
      },
      log: (message) => logged.push(message),
    });
    return { decide, asked, logged };
  }

  function request(file: string, argv: string[], workdir: string, env: Record<string, string> = {}): ExecRequest {
    return { file, argv, workdir, env };
  }

  test("an escalation carries the name the rules matched as argv[0], never the sandbox's", async () => {
    const { decide } = decider('prefix_rule(pattern=["env"], decision="allow")\n', []);
    const decision = await decide(request("/usr/bin/env", ["env-clone", "-i"], "/"), resolved("/", "/usr/bin/env"));
    expect(decision).toEqual({ kind: "escalate", argv0: "env", env: { PATH: "/usr/bin", PWD: "/" }, workdir: "/" });
  });

  test("it runs in the real directory that was checked, not through a link the sandbox could swap later", async () => {
    const workspace = tempDir();
    const real = tempDir();
    symlinkSync(real, join(workspace, "here"));
    const { decide } = decider('prefix_rule(pattern=["env"], decision="allow")\n', [workspace]);
    const decision = await decide(request("/usr/bin/env", ["env"], join(workspace, "here")), resolved("/", "/usr/bin/env"));
    expect(decision).toMatchObject({ kind: "escalate", workdir: real, env: { PWD: real } });
  });

  test("the question names the file that would run; a refused escalation runs inside and says why", async () => {
    const workspace = tempDir();
    symlinkSync("/usr/bin/env", join(workspace, "git"));
    const { decide, asked, logged } = decider('prefix_rule(pattern=["git", "status"], decision="prompt")\n', [workspace]);
    const decision = await decide(request(join(workspace, "git"), ["git", "status"], workspace), resolved(workspace, "git"));
    expect(asked).toEqual([`Allow agent to run \`${realpathSync("/usr/bin/env")} status\` in \`${workspace}\`?`]);
    expect(decision).toEqual({ kind: "run" });
    expect(logged).toEqual([`not escalating ${workspace}/git (a rule allows it): ${workspace}/git is inside ${workspace}, which the sandbox can write; it runs inside the sandbox`]);
  });

  test("without a sandbox an allowed program runs in place, keeping the command's environment (there is no outside)", async () => {
    const workspace = tempDir();
    writeFileSync(join(workspace, "tool"), "");
    const dir = tempDir();
    writeFileSync(join(dir, "r.rules"), 'prefix_rule(pattern=["tool"], decision="allow")\n');
    const decide = createExecDecider({
      policy: loadPolicyFromFiles([join(dir, "r.rules")]),
      preserveProgramPaths: false,
      sandboxWritableRoots: "everything",
      serverEnv: {},
      ask: async () => ({ kind: "accept" }),
      log: () => {},
    });
    expect(await decide(request(join(workspace, "tool"), ["tool"], workspace), resolved(workspace, "tool"))).toEqual({ kind: "run" });
  });
});
