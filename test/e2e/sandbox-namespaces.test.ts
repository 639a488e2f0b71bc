// The namespace sandbox, end to end (our binary, our patched Bash, the real
// kernel), attacked from the model's side and judged from outside: canary
// files the sandbox cannot write, a listener, live outside processes. Then
// the fallback (Landlock + seccomp only), forced with its test switch.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Subprocess } from "bun";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type ExecResultJson, isolatedEnv, processesWith, SERVER_BINARY, setSandbox, shell, waitUntil } from "../support.ts";

const PYTHON = "/usr/bin/python3";
const DISABLE_NAMESPACES = "CODEX_EXEC_DISABLE_NAMESPACES";

// /var/tmp: outside /tmp, which workspace-write makes writable.
const base = realpathSync(mkdtempSync(join(existsSync("/var/tmp") ? "/var/tmp" : "/tmp", "codex-ns-")));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let dirCount = 0;
function freshDir(name: string): string {
  const dir = join(base, `${name}-${++dirCount}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function sq(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

function workspaceWrite(writableRoots: string[] = []): Record<string, unknown> {
  return { type: "workspace-write", writable_roots: writableRoots, network_access: false, exclude_tmpdir_env_var: true, exclude_slash_tmp: false };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return ""; // Exited meanwhile.
  }
}

let markerCount = 0;
/** A `sleep` argument no other process has. */
function marker(): string {
  return `2000.${process.pid}${++markerCount}${Math.floor(Math.random() * 1e6)}`;
}

/**
 * Every way out of the call's process group we know of, each process
 * sleeping on a `tag` argument and holding none of the call's descriptors (a
 * shell drops them before its `sleep` starts, so the wrapper still had its
 * socket for the shell). Prints `running=3` once all three run.
 */
function escapers(tag: string): string {
  const quiet = "exec >/dev/null 2>&1 3>&-";
  return [
    `setsid sh -c '${quiet}; exec sleep ${tag}1' &`,
    `(setsid sh -c '${quiet}; sleep ${tag}2 &' &)`,
    `nohup setsid sh -c '${quiet}; exec sleep ${tag}3' &`,
    `for i in $(seq 100); do [ "$(pgrep -fc '^sleep ${tag}')" -ge 3 ] && break; sleep 0.05; done`,
    `echo "running=$(pgrep -fc '^sleep ${tag}')"`,
  ].join("\n");
}

/** Runs escapers() with a fresh tag in a fresh workspace-write directory named `name`. */
async function runEscapers(client: Client, name: string): Promise<{ tag: string; result: ExecResultJson }> {
  const tag = marker();
  const workdir = freshDir(name);
  await setSandbox(client, workspaceWrite(), workdir);
  return { tag, result: await shell(client, { command: escapers(tag), workdir }) };
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}

describe("namespace sandbox", () => {
  let client: Client;
  let serverPid: number;
  beforeAll(async () => {
    const env = isolatedEnv();
    mkdirSync(join(env.CODEX_HOME!, "rules"));
    writeFileSync(join(env.CODEX_HOME!, "rules", "test.rules"), 'prefix_rule(pattern=["ln", "-s"], decision="allow")\n');
    client = await connect({ env });
    serverPid = (client.transport as StdioClientTransport).pid!;
  });
  afterAll(async () => {
    await client.close();
  });

  test("the shell runs in new user, mount, PID, IPC and network namespaces", async () => {
    const workdir = freshDir("ns");
    await setSandbox(client, workspaceWrite(), workdir);
    const kinds = ["user", "mnt", "pid", "ipc", "net"];
    const result = await shell(client, { command: kinds.map((kind) => `readlink /proc/self/ns/${kind}`).join("; "), workdir });
    const inside = result.output.trim().split("\n");
    expect(inside).toHaveLength(kinds.length);
    kinds.forEach((kind, i) => expect(inside[i]).not.toBe(readlinkSync(`/proc/self/ns/${kind}`)));
  });

  test("4. metadata outside the writable roots cannot change: chmod, chown, timestamps, xattrs", async () => {
    const workdir = freshDir("meta-project");
    const canary = join(freshDir("meta-outside"), "f");
    writeFileSync(canary, "canary\n", { mode: 0o644 });
    utimesSync(canary, new Date("2020-01-02T03:04:05Z"), new Date("2020-01-02T03:04:05Z"));
    const before = statSync(canary);
    await setSandbox(client, workspaceWrite(), workdir);
    const f = sq(canary);
    const result = await shell(client, {
      command: [
        `chmod 777 ${f} 2>/dev/null; echo chmod=$?`,
        `chown 12345:12345 ${f} 2>/dev/null; echo chown=$?`,
        `touch -d 2001-01-01 ${f} 2>/dev/null; echo touch=$?`,
        `${PYTHON} -c "import os, sys; os.setxattr(sys.argv[1], 'user.codex', b'1')" ${f} 2>/dev/null; echo xattr=$?`,
        // The same inside the writable root works.
        "echo x > mine && chmod 600 mine && touch -d 2001-01-01 mine && echo inside-ok",
      ].join("\n"),
      workdir,
    });
    expect(result.output).toContain("chmod=1\nchown=1\ntouch=1\nxattr=1\ninside-ok\n");
    const after = statSync(canary);
    expect({ mode: after.mode, uid: after.uid, gid: after.gid, mtime: after.mtimeMs }).toEqual({
      mode: before.mode,
      uid: before.uid,
      gid: before.gid,
      mtime: before.mtimeMs,
    });
    const xattrs = Bun.spawnSync([PYTHON, "-c", "import os, sys; print(os.listxattr(sys.argv[1]))", canary]).stdout.toString();
    expect(xattrs).toBe("[]\n");
    expect(statSync(join(workdir, "mine")).mode & 0o777).toBe(0o600);
  });

  test("5. device nodes: none can be made in a writable root, and one placed there cannot be opened", async () => {
    const workdir = freshDir("dev-project");
    const planted = join(workdir, "planted-null");
    expect(Bun.spawnSync(["mknod", planted, "c", "1", "3"]).exitCode).toBe(0);
    await setSandbox(client, workspaceWrite(), workdir);
    const result = await shell(client, {
      command: "mknod random c 1 9 2>/dev/null; echo mknod=$?; mknod blk b 7 0 2>/dev/null; echo mknod-block=$?; echo x > planted-null; echo open=$?; echo x > /dev/null && echo devnull-ok",
      workdir,
    });
    expect(result.output).toContain("mknod=1\nmknod-block=1\n");
    expect(result.output).toContain("open=1\ndevnull-ok\n");
    expect(existsSync(join(workdir, "random"))).toBe(false);
    expect(existsSync(join(workdir, "blk"))).toBe(false);
  });

  describe("6. IPC with the outside, network off", () => {
    let listener: Subprocess<"ignore", "pipe", "inherit">;
    const received: string[] = [];
    const socketDir = freshDir("ipc-outside");
    const socketPath = join(socketDir, "dgram.sock");
    const abstractName = `codex-ns-test-${process.pid}`;
    beforeAll(async () => {
      // Prints every datagram it gets, on a path socket and an abstract one.
      const script = [
        "import select, socket, sys",
        "d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind(sys.argv[1])",
        "a = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); a.bind('\\0' + sys.argv[2])",
        "print('ready', flush=True)",
        "while True:",
        "    for s in select.select([d, a], [], [])[0]: print(s.recv(200).decode(errors='replace'), flush=True)",
      ].join("\n");
      listener = Bun.spawn([PYTHON, "-c", script, socketPath, abstractName], { stdout: "pipe", stderr: "inherit" });
      const reader = listener.stdout.getReader();
      const decoder = new TextDecoder();
      let ready: () => void = () => {};
      const isReady = new Promise<void>((resolve) => {
        ready = resolve;
      });
      void (async () => {
        let pending = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          pending += decoder.decode(value);
          const lines = pending.split("\n");
          pending = lines.pop() ?? "";
          for (const line of lines) line === "ready" ? ready() : received.push(line);
        }
      })();
      await isReady;
    });
    afterAll(() => listener.kill("SIGKILL"));

    test("no datagram reaches an outside path or abstract name, not even through the inherited escalation socket", async () => {
      const workdir = freshDir("ipc-project");
      await setSandbox(client, workspaceWrite(), workdir);
      const attack = [
        "import os, socket, sys",
        "path, name = sys.argv[1], '\\0' + sys.argv[2]",
        "for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):",
        "    for target in (path, name):",
        "        try:",
        "            socket.socket(socket.AF_UNIX, kind).sendto(b'leak-new-socket', target); print('sent')",
        "        except OSError as e: print('refused', e.errno)",
        "inherited = socket.socket(fileno=int(os.environ['CODEX_ESCALATE_SOCKET']))",
        "for target in (path, name):",
        "    try: inherited.sendmsg([b'leak-escalation-socket'], [], 0, target); print('sendmsg returned')",
        "    except OSError as e: print('refused', e.errno)",
      ].join("\n");
      const result = await shell(client, { command: `${PYTHON} -c ${sq(attack)} ${sq(socketPath)} ${sq(abstractName)}`, workdir });
      expect(result.output).toContain("refused 1\nrefused 1\nrefused 1\nrefused 1\n");
      // The listener works: a datagram from outside arrives, and it is the only one.
      const control = Bun.spawnSync([PYTHON, "-c", "import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'control', sys.argv[1])", socketPath]);
      expect(control.exitCode).toBe(0);
      expect(await waitUntil(() => received.includes("control"), 5_000)).toBe(true);
      expect(received).toEqual(["control"]);
    });

    test("SysV message queues outside are neither visible nor removable", async () => {
      const made = Bun.spawnSync(["ipcmk", "-Q"]).stdout.toString();
      const id = made.match(/(\d+)\s*$/)?.[1];
      expect(id).toBeDefined();
      try {
        const workdir = freshDir("sysv-project");
        await setSandbox(client, workspaceWrite(), workdir);
        const result = await shell(client, { command: `ipcs -q | grep -cw ${id}; ipcrm -q ${id} 2>/dev/null; echo rm=$?`, workdir });
        expect(result.output).toBe("0\nrm=1\n");
        expect(Bun.spawnSync(["ipcs", "-q", "-i", id!]).exitCode).toBe(0);
      } finally {
        Bun.spawnSync(["ipcrm", "-q", id!]);
      }
    });
  });

  test("7. signals: neither the server, the shell's parent, nor an outside process can be killed", async () => {
    const tag = marker();
    const outsider = Bun.spawn(["sleep", tag], { stdio: ["ignore", "ignore", "ignore"] });
    try {
      const workdir = freshDir("signals");
      await setSandbox(client, workspaceWrite(), workdir);
      const result = await shell(client, {
        command: `kill -9 ${outsider.pid} 2>/dev/null; echo outsider=$?; kill -9 ${serverPid} 2>/dev/null; echo server=$?; kill -9 $PPID; echo done`,
        workdir,
      });
      expect(result.output).toContain("outsider=1\nserver=1\n");
      expect(result.output).toEndWith("done\n");
      // A kill that worked would have ended them at once; both still run after the call.
      expect(await Promise.race([outsider.exited.then(() => "exited"), Bun.sleep(300).then(() => "alive")])).toBe("alive");
      expect(() => process.kill(serverPid, 0)).not.toThrow();
      expect((await shell(client, { command: "echo still-serving", workdir })).output).toBe("still-serving\n");
    } finally {
      outsider.kill("SIGKILL");
    }
  });

  test("the machine's terminals are out of reach: a pseudo-terminal open outside is not there inside", async () => {
    const holder = Bun.spawn([PYTHON, "-c", "import os, pty, sys; m, s = pty.openpty(); print(os.ttyname(s), flush=True); sys.stdin.read()"], {
      stdin: "pipe",
      stdout: "pipe",
    });
    try {
      const reader = holder.stdout.getReader();
      const { value } = await reader.read();
      const terminal = new TextDecoder().decode(value).trim();
      expect(terminal).toMatch(/^\/dev\/pts\/\d+$/);
      expect(existsSync(terminal)).toBe(true);
      const workdir = freshDir("terminals");
      await setSandbox(client, workspaceWrite(), workdir);
      const result = await shell(client, { command: `test -e ${terminal} && echo visible || echo hidden; cat ${terminal} 2>/dev/null; echo read=$?`, workdir });
      expect(result.output).toBe("hidden\nread=1\n");
    } finally {
      holder.kill("SIGKILL");
    }
  });

  test("8. nothing started by a call outlives it: setsid, double fork, nohup, descriptors closed", async () => {
    const { tag, result } = await runEscapers(client, "outlive");
    expect(result.output).toBe("running=3\n");
    const left = processesWith(tag);
    killAll(left);
    expect(left).toEqual([]);
  });

  test("8. the server SIGKILLed mid-call: every process of the call's sandbox dies with it", async () => {
    const tag = marker();
    const doomed = await connect({ env: isolatedEnv() });
    const doomedPid = (doomed.transport as StdioClientTransport).pid!;
    const workdir = freshDir("server-killed");
    await setSandbox(doomed, workspaceWrite(), workdir);
    const sleeping = () => processesWith(tag).filter((pid) => commandLine(pid).startsWith("sleep\0"));
    const call = shell(doomed, { command: `${escapers(tag)}\nsleep ${tag}4`, workdir, timeout_ms: 60_000 }).catch(() => null);
    try {
      expect(await waitUntil(() => sleeping().length === 4, 10_000)).toBe(true);
      process.kill(doomedPid, "SIGKILL");
      expect(await waitUntil(() => processesWith(tag).length === 0, 5_000)).toBe(true);
    } finally {
      killAll(processesWith(tag));
      await call;
    }
  });

  test("protected paths: .git, .codex, .agents and a gitdir: target stay read-only beneath writable roots", async () => {
    const project = freshDir("protected");
    const worktree = freshDir("worktree");
    expect(Bun.spawnSync(["git", "init", "-q", project]).exitCode).toBe(0);
    mkdirSync(join(project, ".codex"));
    mkdirSync(join(project, ".agents"));
    const gitdir = join(project, "gitdirs", "wt");
    mkdirSync(gitdir, { recursive: true });
    writeFileSync(join(gitdir, "config"), "[core]\n");
    writeFileSync(join(worktree, ".git"), `gitdir: ${gitdir}\n`);
    const configBefore = readFileSync(join(project, ".git", "config"), "utf8");
    const outsideCanary = join(freshDir("protected-outside"), "fsmonitor-ran");
    await setSandbox(client, workspaceWrite([worktree]), project);
    const result = await shell(client, {
      command: [
        "echo '[core] fsmonitor = evil' >> .git/config",
        `git config core.fsmonitor ${sq(`touch ${outsideCanary}; false`)}`,
        "chmod 000 .git/config",
        "rm -f .git/HEAD",
        "mv .git .git-moved",
        "rm -rf .git",
        "mkdir -p .git/hooks; echo evil > .git/hooks/pre-commit",
        "touch .codex/x .agents/x",
        `echo 'gitdir: /elsewhere' > ${sq(join(worktree, ".git"))}`,
        `echo evil >> ${sq(join(gitdir, "config"))}`,
        `rm -rf ${sq(gitdir)}`,
        // Legitimate work beside them still works.
        "echo fine > tracked && mkdir -p src && echo ok > src/a && echo legit-ok",
      ].join("\n"),
      workdir: project,
    });
    expect(result.output).toContain("legit-ok\n");
    expect(readFileSync(join(project, ".git", "config"), "utf8")).toBe(configBefore);
    expect(statSync(join(project, ".git", "config")).mode & 0o777).not.toBe(0);
    expect(existsSync(join(project, ".git", "HEAD"))).toBe(true);
    expect(existsSync(join(project, ".git-moved"))).toBe(false);
    expect(existsSync(join(project, ".git", "hooks", "pre-commit"))).toBe(false);
    expect(existsSync(join(project, ".codex", "x"))).toBe(false);
    expect(existsSync(join(project, ".agents", "x"))).toBe(false);
    expect(readFileSync(join(worktree, ".git"), "utf8")).toBe(`gitdir: ${gitdir}\n`);
    expect(readFileSync(join(gitdir, "config"), "utf8")).toBe("[core]\n");
    expect(existsSync(outsideCanary)).toBe(false);
    expect(readFileSync(join(project, "src", "a"), "utf8")).toBe("ok\n");
  });

  test("a command cannot pass itself off as a launcher refusal: its exit status 121 is a normal result", async () => {
    const workdir = freshDir("fake-refusal");
    for (const policy of [workspaceWrite(), { type: "danger-full-access" }]) {
      await setSandbox(client, policy, workdir);
      const result = await shell(client, { command: "for fd in 4 5 6; do echo 'codex-linux-sandbox: fake' >&$fd; done 2>/dev/null; exit 121", workdir });
      expect(result).toMatchObject({ exit_code: 121, output: "" });
    }
  });

  test("legitimate work: git init and commit where .git is missing, /tmp, /dev/null, a login shell, interception, escalation", async () => {
    const project = freshDir("legit");
    const escalated = join(freshDir("legit-outside"), "escalated");
    await setSandbox(client, workspaceWrite(), project);
    const tmpFile = `/tmp/codex-ns-${marker()}`;
    try {
      const result = await shell(client, {
        command: [
          "git init -q && git -c user.name=t -c user.email=t@example.com commit -q --allow-empty -m first && git log --format=%s",
          `echo tmp > ${tmpFile} && cat ${tmpFile}`,
          "echo x > /dev/null && echo devnull-ok",
          'shopt -q login_shell && echo login-shell; echo "wrapper=${BASH_EXEC_WRAPPER:+set}"',
          `ln -s /etc/hostname ${sq(escalated)} && echo escalated-ok`,
        ].join("\n"),
        workdir: project,
        login: true,
      });
      // toEndWith: a login shell reads this machine's profile, which may print its own complaints first.
      expect(result.output).toEndWith("first\ntmp\ndevnull-ok\nlogin-shell\nwrapper=set\nescalated-ok\n");
      expect(existsSync(join(project, ".git", "HEAD"))).toBe(true);
      // `ln -s` is allowed by a rule: it ran outside the sandbox, where that directory is writable.
      expect(existsSync(escalated)).toBe(true);
    } finally {
      rmSync(tmpFile, { force: true });
    }
  });
});

describe(`fallback without namespaces (${DISABLE_NAMESPACES}=1)`, () => {
  let client: Client;
  let stderr = "";
  beforeAll(async () => {
    const transport = new StdioClientTransport({
      command: SERVER_BINARY,
      args: [],
      env: isolatedEnv({ [DISABLE_NAMESPACES]: "1" }),
      stderr: "pipe",
    });
    transport.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const { Client: McpClient } = await import("@modelcontextprotocol/sdk/client/index.js");
    client = new McpClient({ name: "codex-ns-fallback-test", version: "1.0.0" }, { capabilities: {} });
    await client.connect(transport);
  });
  afterAll(async () => {
    await client.close();
  });

  test("warns once at start, naming what is lost; Landlock and seccomp still confine; no namespace of its own", async () => {
    const workdir = freshDir("fallback");
    const outside = join(freshDir("fallback-outside"), "f");
    await setSandbox(client, workspaceWrite(), workdir);
    const result = await shell(client, {
      command: `readlink /proc/self/ns/user /proc/self/ns/mnt; touch ${sq(outside)}; echo touch=$?; echo x > inside && echo inside-ok; grep '^Seccomp:' /proc/self/status`,
      workdir,
    });
    expect(result.output).toBe(
      `${readlinkSync("/proc/self/ns/user")}\n${readlinkSync("/proc/self/ns/mnt")}\n` +
        `touch: cannot touch '${outside}': Permission denied\ntouch=1\ninside-ok\nSeccomp:\t2\n`,
    );
    expect(existsSync(outside)).toBe(false);
    await shell(client, { command: "true", workdir });
    expect(stderr.match(/no namespace sandbox/g)).toHaveLength(1);
    expect(stderr).toContain(`${DISABLE_NAMESPACES}=1`);
    expect(stderr).toContain(".git, .codex, .agents");
    expect(stderr).toContain("outlive the call");
  });

  test("Landlock's signal scope still keeps outside processes and the server safe from kill", async () => {
    const tag = marker();
    const outsider = Bun.spawn(["sleep", tag], { stdio: ["ignore", "ignore", "ignore"] });
    try {
      const workdir = freshDir("fallback-signals");
      await setSandbox(client, workspaceWrite(), workdir);
      const serverPid = (client.transport as StdioClientTransport).pid!;
      const result = await shell(client, { command: `kill -9 ${outsider.pid} ${serverPid} $PPID 2>/dev/null; echo kill=$?`, workdir });
      expect(result.output).toBe("kill=1\n");
      expect(await Promise.race([outsider.exited.then(() => "exited"), Bun.sleep(300).then(() => "alive")])).toBe("alive");
      expect((await shell(client, { command: "echo still-serving", workdir })).output).toBe("still-serving\n");
    } finally {
      outsider.kill("SIGKILL");
    }
  });

  test("what it loses is real: a process that leaves the group and its descriptors outlives the call", async () => {
    const { tag, result } = await runEscapers(client, "fallback-outlive");
    const survivors = processesWith(tag);
    killAll(survivors);
    expect(result.output).toBe("running=3\n");
    expect(survivors.length).toBeGreaterThan(0);
  });
});

test("doctor reports the namespace sandbox, and its absence as a warning naming the losses", () => {
  const ok = Bun.spawnSync([SERVER_BINARY, "doctor"], { env: isolatedEnv() }).stdout.toString();
  expect(ok).toMatch(/^ok +namespaces +user, mount, PID, IPC and network namespaces/m);
  const forced = Bun.spawnSync([SERVER_BINARY, "doctor"], { env: isolatedEnv({ [DISABLE_NAMESPACES]: "1" }) });
  expect(forced.stdout.toString()).toMatch(/^warn +namespaces +unavailable \(CODEX_EXEC_DISABLE_NAMESPACES=1\); Landlock \+ seccomp only/m);
  expect(forced.exitCode).toBe(0);
});
