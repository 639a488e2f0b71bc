// The three decisions end to end against the real patched Bash and a real
// wrapper (ours compiled, and the reference's), with deterministic deciders
// in this process instead of the rules engine.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ExecRequest } from "../../src/escalate/protocol.ts";
import type { ExecDecider, ExecDecision } from "../../src/escalate/server.ts";
import { SocketHub } from "../../src/escalate/socket-hub.ts";
import { runShellCall, type ExecResult } from "../../src/exec/run.ts";
import { isolatedEnv, OUR_BASH, PATCHED_BASH, REFERENCE_WRAPPER, ROOT, SERVER_BINARY, tempDir, WRAPPER_BINARY } from "../support.ts";

const hub = new SocketHub();
const env = isolatedEnv();

/** Escalates with `argv0` and the test's own environment (plus `extra`), as a decider would choose them. */
function escalate(argv0: string, extra: Record<string, string> = {}): ExecDecision {
  return { kind: "escalate", argv0, env: { ...env, ...extra } };
}

/** Escalates or denies programs by basename; everything else runs in place. */
function decider(rules: Record<string, ExecDecision>, seen: ExecRequest[] = []): ExecDecider {
  return async (request) => {
    seen.push(request);
    return rules[request.file.slice(request.file.lastIndexOf("/") + 1)] ?? { kind: "run" };
  };
}

/** Our own Bash, which speaks the protocol itself (the wrapper is only its fallback). */

function run(
  command: string,
  decide: ExecDecider,
  options: { wrapper?: string; bash?: string; workdir?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return runShellCall({
    command,
    workdir: options.workdir ?? "/tmp",
    login: false,
    timeoutMs: options.timeoutMs ?? 10_000,
    bashPath: options.bash ?? PATCHED_BASH,
    wrapperPath: options.wrapper ?? WRAPPER_BINARY,
    env,
    decide,
    mediate: () => Promise.reject(new Error("no exec is mediated without a launcher")),
    hub,
    execLauncher: SERVER_BINARY,
    launch: (bashArgv, bashEnv) => ({ file: bashArgv[0]!, argv0: bashArgv[0]!, args: bashArgv.slice(1), env: bashEnv, reportFd: null, execListenerFd: null }),
  });
}

const CLIENTS = [
  ["our wrapper", WRAPPER_BINARY, PATCHED_BASH],
  ["the reference's wrapper", REFERENCE_WRAPPER, PATCHED_BASH],
  ["our Bash's own client", WRAPPER_BINARY, OUR_BASH],
] as const;

for (const [name, wrapper, bash] of CLIENTS) {
  describe(`decisions with ${name}`, () => {
    test("Run: the program runs in place and every exec is asked about", async () => {
      const seen: ExecRequest[] = [];
      const result = await run("/bin/echo hi | /usr/bin/tr a-z A-Z", decider({}, seen), { wrapper, bash });
      expect(result).toMatchObject({ exit_code: 0, output: "HI\n", timed_out: false });
      expect(seen.map((request) => request.file).sort()).toEqual(["/bin/echo", "/usr/bin/tr"]);
      expect(seen[0]!.workdir).toBe("/tmp");
      expect(seen[0]!.env.CODEX_ESCALATE_SOCKET).toBeUndefined();
      expect(seen[0]!.env.BASH_EXEC_WRAPPER).toBeUndefined();
    });

    test("Escalate: the server runs it; output and exit code reach the caller", async () => {
      const result = await run("/bin/sh -c 'echo out; echo err >&2; exit 7'; echo after=$?", decider({ sh: escalate("sh") }), { wrapper, bash });
      expect(result.output).toBe("out\nerr\nafter=7\n");
      expect(result.exit_code).toBe(0);
    });

    test("Escalate: the decider's argv[0] and environment arrive, the sandbox's do not; the working directory does", async () => {
      const dir = tempDir();
      const command = `cd ${dir} && GREETING=hello exec -a custom-name /bin/sh -c 'echo "$0 $GREETING $(pwd)"'`;
      const result = await run(command, decider({ sh: escalate("sh", { GREETING: "chosen" }) }), { wrapper, bash });
      expect(result).toMatchObject({ exit_code: 0, output: `sh chosen ${dir}\n` });
    });

    test("Escalate: the program reads the caller's stdin", async () => {
      const result = await run("echo piped | /usr/bin/wc -c", decider({ wc: escalate("wc") }), { wrapper, bash });
      expect(result.output.trim()).toBe("6");
    });

    test("Deny: the reason on stderr and exit status 1", async () => {
      const result = await run("/bin/rm -rf /nonexistent; echo status=$?", decider({ rm: { kind: "deny", reason: "Execution forbidden by policy" } }), { wrapper, bash });
      expect(result.output).toBe("Execution denied: Execution forbidden by policy\nstatus=1\n");
    });

    test("Deny without a reason", async () => {
      const result = await run("/bin/ls; echo status=$?", decider({ ls: { kind: "deny", reason: null } }), { wrapper, bash });
      expect(result.output).toBe("Execution denied\nstatus=1\n");
    });
  });
}

describe("what an escalation runs", () => {
  test("the file held when the exec was asked about, though its link is swapped before the decision comes", async () => {
    const dir = tempDir();
    const marker = join(tempDir(), "touched");
    symlinkSync("/bin/echo", join(dir, "prog"));
    const decide: ExecDecider = async (request) => {
      if (!request.file.endsWith("/prog")) return { kind: "run" };
      // The link changes while a human would be reading the question.
      rmSync(join(dir, "prog"));
      symlinkSync("/usr/bin/touch", join(dir, "prog"));
      return escalate("prog");
    };
    const result = await run(`./prog ${marker}`, decide, { workdir: dir });
    expect(result).toMatchObject({ exit_code: 0, output: `${marker}\n` });
    expect(existsSync(marker)).toBe(false);
  });

  test("the program gets the caller's descriptors and nothing else of ours", async () => {
    const result = await run("/bin/ls /proc/self/fd", decider({ ls: escalate("ls") }));
    // 3 is the directory ls itself opened to list.
    expect(result.output).toBe("0\n1\n2\n3\n");
  });

  test("a script runs too (its interpreter reads it through /dev/fd)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "script"), '#!/bin/sh\necho "script ran with $1"\n');
    chmodSync(join(dir, "script"), 0o755);
    const result = await run("./script arg", decider({ script: escalate("script") }), { workdir: dir });
    expect(result).toMatchObject({ exit_code: 0, output: "script ran with arg\n" });
  });

  test("the launcher role runs nothing once its parent is not the server that asked", async () => {
    const marker = join(tempDir(), "touched");
    const child = Bun.spawn({
      cmd: [SERVER_BINARY, String(process.pid + 1_000_000), "0", "", "0", "/usr/bin/touch", marker],
      argv0: "codex-escalate-exec",
      stdio: ["ignore", "ignore", "pipe"],
    });
    expect(await child.exited).toBe(128 + 9);
    expect(existsSync(marker)).toBe(false);
  });
});

