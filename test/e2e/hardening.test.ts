// The "Hardening" issue, point by point, against the compiled server over MCP:
// timeouts, cancellation, shutdown, output, concurrency, hostile input from
// inside the sandbox and bad input from the client. Every check looks at what
// really happened (/proc for processes, descriptors and memory), not only at
// what the command printed.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Subprocess } from "bun";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, isolatedEnv, processesWith, restartIfLost, SERVER_BINARY, shell, tempDir, waitUntil } from "../support.ts";

if (process.platform !== "linux") throw new Error("these tests read /proc");

/**
 * Room for the heaviest calls (1 GB of output, 1 000 execs) on a loaded
 * 2-core machine, where they took 20-30 s with a load average of 15. These
 * tests judge correctness and memory; speed is for `npm run bench`.
 */
const LOADED_MACHINE_MS = 240_000;

/** A real interpreter, not a pyenv shim (a shim is a script that runs more programs). */
const PYTHON = ["/usr/bin/python3", "/usr/local/bin/python3"].find((path) => existsSync(path)) ?? Bun.which("python3")!;

// `sleep` and `sh` are escalated (run outside the sandbox, by the server);
// `git --version` needs an approval; `ls /intercepted-probe` is refused, which
// proves that an exec went through the server and got its answer.
const RULES = `
prefix_rule(pattern=["sleep"])
prefix_rule(pattern=["sh"])
prefix_rule(pattern=["git", "--version"], decision="prompt")
prefix_rule(pattern=["ls", "/intercepted-probe"], decision="forbidden")
`;
const PROBE = "ls /intercepted-probe";
const PROBE_DENIED = "Execution denied: Execution forbidden by policy\n";

function rulesEnv(): Record<string, string> {
  const env = isolatedEnv();
  mkdirSync(join(env.CODEX_HOME!, "rules"));
  writeFileSync(join(env.CODEX_HOME!, "rules", "hardening.rules"), RULES);
  return env;
}

/** Approval questions wait for `release()`; `asked` resolves when one arrives. */
class Approvals {
  private pending: (() => void)[] = [];
  private onAsked: (() => void)[] = [];
  count = 0;
  /** Answer automatically after this long, when set. */
  autoAnswerMs: number | null = 0;

  install(client: Client): void {
    client.setRequestHandler(ElicitRequestSchema, async () => {
      this.count++;
      this.onAsked.splice(0).forEach((resolve) => resolve());
      await new Promise<void>((resolve) => {
        if (this.autoAnswerMs === null) this.pending.push(resolve);
        else setTimeout(resolve, this.autoAnswerMs);
      });
      return { action: "accept" };
    });
  }

  asked(): Promise<void> {
    return new Promise((resolve) => this.onAsked.push(resolve));
  }

  release(): void {
    this.pending.splice(0).forEach((resolve) => resolve());
  }
}

interface TestServer {
  client: Client;
  pid: number;
  approvals: Approvals;
  /** The fewest descriptors the server was seen holding between calls. */
  idleFds: number;
}

async function startServer(): Promise<TestServer> {
  const client = await connect({ env: rulesEnv() });
  const approvals = new Approvals();
  approvals.install(client);
  const pid = (client.transport as StdioClientTransport).pid!;
  return { client, pid, approvals, idleFds: fdCount(pid) };
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A VmRSS / VmHWM figure of /proc/<pid>/status, in MB. */
function memoryMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return Number(match![1]) / 1024;
}

/** A process seen a moment ago may have exited (or exec'd) since. */
function killIfAlive(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}

/** Command lines of `tag`'s processes still alive after up to `timeoutMs`: none, we expect. */
async function survivors(tag: string, timeoutMs: number): Promise<string[]> {
  await waitUntil(() => processesWith(tag).length === 0, timeoutMs);
  return processesWith(tag).map((pid) => {
    try {
      return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")}`;
    } catch {
      return `${pid}: (exited)`;
    }
  });
}

/** The server closes a call's descriptors through its socket worker, a moment after the result. */
/**
 * The descriptor count once the previous test's sessions have finished
 * closing (the socket worker closes them asynchronously): unchanged for 300 ms.
 */
