// Wire compatibility, one direction: the REFERENCE's server (the Rust
// codex-exec-mcp-server from npm) with OUR compiled codex-execve-wrapper.
// If the frames, the SCM_RIGHTS hand-over or the fd handling of our wrapper
// were off by a byte, the reference would refuse or hang here, so this is the
// strongest check we have that our side of the protocol is right.
//
// What the reference really does (observed, and asserted below):
// - it refuses every call (JSON-RPC error) until a sandbox state arrives,
//   because its default policy needs a codex-linux-sandbox executable;
// - it sets only BASH_EXEC_WRAPPER (not EXEC_WRAPPER) and gives Bash the
//   escalation socket at a high fd (10 here), not 3: our wrapper must clear
//   the close-on-exec flag Bun puts on inherited fds >= 4;
// - its output is all of stdout, then all of stderr (not arrival order);
// - an `allow` rule means Escalate: the server itself becomes the program's
//   parent; a program killed by a signal is reported as exit code 127;
// - `login: true` (its default) sources the machine's profile, every program
//   of which goes through the wrapper; we use `login: false` to keep calls
//   fast and free of profile noise.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, isolatedEnv, PATCHED_BASH, REFERENCE_SERVER, SERVER_BINARY, setSandbox, shell, tempDir, WRAPPER_BINARY, restartIfLost } from "../support.ts";

const RULES = ['prefix_rule(pattern=["sh"], decision="allow")', 'prefix_rule(pattern=["rm"], decision="forbidden")', ""].join("\n");

let client: Client;
let serverPid: number;
let serverStderr = "";

function startReference(): Promise<Client> {
  const home = tempDir("codex-exec-reference-home-");
  mkdirSync(join(home, "rules"));
  writeFileSync(join(home, "rules/test.rules"), RULES);
  const env = isolatedEnv({ CODEX_HOME: home });
  // Its default log level is quiet; a RUST_LOG from the caller would not be.
  delete env.RUST_LOG;
  return connect({ command: REFERENCE_SERVER, args: ["--execve", WRAPPER_BINARY, "--bash", PATCHED_BASH], env });
}

async function startShared(): Promise<void> {
  client = await startReference();
  const transport = client.transport;
  if (!(transport instanceof StdioClientTransport) || transport.pid === null) throw new Error("the reference server did not start");
  serverPid = transport.pid;
  // Drained so that a chatty server can never block on a full pipe, and kept
  // to show in a failure message.
  transport.stderr?.on("data", (chunk: Buffer) => {
    serverStderr += chunk.toString();
  });
  await setSandbox(client, { type: "danger-full-access" });
}
beforeAll(startShared);
restartIfLost(() => client, startShared);

afterAll(async () => {
  await client?.close();
});

describe("the reference's server itself", () => {
  test("it is the reference (rmcp), not ours", () => {
    expect(client.getServerVersion()?.name).toBe("rmcp");
    expect(client.getServerCapabilities()?.experimental).toEqual({ "codex/sandbox-state": { version: "1.0.0" } });
  });

  test("without a sandbox state it refuses the call: it would need codex-linux-sandbox", async () => {
    const fresh = await startReference();
    try {
      const call = fresh.callTool({ name: "shell", arguments: { command: "/bin/echo hi", workdir: "/tmp", login: false } });
      await expect(call).rejects.toThrow("codex-linux-sandbox was required but not provided");
    } finally {
      await fresh.close();
    }
  });
});