/**
 * The interpreter itself, not a version manager's shim: a shim is a script
 * whose own dozens of execs each go through the wrapper, and whose helpers
 * were seen to lose the socket variable here (a flaky "(unset)" from the
 * wrapper, once in nine runs of this file).
 */
const PYTHON = ["/usr/bin/python3", "/usr/local/bin/python3"].find((path) => existsSync(path)) ?? "python3";

describe("the server side keeps serving whatever a sandboxed process sends", () => {
  // A hostile program inside the shell, speaking to the inherited socket.
  const HOSTILE = String.raw`
import os, socket, struct, sys, array
fd = int(os.environ["CODEX_ESCALATE_SOCKET"])
dgram = socket.socket(fileno=os.dup(fd))
def session():
    ours, theirs = socket.socketpair()
    dgram.sendmsg([b"\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [theirs.fileno()]))])
    theirs.close()
    return ours
mode = sys.argv[1]
s = session()
if mode == "garbage":
    s.sendall(struct.pack("<I", 11) + b"not json!!!")
elif mode == "huge":
    s.sendall(struct.pack("<I", 0xFFFFFFFF) + b"x" * 1000)
elif mode == "half":
    s.sendall(struct.pack("<I", 100) + b'{"file"')
    # and never finish: the server must not wait for us
s.settimeout(5)
try:
    print(mode, "reply:", len(s.recv(100)))
except Exception as e:
    print(mode, "reply:", type(e).__name__)
`;

  for (const mode of ["garbage", "huge", "half"]) {
    test(`${mode} frame: that session is closed, the next exec works`, async () => {
      const dir = tempDir();
      writeFileSync(join(dir, "hostile.py"), HOSTILE);
      const seen: ExecRequest[] = [];
      const timeout = mode === "half" ? "timeout 1 " : "";
      const result = await run(`${timeout}${PYTHON} hostile.py ${mode}; /bin/echo still-serving`, decider({}, seen), { workdir: dir });
      if (mode !== "half") expect(result.output).toContain(`${mode} reply: 0`);
      expect(result.output).toEndWith("still-serving\n");
      expect(seen.some((request) => request.file === "/bin/echo")).toBe(true);
    });
  }
});

afterAll(() => {
  // Nothing to close: the hub's worker is unref'd and dies with the test process.
});