async function quietFdCount(pid: number): Promise<number> {
  let count = fdCount(pid);
  for (let stableSince = performance.now(); performance.now() - stableSince < 300; ) {
    await Bun.sleep(20);
    const now = fdCount(pid);
    if (now !== count) {
      count = now;
      stableSince = performance.now();
    }
  }
  return count;
}

async function settledFds(pid: number, expected: number): Promise<string[]> {
  await waitUntil(() => fdCount(pid) === expected, 15_000);
  // What they are, so that a failure shows what was kept.
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return "(closed)";
    }
  });
}

let markerCount = 0;
/**
 * A `sleep` argument no other process has: its command line identifies the
 * processes of one test. `sleep` accepts fractional seconds.
 */
function marker(): string {
  return `1000.${process.pid}${++markerCount}${Math.floor(Math.random() * 1e6)}`;
}

/**
 * A command that starts long-lived processes of every kind, each tagged with
 * `tag`: escalated ones (own process group), one whose grandchild leaves the
 * group with setsid, a sandboxed one that leaves it too, and a sandboxed one
 * that stays; then it blocks.
 */
function sleepers(tag: string): string {
  return [
    `sleep ${tag}1 &`,
    `sh -c 'setsid sleep ${tag}2 & sleep ${tag}3' &`,
    `setsid sleep ${tag}4 &`,
    `/usr/bin/env -S sleep ${tag}5 &`,
    `sleep ${tag}6`,
  ].join("\n");
}
const SLEEPERS = 6;

/** True once every sleeper of `tag` is a running `sleep` (not merely a wrapper or Bash mentioning it). */
function sleepersRunning(tag: string): boolean {
  const running = new Set<string>();
  for (const pid of processesWith(tag)) {
    try {
      const [program, argument] = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (program?.endsWith("sleep") === true && argument?.startsWith(tag) === true) running.add(argument);
    } catch {
      // Exited while we looked.
    }
  }
  return running.size === SLEEPERS;
}

let server: TestServer;
async function startShared(): Promise<void> {
  server = await startServer();
  // The first call starts the socket worker: counts taken after it are stable.
  await shell(server.client, { command: "true" });
  server.idleFds = fdCount(server.pid);
}
beforeAll(startShared);
restartIfLost(() => server?.client, startShared);
afterAll(async () => {
  await server.client.close();
});

describe("1. timeouts", () => {
  test("output so far, timed_out and 124 within 1 s of the deadline; nothing the call started survives", async () => {
    const tag = marker();
    const started = performance.now();
    const result = await shell(server.client, {
      command: `echo before; echo on-stderr >&2\n${sleepers(tag)}`,
      timeout_ms: 1_500,
    });
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ exit_code: 124, timed_out: true });
    expect(result.output).toContain("before\n");
    expect(result.output).toContain("on-stderr\n");
    expect(elapsed).toBeGreaterThanOrEqual(1_500);
    expect(elapsed).toBeLessThan(2_500);
    expect(await survivors(tag, 500)).toEqual([]);
  });

  test("Bash exiting with a job holding the output: returned after the grace period, job killed, no descriptor kept", async () => {
    const before = await quietFdCount(server.pid);
    const tag = marker();
    const started = performance.now();
    const result = await shell(server.client, { command: `echo hi; /usr/bin/env -S sleep ${tag}1 & sleep ${tag}2 & echo bye` });
    expect(result).toMatchObject({ exit_code: 0, output: "hi\nbye\n", timed_out: false });
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(await survivors(tag, 500)).toEqual([]);
    expect(await settledFds(server.pid, before)).toHaveLength(before);
  });

  test("the stopwatch stops while an approval question is open", async () => {
    server.approvals.autoAnswerMs = 1_500;
    try {
      const answered = await shell(server.client, { command: "git --version", timeout_ms: 1_000 });
      expect(answered).toMatchObject({ exit_code: 0, timed_out: false });
      expect(answered.output).toStartWith("git version");
      // It runs again once the question is answered: 1 s of the command's own time.
      const tag = marker();
      const started = performance.now();
      const expired = await shell(server.client, { command: `git --version; sleep ${tag}`, timeout_ms: 1_000 });
      expect(expired.timed_out).toBe(true);
      expect(expired.output).toStartWith("git version");
      expect(performance.now() - started).toBeGreaterThanOrEqual(2_400);
    } finally {
      server.approvals.autoAnswerMs = 0;
    }
  });
});