describe("the wrapper Bash runs is ours", () => {
  test("BASH_EXEC_WRAPPER is our wrapper path, a link to our binary; EXEC_WRAPPER is not set", async () => {
    const result = await shell(client, { command: 'echo "$BASH_EXEC_WRAPPER"; readlink -f "$BASH_EXEC_WRAPPER"; echo "${EXEC_WRAPPER-unset}"' });
    expect(result).toMatchObject({ exit_code: 0, output: `${WRAPPER_BINARY}\n${realpathSync(SERVER_BINARY)}\nunset\n` });
  });

  test("run without arguments, it prints our usage line (the reference's wrapper prints clap's)", async () => {
    // The shell's exec of the wrapper is itself intercepted (a Run), so this
    // also exercises one full round trip before the usage error.
    const result = await shell(client, { command: '"$BASH_EXEC_WRAPPER"; echo status=$?' });
    expect(result).toMatchObject({ exit_code: 0, output: "status=2\ncodex-execve-wrapper: usage: codex-execve-wrapper <file> <argv0> [args...]\n" });
  });

  test("the escalation socket is a high fd, and stays open across a Run into a nested patched Bash", async () => {
    // "$BASH" is the patched Bash: run in place by our wrapper, its own exec of
    // /bin/echo must reach the server through the same inherited socket.
    const result = await shell(client, { command: 'echo "$CODEX_ESCALATE_SOCKET"; "$BASH" -c "/bin/echo nested"' });
    const [fd, nested] = result.output.split("\n");
    expect(Number(fd)).toBeGreaterThanOrEqual(4);
    expect(nested).toBe("nested");
    expect(result.exit_code).toBe(0);
  });
});

describe("the three decisions, taken by the reference, carried out by our wrapper", () => {
  test("Escalate (allow rule): output and exit code reach the caller", async () => {
    const result = await shell(client, { command: "FOO=bar /bin/sh -c 'echo $0 $FOO; exit 3'" });
    expect(result).toMatchObject({ exit_code: 3, output: "/bin/sh bar\n", timed_out: false });
  });

  test("Escalate: argv[0] set with exec -a arrives", async () => {
    const result = await shell(client, { command: "FOO=bar exec -a custom-name /bin/sh -c 'echo $0 $FOO $PPID; exit 3'" });
    expect(result).toMatchObject({ exit_code: 3, output: `custom-name bar ${serverPid}\n` });
  });

  test("Escalate: the server is the parent; env (minus the interception variables), workdir and stdin arrive", async () => {
    const dir = tempDir();
    const probe = 'echo "$PPID|$FOO|$(pwd)|${BASH_EXEC_WRAPPER-unset}|${CODEX_ESCALATE_SOCKET-unset}|$(readlink /proc/self/fd/0)"; echo err >&2; exit 5';
    const result = await shell(client, { command: `cd ${dir} && FOO=bar /bin/sh -c '${probe}'; echo after=$?` });
    // The reference puts all of stderr after all of stdout.
    expect(result).toMatchObject({ exit_code: 0, output: `${serverPid}|bar|${dir}|unset|unset|/dev/null\nafter=5\nerr\n` });
  });

  test("Escalate: a program killed by a signal is reported as 127", async () => {
    const result = await shell(client, { command: "/bin/sh -c 'kill -9 $$'; echo after=$?" });
    expect(result.output).toBe("after=127\n");
  });

  test("Deny (forbidden rule): the reason on stderr, status 1, nothing removed", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "x"), "keep me");
    const result = await shell(client, { command: "rm x", workdir: dir });
    expect(result).toMatchObject({ exit_code: 1, output: "Execution denied: Execution forbidden by policy\n", timed_out: false });
    expect(existsSync(join(dir, "x"))).toBe(true);
  });

  test("Run (no rule): the program runs in place as a child of the Bash", async () => {
    expect(await shell(client, { command: "/bin/echo hi" })).toMatchObject({ exit_code: 0, output: "hi\n", timed_out: false });
    // Field 4 of /proc/self/stat is the parent pid: the shell ($$), not the server.
    const result = await shell(client, { command: "/bin/cat /proc/self/stat; echo $$" });
    const [stat, bashPid] = result.output.split("\n");
    const fields = stat!.slice(stat!.lastIndexOf(")") + 2).split(" ");
    expect(stat).toContain("(cat)");
    expect(fields[1]).toBe(bashPid);
    expect(Number(bashPid)).not.toBe(serverPid);
  });

  test("the reference logged nothing on stderr (default log level)", () => {
    expect(serverStderr).toBe("");
  });
});