describe("2. cancellation", () => {
  test("notifications/cancelled kills every process of the call; the server keeps serving", async () => {
    const before = await quietFdCount(server.pid);
    const tag = marker();
    const abort = new AbortController();
    const call = server.client.callTool(
      { name: "shell", arguments: { command: sleepers(tag), workdir: "/tmp", login: false } },
      undefined,
      { signal: abort.signal },
    );
    expect(await waitUntil(() => sleepersRunning(tag), 3_000)).toBe(true);
    abort.abort();
    await expect(call).rejects.toThrow();
    expect(await survivors(tag, 1_000)).toEqual([]);
    expect(await shell(server.client, { command: PROBE })).toMatchObject({ output: PROBE_DENIED });
    expect(await settledFds(server.pid, before)).toHaveLength(before);
  });
});

describe("3. shutdown", () => {
  /** Speaks JSON-RPC to a server of our own, as a client that then goes away. */
  async function serverRunningSleepers(tag: string) {
    const child = Bun.spawn([SERVER_BINARY], { env: rulesEnv(), stdin: "pipe", stdout: "pipe", stderr: "ignore" });
    const send = (message: object) => {
      child.stdin.write(`${JSON.stringify(message)}\n`);
      child.stdin.flush();
    };
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "hardening", version: "1" } },
    });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "shell", arguments: { command: sleepers(tag), workdir: "/tmp", login: false } } });
    expect(await waitUntil(() => sleepersRunning(tag), 3_000)).toBe(true);
    return child;
  }

  const ways: [string, (child: Subprocess<"pipe", "pipe", "ignore">) => void][] = [
    ["stdin closes", (child) => void child.stdin.end()],
    ["SIGTERM", (child) => child.kill("SIGTERM")],
    ["SIGINT", (child) => child.kill("SIGINT")],
  ];
  for (const [name, goAway] of ways) {
    test(`${name}: running calls are killed, nothing is orphaned, the server exits promptly`, async () => {
      const tag = marker();
      const child = await serverRunningSleepers(tag);
      const started = performance.now();
      goAway(child);
      expect(await child.exited).toBe(0);
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(await survivors(tag, 500)).toEqual([]);
    });
  }
});

describe("4. output", () => {
  test("stdout and stderr in arrival order, escalated programs' included", async () => {
    const result = await shell(server.client, {
      command: "echo out1; echo err1 >&2; sh -c 'echo esc-out; echo esc-err >&2'; /bin/echo run; echo err2 >&2; /bin/echo run2 >&2; echo out3",
    });
    expect(result.output).toBe("out1\nerr1\nesc-out\nesc-err\nrun\nerr2\nrun2\nout3\n");
  });

  test("capped at 1 MiB: the head and the tail, one marker line saying how much was dropped", async () => {
    const result = await shell(server.client, { command: "seq 1 400000" });
    const full = Array.from({ length: 400_000 }, (_, i) => `${i + 1}\n`).join("");
    const half = 512 * 1024;
    const head = full.slice(0, half);
    const tail = full.slice(full.length - half);
    const separator = head.endsWith("\n") ? "" : "\n";
    expect(result.output).toBe(`${head}${separator}[... ${full.length - 2 * half} bytes of output omitted ...]\n${tail}`);
  });

  test("invalid UTF-8 becomes U+FFFD", async () => {
    const result = await shell(server.client, { command: String.raw`printf 'a\xff\xfeb\xc3\n\xe2\x82\xac\n'` });
    expect(result).toMatchObject({ exit_code: 0, output: "a\uFFFD\uFFFDb\uFFFD\n€\n" });
  });

  test("1 GB printed: the call completes, the server stays under 100 MB", async () => {
    // A server of its own: VmHWM is the peak over the process's whole life.
    const fresh = await startServer();
    try {
      const result = await shell(fresh.client, { command: String.raw`head -c 1G /dev/zero | tr '\0' x`, timeout_ms: LOADED_MACHINE_MS });
      expect(result.exit_code).toBe(0);
      expect(result.output).toContain(`[... ${2 ** 30 - 2 ** 20} bytes of output omitted ...]`);
      expect(result.output.length).toBeLessThan(2 ** 20 + 100);
      // And a flood cut by the deadline keeps its head and tail too.
      const flood = await shell(fresh.client, { command: "yes", timeout_ms: 1_000 });
      expect(flood.timed_out).toBe(true);
      expect(flood.output).toMatch(/^y\ny\n[^]*\[\.\.\. \d+ bytes of output omitted \.\.\.\]\n[^]*y\n$/);
      expect(memoryMb(fresh.pid, "VmHWM")).toBeLessThan(100);
    } finally {
      await fresh.client.close();
    }
  }, LOADED_MACHINE_MS + 10_000);
});

describe("5. concurrency", () => {
  test("a hung call and a call waiting for an approval do not delay another", async () => {
    const tag = marker();
    const hung = server.client.callTool({ name: "shell", arguments: { command: `sleep ${tag}`, workdir: "/tmp", login: false, timeout_ms: 60_000 } });
    server.approvals.autoAnswerMs = null;
    const asked = server.approvals.asked();
    const waiting = shell(server.client, { command: "git --version" });
    try {
      await asked;
      const started = performance.now();
      expect(await shell(server.client, { command: "echo quick; /bin/echo intercepted" })).toMatchObject({ output: "quick\nintercepted\n" });
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      server.approvals.autoAnswerMs = 0;
      server.approvals.release();
    }
    expect((await waiting).output).toStartWith("git version");
    // The hung call is still there, untouched; its own timeout has not come.
    expect(processesWith(tag).length).toBeGreaterThan(0);
    for (const pid of processesWith(tag)) killIfAlive(pid);
    expect((await hung).isError).toBe(false);
  });

  test("parallel calls: each its own timeout, its own output", async () => {
    const tag = marker();
    const started = performance.now();
    const [short, long, ...others] = await Promise.all([
      shell(server.client, { command: `echo short; sleep ${tag}`, timeout_ms: 500 }),
      shell(server.client, { command: "sleep 1.5; echo long", timeout_ms: 5_000 }),
      ...Array.from({ length: 6 }, (_, i) => shell(server.client, { command: `for j in 1 2 3 4 5; do /bin/echo call${i}-$j; done` })),
    ]);
    expect(short).toMatchObject({ timed_out: true, exit_code: 124, output: "short\n" });
    expect(long).toMatchObject({ timed_out: false, exit_code: 0, output: "long\n" });
    expect(performance.now() - started).toBeLessThan(3_000);
    others.forEach((result, i) => expect(result.output).toBe([1, 2, 3, 4, 5].map((j) => `call${i}-${j}\n`).join("")));
  });
});

// A hostile program inside the sandbox speaking to the inherited socket. The
// sandbox's seccomp filter refuses send/recv (but not sendmsg, read, write),
// hence os.read/os.write.
const HOSTILE = String.raw`
import array, json, os, resource, select, socket, struct, sys, time

dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM, 0, os.dup(int(os.environ["CODEX_ESCALATE_SOCKET"])))


def handshake(fds, data=b"\0"):
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    dgram.sendmsg([data], ancillary)


def session():
    ours, theirs = socket.socketpair()
    handshake([theirs.fileno()])
    theirs.close()
    return ours


def send_all(s, data):
    view = memoryview(data)
    while view:
        view = view[os.write(s.fileno(), view):]


def frame(message):
    payload = json.dumps(message).encode()
    return struct.pack("<I", len(payload)) + payload


def request(file, argv, env=None, workdir=None):
    return frame({"file": file, "argv": argv, "workdir": workdir or os.getcwd(), "env": env or {}})


def send_fds(s, targets, fds):
    s.sendmsg([frame({"fds": targets})], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])


def reply(s, timeout=5.0):
    poller = select.poll()
    poller.register(s.fileno(), select.POLLIN)
    deadline = time.time() + timeout
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack("<I", data[:4])[0]:
        if not poller.poll(max(0, deadline - time.time()) * 1000):
            return "timeout"
        try:
            chunk = os.read(s.fileno(), 65536)
        except ConnectionResetError:
            return "closed"
        if not chunk:
            return "closed"
        data += chunk
    return data[4:].decode()


def closed_by_server(sockets, wait):
    """How many of the sockets the server closed (we see EOF) within wait seconds."""
    poller = select.poll()
    for s in sockets:
        poller.register(s.fileno(), select.POLLIN)
    deadline = time.time() + wait
    pending, closed = len(sockets), 0
    while pending and time.time() < deadline:
        for fd, _ in poller.poll(50):
            poller.unregister(fd)
            pending -= 1
            try:
                closed += os.read(fd, 1) == b""
            except OSError:
                closed += 1
    return closed


mode = sys.argv[1]
if mode == "garbage":
    s = session()
    send_all(s, struct.pack("<I", 11) + b"not json!!!")
    print("garbage:", reply(s))
elif mode == "huge":
    s = session()
    send_all(s, struct.pack("<I", 0xFFFFFFFF) + b"x" * 1000)
    print("huge:", reply(s))
elif mode == "half":
    s = session()
    send_all(s, struct.pack("<I", 100) + b'{"file"')
    print("half:", reply(s, timeout=0.5))
elif mode == "handshakes":
    count = int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 100), hard))
    held = [session() for _ in range(count)]
    print("handshakes:", count, "refused:", closed_by_server(held, 1.0))
elif mode == "fds":
    count = int(sys.argv[2])
    pairs = [socket.socketpair() for _ in range(count)]
    handshake([theirs.fileno() for _, theirs in pairs])
    for _, theirs in pairs:
        theirs.close()
    print(f"fds{count}: released", closed_by_server([ours for ours, _ in pairs], 2.0), "of", count)
elif mode == "empty":
    handshake([], data=b"")
    handshake([], data=b"\0")
    print("empty: sent")
elif mode == "bigenv":
    s = session()
    send_all(s, request("/bin/true", ["true"], env={f"VAR{i}": "v" * 100_000 for i in range(70)}))
    print("bigenv:", reply(s))
elif mode == "bigargv":
    s = session()
    send_all(s, request("/bin/true", ["true"] + ["a" * 10_000] * 700))
    print("bigargv:", reply(s))
elif mode == "held":
    # Three sessions each send 7 MiB of an 8 MiB frame: more than a call may hold.
    sessions = [session() for _ in range(3)]
    for s in sessions:
        try:
            send_all(s, struct.pack("<I", 8 * 1024 * 1024 - 16) + b"x" * (7 * 1024 * 1024))
        except BrokenPipeError:
            pass
    print("held: cut off", closed_by_server(sessions, 1.0), "of 3")
elif mode == "relative":
    s = session()
    send_all(s, request("./sh", ["sh", "-c", "echo relative ran"], workdir="/bin"))
    answer = reply(s)
    print("relative:", answer)
    if answer == '{"action":"Escalate"}':
        send_fds(s, [0, 1, 2], [0, 1, 2])
        print("relative exit:", reply(s))
elif mode == "missing":
    s = session()
    send_all(s, request("/nonexistent/dir/sh", ["sh", "-c", "echo never"]))
    answer = reply(s)
    print("missing:", answer)
    if answer == '{"action":"Escalate"}':
        send_fds(s, [0, 1, 2], [0, 1, 2])
        print("missing exit:", reply(s))
elif mode == "targets":
    s = session()
    send_all(s, request("/bin/sh", ["sh", "-c", "echo never"]))
    print("targets:", reply(s))
    send_fds(s, [0, 1, 100000], [0, 1, 2])
    print("targets exit:", reply(s))
`;

describe("6. hostile input from inside the sandbox", () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
    writeFileSync(join(dir, "hostile.py"), HOSTILE);
  });

  /** Runs the hostile program, then one more exec in the same call; returns what it printed. */
  async function hostile(mode: string): Promise<string> {
    // The baseline once the previous call's sockets have closed, so that a
    // test that left descriptors behind fails alone.
    await waitUntil(() => fdCount(server.pid) <= server.idleFds, 15_000);
    const before = fdCount(server.pid);
    server.idleFds = Math.min(server.idleFds, before);
    const result = await shell(server.client, { command: `${PYTHON} hostile.py ${mode}; ${PROBE}`, workdir: dir });
    // The same call still works: its next exec got the server's answer.
    expect(result.output).toEndWith(PROBE_DENIED);
    expect(await settledFds(server.pid, before)).toHaveLength(before);
    return result.output.slice(0, -PROBE_DENIED.length);
  }

  const cases: [string, string | RegExp][] = [
    ["garbage", "garbage: closed\n"],
    ["huge", "huge: closed\n"],
    ["half", "half: timeout\n"],
    ["handshakes 2000", "handshakes: 2000 refused: 1744\n"],
    ["empty", "empty: sent\n"],
    ["fds 17", "fds17: released 17 of 17\n"],
    ["fds 2", "fds2: released 2 of 2\n"],
    ["bigenv", 'bigenv: {"action":"Run"}\n'],
    ["bigargv", 'bigargv: {"action":"Run"}\n'],
    ["held", "held: cut off 1 of 3\n"],
    // Resolved against the request's workdir (/bin), not the server's.
    ["relative", /^relative: \{"action":"Escalate"\}\nrelative ran\nrelative exit: \{"exit_code":0\}\n$/],
    ["missing", /^missing: \{"action":("Run"|\{"Deny":.*\})\}\n$|^missing: \{"action":"Escalate"\}\nmissing exit: \{"exit_code":127\}\n$/],
    ["targets", 'targets: {"action":"Escalate"}\ntargets exit: closed\n'],
  ];
  for (const [mode, expected] of cases) {
    test(`${mode}: answered or cut off alone; the call's next exec works; no descriptor kept`, async () => {
      const output = await hostile(mode);
      if (typeof expected === "string") expect(output).toBe(expected);
      else expect(output).toMatch(expected);
    });
  }

  test("repeated large requests leave memory where it was", async () => {
    const rss: number[] = [];
    for (let round = 0; round < 3; round++) {
      await hostile("bigenv");
      await hostile("held");
      await Bun.sleep(100);
      rss.push(memoryMb(server.pid, "VmRSS"));
    }
    expect(rss[2]!).toBeLessThan(rss[0]! + 20);
    expect(memoryMb(server.pid, "VmHWM")).toBeLessThan(200);
  });

  test("1 000 intercepted execs: same descriptor count, bounded memory", async () => {
    const before = await quietFdCount(server.pid);
    const rssBefore = memoryMb(server.pid, "VmRSS");
    const result = await shell(server.client, {
      command: "for j in 1 2 3 4; do (for i in $(seq 250); do /bin/true || echo failed; done) & done; wait; echo done",
      timeout_ms: LOADED_MACHINE_MS,
    });
    expect(result.output).toBe("done\n");
    expect(await settledFds(server.pid, before)).toHaveLength(before);
    // The server collects garbage after a call, in its own time: a leak stays above.
    await waitUntil(() => memoryMb(server.pid, "VmRSS") < rssBefore + 20, 10_000);
    expect(memoryMb(server.pid, "VmRSS")).toBeLessThan(rssBefore + 20);
  }, LOADED_MACHINE_MS + 10_000);
});

describe("7. bad input from the client: a clear error, nothing runs", () => {
  const cases: [string, (marker: string) => Record<string, unknown>, string][] = [
    ["huge timeout", (ran) => ({ command: `touch ${ran}`, workdir: "/tmp", timeout_ms: 1e15 }), "`timeout_ms` must be at most"],
    ["fractional timeout", (ran) => ({ command: `touch ${ran}`, workdir: "/tmp", timeout_ms: 1.5 }), "`timeout_ms` must be a whole number"],
    ["timeout of the wrong type", (ran) => ({ command: `touch ${ran}`, workdir: "/tmp", timeout_ms: "10" }), "`timeout_ms` must be a number"],
    ["a command of several MB", (ran) => ({ command: `touch ${ran}; : ${"x".repeat(4 * 1024 * 1024)}`, workdir: "/tmp" }), "`command` is longer than"],
    ["workdir that is a file", (ran) => ({ command: `touch ${ran}`, workdir: SERVER_BINARY }), "is not a directory"],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      const ran = join(tempDir(), "ran");
      const result = await server.client.callTool({ name: "shell", arguments: args(ran) });
      expect(result.isError).toBe(true);
      expect((result.content as { text: string }[])[0]!.text).toContain(message);
      expect(existsSync(ran)).toBe(false);
    });
  }

  test("no arguments at all", async () => {
    const result = await server.client.callTool({ name: "shell" });
    expect(result.isError).toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toContain("missing required argument `command`");
  });
});
