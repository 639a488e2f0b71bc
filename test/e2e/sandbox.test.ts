// The sandbox end to end: the compiled server driven over MCP, its shell
// confined by our own `codex-linux-sandbox` launcher (Landlock + seccomp).
// Every check looks at what really happened on disk or on the wire, not only at
// what the command printed.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { connect, countingListener, type ExecResultJson, isolatedEnv, ROOT, setSandbox, shell, tempDir, restartIfLost } from "../support.ts";

if (process.platform !== "linux") throw new Error("these tests exercise the Linux sandbox (Landlock + seccomp)");

const META_KEY = "codex/sandbox-state-meta";
const SANDBOX_STATE_METHOD = "codex/sandbox-state/update";
const SIMULATE_NO_LANDLOCK = "CODEX_EXEC_TEST_SIMULATE_NO_LANDLOCK";

/** A real interpreter, not a pyenv shim (a shim is a script that runs more programs). */
const PYTHON = ["/usr/bin/python3", "/usr/local/bin/python3"].find((path) => existsSync(path)) ?? Bun.which("python3");

/** Single-quotes `value` for Bash. */
/**
 * A write the sandbox refuses reads "Read-only file system" under the
 * namespace sandbox (the mount is read-only) and "Permission denied" under
 * Landlock alone: both are the refusal these tests expect.
 */
function refusals(output: string): string {
  return output.replaceAll("Read-only file system", "Permission denied");
}

function sq(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

// Directories outside /tmp, so that "writable?" is never answered by the /tmp
// rule: /var/tmp when there is one, else a directory in the repo's dist/.
const outsideBase = realpathSync(mkdtempSync(join(existsSync("/var/tmp") ? "/var/tmp" : join(ROOT, "dist"), "codex-exec-sbx-")));
function outsideDir(name: string): string {
  const dir = join(outsideBase, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
/** A directory directly under /tmp (writable in workspace-write unless excluded). */
const slashTmpDir = realpathSync(mkdtempSync("/tmp/codex-exec-sbx-"));
let unique = 0;
/** A fresh path that does not exist yet, under `dir`. */
function fresh(dir: string, name = "f"): string {
  return join(dir, `${name}-${++unique}`);
}

const listener = countingListener();
const PORT = listener.port;

/** Bash alone (no program started): /dev/tcp. */
const BASH_TCP = `if exec 5<>/dev/tcp/127.0.0.1/${PORT}; then read -r line <&5; echo "bash-tcp=$line"; else echo bash-tcp=failed; fi`;
/** Python: socket(AF_INET) + connect. */
const PY_TCP = `import socket
try:
    s = socket.create_connection(("127.0.0.1", ${PORT}), timeout=5)
    print("py-tcp=" + s.recv(16).decode().strip())
except OSError as e:
    print("py-tcp=error errno=%d %s" % (e.errno, type(e).__name__))`;
/**
 * Python: an AF_UNIX socketpair, which must keep working with the network off
 * (the exec wrapper itself needs socketpair + sendmsg): read/write,
 * sendmsg/recvmsg and recv (recvfrom) work.
 */
const PY_SOCKETPAIR = `import os, socket
a, b = socket.socketpair()
print("family=" + a.family.name)
os.write(a.fileno(), b"ping")
print("read=" + os.read(b.fileno(), 4).decode())
a.sendmsg([b"pong"])
print("recvmsg=" + b.recvmsg(4)[0].decode())
os.write(b.fileno(), b"back")
print("recv=" + a.recv(4).decode())`;
/** Python: calls the reference's list refuses with the network off even on AF_UNIX, then socket() per family. */
const PY_UNIX_REFUSED = `import socket
def attempt(name, f):
    try:
        f()
        print(name + "=ok")
    except PermissionError:
        print(name + "=EPERM")
a, b = socket.socketpair()
attempt("send", lambda: a.send(b"x"))
attempt("getsockopt", lambda: a.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))
attempt("inet-socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
attempt("inet6-socket", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
attempt("unix-socket", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))`;

function py(script: string): string {
  if (PYTHON === null) throw new Error("no python3");
  return `${sq(PYTHON)} -c ${sq(script)}`;
}

function textOf(result: Awaited<ReturnType<Client["callTool"]>>): string {
  const content = result.content as { type: string; text: string }[];
  return content[0]?.text ?? "";
}

/** A tools/call with arbitrary `_meta`; returns the raw result (isError included). */
async function callWithMeta(client: Client, command: string, workdir: string, meta: Record<string, unknown>) {
  return client.callTool({ name: "shell", arguments: { command, workdir, login: false }, _meta: meta });
}

function parseResult(result: Awaited<ReturnType<Client["callTool"]>>): ExecResultJson {
  if (result.isError === true) throw new Error(`tool error: ${textOf(result)}`);
  return JSON.parse(textOf(result)) as ExecResultJson;
}

/** `touch <path>`, reporting the status; the caller checks the disk too. */
function touchCmd(path: string): string {
  return `touch ${sq(path)}; echo "touch=$?"`;
}

const workspaceWrite = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: "workspace-write",
  writable_roots: [],
  network_access: false,
  exclude_tmpdir_env_var: false,
  exclude_slash_tmp: false,
  ...overrides,
});

async function requestError(promise: Promise<unknown>): Promise<McpError> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  if (!(outcome instanceof McpError)) throw new Error(`expected a JSON-RPC error, got ${String(outcome)}`);
  return outcome;
}

const clients: Client[] = [];
async function start(options: Parameters<typeof connect>[0] = {}): Promise<Client> {
  const client = await connect(options);
  clients.push(client);
  return client;
}

let client: Client;
/** How Bash starts its own error messages: `<path of the patched Bash>: `. */
let BASH_PREFIX = "";
async function startShared(): Promise<void> {
  client = await start();
  BASH_PREFIX = (await shell(client, { command: `printf '%s: ' "$0"` })).output;
  expect(BASH_PREFIX).toEndWith("/bash: ");
}
beforeAll(startShared);
restartIfLost(() => client, startShared);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  listener.stop();
  rmSync(outsideBase, { recursive: true, force: true });
  rmSync(slashTmpDir, { recursive: true, force: true });
});

const HOSTNAME = readFileSync("/etc/hostname", "utf8");

/**
 * Bash's own no_new_privs flag and seccomp filter count, read with builtins
 * only (so it is Bash's process, not a program's).
 */
const STATUS_CMD = `while IFS= read -r l; do case $l in NoNewPrivs:*|Seccomp_filters:*) echo "$l";; esac; done < /proc/$$/status`;
/** What STATUS_CMD prints, relative to this test process (the server inherits its state). */
function expectedStatus(change: { noNewPrivs: boolean; extraFilters: number }): string {
  const own = readFileSync("/proc/self/status", "utf8");
  const nnp = /^NoNewPrivs:\t(\d+)$/m.exec(own)?.[1];
  const filters = /^Seccomp_filters:\t(\d+)$/m.exec(own)?.[1];
  let text = `NoNewPrivs:\t${change.noNewPrivs ? 1 : Number(nnp)}\n`;
  if (filters !== undefined) text += `Seccomp_filters:\t${Number(filters) + change.extraFilters}\n`;
  return text;
}
const UNCONFINED_STATUS = expectedStatus({ noNewPrivs: false, extraFilters: 0 });

describe("no sandbox state received: read-only with sandboxCwd = workdir", () => {
  let pristine: Client;
  const startPristine = async () => {
    pristine = await start();
  };
  beforeAll(startPristine);
  restartIfLost(() => pristine, startPristine);

  test("writing in the workdir fails with Permission denied; reading and /dev/null work", async () => {
    const workdir = tempDir();
    const result = await shell(pristine, {
      command: `touch x; echo "touch=$?"; cat /etc/hostname; echo x > /dev/null && echo devnull-ok`,
      workdir,
    });
    expect(refusals(result.output)).toContain(`touch: cannot touch 'x': Permission denied\ntouch=1\n`);
    expect(result.output).toEndWith(`touch=1\n${HOSTNAME}devnull-ok\n`);
    expect(result.exit_code).toBe(0);
    expect(existsSync(join(workdir, "x"))).toBe(false);
  });

  test("writing in /tmp and elsewhere fails too, and the network is off", async () => {
    const inTmp = fresh(slashTmpDir);
    const elsewhere = fresh(outsideDir("pristine"));
    const result = await shell(pristine, {
      command: `${touchCmd(inTmp)}; ${touchCmd(elsewhere)}; echo "net=$CODEX_SANDBOX_NETWORK_DISABLED"`,
      workdir: tempDir(),
    });
    expect(result.output).toContain("touch=1\n");
    expect(result.output).not.toContain("touch=0");
    expect(result.output).toEndWith("net=1\n");
    expect(existsSync(inTmp)).toBe(false);
    expect(existsSync(elsewhere)).toBe(false);
  });
});

describe("read-only via codex/sandbox-state/update", () => {
  test("sandboxCwd, the workdir and /tmp are not writable; reading and /dev/null work", async () => {
    const workdir = outsideDir("ro-cwd");
    await setSandbox(client, { type: "read-only" }, workdir);
    const inCwd = fresh(workdir);
    const inTmp = fresh(slashTmpDir);
    const result = await shell(client, {
      command: `${touchCmd(inCwd)}; echo x > ${sq(inTmp)}; echo "redirect=$?"; cat /etc/hostname; echo x > /dev/null && echo devnull-ok`,
      workdir,
    });
    expect(refusals(result.output)).toBe(
      `touch: cannot touch '${inCwd}': Permission denied\ntouch=1\n` +
        // Bash names itself by its path in error messages.
        `${BASH_PREFIX}line 1: ${inTmp}: Permission denied\nredirect=1\n${HOSTNAME}devnull-ok\n`,
    );
    expect(existsSync(inCwd)).toBe(false);
    expect(existsSync(inTmp)).toBe(false);
  });

  test("existing files cannot be changed or removed", async () => {
    const workdir = outsideDir("ro-existing");
    const file = join(workdir, "keep");
    await Bun.write(file, "original\n");
    await setSandbox(client, { type: "read-only" }, workdir);
    const result = await shell(client, { command: `echo changed > keep; rm -f keep; mv keep moved; cat keep`, workdir });
    expect(result.output).toEndWith("original\n");
    expect(readFileSync(file, "utf8")).toBe("original\n");
    expect(existsSync(join(workdir, "moved"))).toBe(false);
  });
});

describe("workspace-write", () => {
  test("sandboxCwd, a writable_roots entry and /tmp are writable; a directory not listed is not", async () => {
    const cwd = outsideDir("ww-cwd");
    const root = outsideDir("ww-root");
    const outside = outsideDir("ww-outside");
    await setSandbox(client, workspaceWrite({ writable_roots: [root] }), cwd);
    const paths = { cwd: fresh(cwd), root: fresh(root), tmp: fresh(slashTmpDir), outside: fresh(outside) };
    const result = await shell(client, {
      command: Object.values(paths)
        .map((path) => `echo data > ${sq(path)} && echo ok || echo denied`)
        .join("; "),
      workdir: cwd,
    });
    expect(refusals(result.output)).toBe(`ok\nok\nok\n${BASH_PREFIX}line 1: ${paths.outside}: Permission denied\ndenied\n`);
    expect(readFileSync(paths.cwd, "utf8")).toBe("data\n");
    expect(readFileSync(paths.root, "utf8")).toBe("data\n");
    expect(readFileSync(paths.tmp, "utf8")).toBe("data\n");
    expect(existsSync(paths.outside)).toBe(false);
  });

  test("subdirectories, deletes and renames work beneath a writable root", async () => {
    const cwd = outsideDir("ww-tree");
    await setSandbox(client, workspaceWrite(), cwd);
    const result = await shell(client, {
      command: "mkdir -p a/b && echo one > a/b/f && mv a/b/f a/g && rm -r a/b && ls a && cat a/g",
      workdir: cwd,
    });
    expect(result).toMatchObject({ exit_code: 0, output: "g\none\n" });
    expect(readFileSync(join(cwd, "a/g"), "utf8")).toBe("one\n");
  });

  test("the writable directory is sandboxCwd, not the call's workdir", async () => {
    const sandboxCwd = outsideDir("ww-sandbox-cwd");
    const workdir = outsideDir("ww-other-workdir");
    await setSandbox(client, workspaceWrite(), sandboxCwd);
    const inWorkdir = fresh(workdir);
    const inSandboxCwd = fresh(sandboxCwd);
    const result = await shell(client, { command: `${touchCmd(inWorkdir)}; ${touchCmd(inSandboxCwd)}`, workdir });
    expect(refusals(result.output)).toBe(`touch: cannot touch '${inWorkdir}': Permission denied\ntouch=1\ntouch=0\n`);
    expect(existsSync(inWorkdir)).toBe(false);
    expect(existsSync(inSandboxCwd)).toBe(true);
  });

  test("exclude_slash_tmp makes /tmp read-only", async () => {
    const cwd = outsideDir("ww-no-tmp");
    await setSandbox(client, workspaceWrite({ exclude_slash_tmp: true }), cwd);
    const inTmp = fresh(slashTmpDir);
    const inCwd = fresh(cwd);
    const result = await shell(client, { command: `${touchCmd(inTmp)}; ${touchCmd(inCwd)}`, workdir: cwd });
    expect(refusals(result.output)).toBe(`touch: cannot touch '${inTmp}': Permission denied\ntouch=1\ntouch=0\n`);
    expect(existsSync(inTmp)).toBe(false);
    expect(existsSync(inCwd)).toBe(true);
  });

  describe("$TMPDIR of the server's environment", () => {
    const tmpdirRoot = outsideDir("server-tmpdir");
    let withTmpdir: Client;
    const startWithTmpdir = async () => {
      withTmpdir = await start({ env: isolatedEnv({ TMPDIR: tmpdirRoot }) });
    };
    beforeAll(startWithTmpdir);
    restartIfLost(() => withTmpdir, startWithTmpdir);

    test("is writable by default", async () => {
      const cwd = outsideDir("tmpdir-cwd-1");
      await setSandbox(withTmpdir, workspaceWrite({ exclude_slash_tmp: true }), cwd);
      const target = fresh(tmpdirRoot);
      const result = await shell(withTmpdir, { command: `echo "TMPDIR=$TMPDIR"; ${touchCmd(target)}`, workdir: cwd });
      expect(result.output).toBe(`TMPDIR=${tmpdirRoot}\ntouch=0\n`);
      expect(existsSync(target)).toBe(true);
    });

    test("exclude_tmpdir_env_var makes it read-only", async () => {
      const cwd = outsideDir("tmpdir-cwd-2");
      await setSandbox(withTmpdir, workspaceWrite({ exclude_tmpdir_env_var: true, exclude_slash_tmp: true }), cwd);
      const target = fresh(tmpdirRoot);
      const result = await shell(withTmpdir, { command: touchCmd(target), workdir: cwd });
      expect(refusals(result.output)).toBe(`touch: cannot touch '${target}': Permission denied\ntouch=1\n`);
      expect(existsSync(target)).toBe(false);
    });

    test("is not writable under read-only", async () => {
      const cwd = outsideDir("tmpdir-cwd-3");
      await setSandbox(withTmpdir, { type: "read-only" }, cwd);
      const target = fresh(tmpdirRoot);
      const result = await shell(withTmpdir, { command: touchCmd(target), workdir: cwd });
      expect(result.output).toEndWith("touch=1\n");
      expect(existsSync(target)).toBe(false);
    });
  });
});

describe("network", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["read-only", { type: "read-only" }],
    ["workspace-write (network_access missing)", { type: "workspace-write", writable_roots: [] }],
    ["workspace-write (network_access: false)", workspaceWrite({ network_access: false })],
  ];
  for (const [name, policy] of cases) {
    test(`${name}: TCP to 127.0.0.1 fails from Bash and from Python; CODEX_SANDBOX_NETWORK_DISABLED=1`, async () => {
      const workdir = outsideDir("net-off");
      await setSandbox(client, policy, workdir);
      const before = listener.accepted;
      const commands = [`echo "disabled=$CODEX_SANDBOX_NETWORK_DISABLED"`, BASH_TCP];
      if (PYTHON !== null) commands.push(py(PY_TCP));
      const result = await shell(client, { command: commands.join("; "), workdir });
      expect(result.output).toStartWith("disabled=1\n");
      expect(result.output).toContain("Operation not permitted");
      expect(result.output).toContain("bash-tcp=failed\n");
      if (PYTHON !== null) expect(result.output).toEndWith("py-tcp=error errno=1 PermissionError\n");
      // Give a connection that slipped through time to be counted.
      await Bun.sleep(100);
      expect(listener.accepted).toBe(before);
    });
  }

  test("workspace-write with network_access: true reaches the listener from Bash and from Python", async () => {
    const workdir = outsideDir("net-on");
    await setSandbox(client, workspaceWrite({ network_access: true }), workdir);
    const before = listener.accepted;
    const commands = [`echo "disabled=\${CODEX_SANDBOX_NETWORK_DISABLED-unset}"`, BASH_TCP];
    if (PYTHON !== null) commands.push(py(PY_TCP));
    const result = await shell(client, { command: commands.join("; "), workdir });
    expect(result.output).toBe(`disabled=unset\nbash-tcp=hello\n${PYTHON !== null ? "py-tcp=hello\n" : ""}`);
    expect(listener.accepted).toBe(before + (PYTHON !== null ? 2 : 1));
    // The filesystem stays confined.
    const outside = fresh(outsideDir("net-on-outside"));
    expect((await shell(client, { command: touchCmd(outside), workdir })).output).toEndWith("touch=1\n");
    expect(existsSync(outside)).toBe(false);
  });

  test.skipIf(PYTHON === null)("an AF_UNIX socketpair still works with the network off", async () => {
    const workdir = outsideDir("net-unix");
    await setSandbox(client, { type: "read-only" }, workdir);
    const result = await shell(client, { command: `echo "disabled=$CODEX_SANDBOX_NETWORK_DISABLED"; ${py(PY_SOCKETPAIR)}`, workdir });
    expect(result).toMatchObject({ exit_code: 0, output: "disabled=1\nfamily=AF_UNIX\nread=ping\nrecvmsg=pong\nrecv=back\n" });
  });

  // The reference's seccomp list (sandbox.md section 2.3): send() is sendto(2),
  // refused even on AF_UNIX, as are getsockopt and non-AF_UNIX sockets.
  test.skipIf(PYTHON === null)("with the network off, the reference's list applies: sendto and getsockopt refused, only AF_UNIX sockets", async () => {
    const workdir = outsideDir("net-unix-refused");
    await setSandbox(client, { type: "read-only" }, workdir);
    const result = await shell(client, { command: py(PY_UNIX_REFUSED), workdir });
    expect(result).toMatchObject({
      exit_code: 0,
      output: "send=EPERM\ngetsockopt=EPERM\ninet-socket=EPERM\ninet6-socket=EPERM\nunix-socket=ok\n",
    });
    // The same calls all work when the network is allowed.
    await setSandbox(client, workspaceWrite({ network_access: true }), workdir);
    const allowed = await shell(client, { command: py(PY_UNIX_REFUSED), workdir });
    expect(allowed.output).toBe("send=ok\ngetsockopt=ok\ninet-socket=ok\ninet6-socket=ok\nunix-socket=ok\n");
  });

  test("the shell runs with no_new_privs and the exec mediation filter, plus the network filter only when the network is off", async () => {
    const workdir = outsideDir("net-status");
    await setSandbox(client, { type: "read-only" }, workdir);
    expect((await shell(client, { command: STATUS_CMD, workdir })).output).toBe(expectedStatus({ noNewPrivs: true, extraFilters: 2 }));
    await setSandbox(client, workspaceWrite({ network_access: true }), workdir);
    expect((await shell(client, { command: STATUS_CMD, workdir })).output).toBe(expectedStatus({ noNewPrivs: true, extraFilters: 1 }));
  });

  test("interception still works inside the sandbox with the network off", async () => {
    // Our Bash asks the server over its socket (socketpair + sendmsg under the
    // seccomp filter): a forbidden rule still refuses, also after the command
    // closed descriptor 3 (the socket is not there).
    const env = isolatedEnv();
    mkdirSync(join(env.CODEX_HOME!, "rules"));
    writeFileSync(join(env.CODEX_HOME!, "rules", "test.rules"), 'prefix_rule(pattern=["echo", "refused"], decision="forbidden")\n');
    const ruled = await start({ env });
    const workdir = outsideDir("net-intercept");
    await setSandbox(ruled, { type: "read-only" }, workdir);
    const result = await shell(ruled, {
      command: `/bin/echo intercepted; /bin/echo refused; echo "status=$?"; ( exec 3>&-; /bin/echo refused ); echo "closed-status=$?"; echo "disabled=$CODEX_SANDBOX_NETWORK_DISABLED"`,
      workdir,
    });
    const denied = "Execution denied: Execution forbidden by policy\n";
    expect(result.output).toBe(`intercepted\n${denied}status=1\n${denied}closed-status=1\ndisabled=1\n`);
  });
});

describe("sandbox state in the call's _meta", () => {
  test("a workspace-write state in _meta applies to that call only", async () => {
    const workdir = outsideDir("meta-ww");
    await setSandbox(client, { type: "read-only" }, workdir);
    const viaMeta = fresh(workdir);
    const meta = { [META_KEY]: { sandboxPolicy: workspaceWrite(), sandboxCwd: workdir, codexLinuxSandboxExe: null, useLegacyLandlock: false } };
    const result = parseResult(await callWithMeta(client, touchCmd(viaMeta), workdir, meta));
    expect(result.output).toBe("touch=0\n");
    expect(existsSync(viaMeta)).toBe(true);
    // The next call without _meta is back under the server's read-only state.
    const plain = fresh(workdir);
    expect((await shell(client, { command: touchCmd(plain), workdir })).output).toEndWith("touch=1\n");
    expect(existsSync(plain)).toBe(false);
  });

  test("a read-only state in _meta confines a call while the server's state is danger-full-access", async () => {
    const workdir = outsideDir("meta-ro");
    await setSandbox(client, { type: "danger-full-access" }, workdir);
    const viaMeta = fresh(workdir);
    const meta = { [META_KEY]: { sandboxPolicy: { type: "read-only" }, sandboxCwd: workdir } };
    const result = parseResult(await callWithMeta(client, touchCmd(viaMeta), workdir, meta));
    expect(refusals(result.output)).toBe(`touch: cannot touch '${viaMeta}': Permission denied\ntouch=1\n`);
    expect(existsSync(viaMeta)).toBe(false);
    const plain = fresh(workdir);
    expect((await shell(client, { command: touchCmd(plain), workdir })).output).toBe("touch=0\n");
    expect(existsSync(plain)).toBe(true);
  });

  test("an invalid state in _meta is a tool error and runs nothing", async () => {
    const workdir = outsideDir("meta-bad");
    await setSandbox(client, { type: "danger-full-access" }, workdir);
    const marker = fresh(workdir);
    const meta = { [META_KEY]: { sandboxPolicy: { type: "no-such-policy" }, sandboxCwd: workdir } };
    const result = await callWithMeta(client, touchCmd(marker), workdir, meta);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toStartWith(`invalid ${META_KEY}: failed to deserialize sandbox state`);
    expect(existsSync(marker)).toBe(false);
  });
});

describe("codex/sandbox-state/update errors", () => {
  test("missing params: invalid params, `missing params for sandbox state request`", async () => {
    const error = await requestError(client.request({ method: SANDBOX_STATE_METHOD }, z.object({}).passthrough()));
    expect(error.code).toBe(ErrorCode.InvalidParams);
    // McpError prefixes the wire message with "MCP error <code>: ".
    expect(error.message).toBe(`MCP error ${ErrorCode.InvalidParams}: missing params for sandbox state request`);
  });

  const invalid: [string, Record<string, unknown>][] = [
    ["unknown policy type", { sandboxPolicy: { type: "bogus" }, sandboxCwd: "/tmp" }],
    ["missing sandboxPolicy", { sandboxCwd: "/tmp" }],
    ["relative sandboxCwd", { sandboxPolicy: { type: "danger-full-access" }, sandboxCwd: "relative/dir" }],
    ["relative writable_roots entry", { sandboxPolicy: workspaceWrite({ writable_roots: ["rel"] }), sandboxCwd: "/tmp" }],
    ["non-boolean network_access", { sandboxPolicy: workspaceWrite({ network_access: "yes" }), sandboxCwd: "/tmp" }],
  ];
  for (const [name, params] of invalid) {
    test(`unparsable state (${name}): failed to deserialize sandbox state, previous state kept`, async () => {
      const workdir = outsideDir("bad-update");
      await setSandbox(client, { type: "read-only" }, workdir);
      const error = await requestError(client.request({ method: SANDBOX_STATE_METHOD, params }, z.object({}).passthrough()));
      expect(error.code).toBe(ErrorCode.InvalidParams);
      expect(error.message).toStartWith(`MCP error ${ErrorCode.InvalidParams}: failed to deserialize sandbox state`);
      // Still read-only: a failed update changes nothing.
      const marker = fresh(workdir);
      expect((await shell(client, { command: touchCmd(marker), workdir })).output).toEndWith("touch=1\n");
      expect(existsSync(marker)).toBe(false);
    });
  }

  test("the server keeps serving after both kinds of error", async () => {
    const server = await start();
    await requestError(server.request({ method: SANDBOX_STATE_METHOD }, z.object({}).passthrough()));
    await requestError(server.request({ method: SANDBOX_STATE_METHOD, params: { sandboxPolicy: 7 } }, z.object({}).passthrough()));
    const workdir = outsideDir("after-errors");
    // No valid state ever arrived: the default (read-only) still applies.
    const blocked = fresh(workdir);
    expect((await shell(server, { command: `${touchCmd(blocked)}; /bin/echo alive`, workdir })).output).toEndWith("touch=1\nalive\n");
    expect(existsSync(blocked)).toBe(false);
    // And a valid state is accepted afterwards.
    await setSandbox(server, workspaceWrite(), workdir);
    const allowed = fresh(workdir);
    expect((await shell(server, { command: touchCmd(allowed), workdir })).output).toBe("touch=0\n");
    expect(existsSync(allowed)).toBe(true);
  });

  test("unknown keys are ignored and missing booleans are false", async () => {
    const workdir = outsideDir("lenient");
    await client.request(
      {
        method: SANDBOX_STATE_METHOD,
        params: { sandboxPolicy: { type: "workspace-write", future_key: 1 }, sandboxCwd: workdir, useLinuxSandboxBwrap: true, other: "x" },
      },
      z.object({}).strict(),
    );
    const inCwd = fresh(workdir);
    const inTmp = fresh(slashTmpDir);
    const result = await shell(client, { command: `${touchCmd(inCwd)}; ${touchCmd(inTmp)}; echo "net=$CODEX_SANDBOX_NETWORK_DISABLED"`, workdir });
    expect(result.output).toBe("touch=0\ntouch=0\nnet=1\n");
  });
});

describe("ordering", () => {
  test("state updates and tool calls sent back to back are applied in order", async () => {
    const workdir = outsideDir("ordering");
    await setSandbox(client, { type: "read-only" }, workdir);
    const rounds = 4;
    const markers: string[] = [];
    const pending: Promise<unknown>[] = [];
    const calls: Promise<ExecResultJson>[] = [];
    // Nothing awaited in between: each update is followed at once by a call
    // whose outcome depends on it.
    for (let i = 0; i < rounds; i++) {
      const writable = fresh(workdir);
      const blocked = fresh(workdir);
      markers.push(writable, blocked);
      pending.push(setSandbox(client, workspaceWrite(), workdir));
      calls.push(shell(client, { command: touchCmd(writable), workdir }));
      pending.push(setSandbox(client, { type: "read-only" }, workdir));
      calls.push(shell(client, { command: touchCmd(blocked), workdir }));
    }
    await Promise.all(pending);
    const results = await Promise.all(calls);
    results.forEach((result, i) => {
      expect(result.output).toEndWith(i % 2 === 0 ? "touch=0\n" : "touch=1\n");
      expect(existsSync(markers[i]!)).toBe(i % 2 === 0);
    });
  });
});

describe("Landlock unavailable (simulated through the launcher's test seam)", () => {
  let failClosed: Client;
  let degraded: Client;
  const startBoth = async () => {
    failClosed = await start({ env: isolatedEnv({ [SIMULATE_NO_LANDLOCK]: "1" }) });
    // Without namespaces too: they would still keep the filesystem read-only.
    degraded = await start({ env: isolatedEnv({ [SIMULATE_NO_LANDLOCK]: "1", CODEX_EXEC_DISABLE_NAMESPACES: "1" }), args: ["--allow-unsandboxed"] });
  };
  beforeAll(startBoth);
  restartIfLost(() => failClosed, startBoth);
  restartIfLost(() => degraded, startBoth);

  test("a read-only call (the default state) fails closed with a tool error naming Landlock", async () => {
    const workdir = outsideDir("no-landlock-default");
    const marker = fresh(workdir);
    const result = await failClosed.callTool({ name: "shell", arguments: { command: `touch ${sq(marker)}`, workdir, login: false } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toStartWith("the sandbox could not be applied: codex-linux-sandbox: Landlock is not available");
    expect(textOf(result)).toContain("refusing to run unconfined");
    expect(existsSync(marker)).toBe(false);
  });

  test("a workspace-write call fails closed too, and nothing runs", async () => {
    const workdir = outsideDir("no-landlock-ww");
    await setSandbox(failClosed, workspaceWrite(), workdir);
    const marker = fresh(workdir);
    const result = await failClosed.callTool({ name: "shell", arguments: { command: `touch ${sq(marker)}`, workdir, login: false } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("Landlock");
    expect(existsSync(marker)).toBe(false);
  });

  test("danger-full-access needs no sandbox and still runs", async () => {
    const workdir = outsideDir("no-landlock-full");
    await setSandbox(failClosed, { type: "danger-full-access" }, workdir);
    const marker = fresh(workdir);
    expect((await shell(failClosed, { command: touchCmd(marker), workdir })).output).toBe("touch=0\n");
    expect(existsSync(marker)).toBe(true);
  });

  test("with --allow-unsandboxed the command runs, the output carries the warning, and the network stays off", async () => {
    const workdir = outsideDir("no-landlock-degraded");
    const marker = fresh(workdir);
    const before = listener.accepted;
    const result = await shell(degraded, {
      command: `${touchCmd(marker)}; echo "seam=\${${SIMULATE_NO_LANDLOCK}-unset} net=$CODEX_SANDBOX_NETWORK_DISABLED"; ${BASH_TCP}`,
      workdir,
    });
    expect(result.output).toStartWith(
      "codex-linux-sandbox: warning: Landlock is not available on this kernel (landlock_create_ruleset: ENOSYS); running WITHOUT a filesystem sandbox (--allow-unsandboxed)\n",
    );
    expect(result.output).toContain("touch=0\nseam=unset net=1\n");
    expect(result.output).toEndWith("bash-tcp=failed\n");
    expect(existsSync(marker)).toBe(true);
    await Bun.sleep(100);
    expect(listener.accepted).toBe(before);
  });

  test("--allow-unsandboxed changes nothing where Landlock works", async () => {
    const server = await start({ args: ["--allow-unsandboxed"] });
    const workdir = outsideDir("allow-unsandboxed-real");
    const marker = fresh(workdir);
    const result = await shell(server, { command: touchCmd(marker), workdir });
    expect(refusals(result.output)).toBe(`touch: cannot touch '${marker}': Permission denied\ntouch=1\n`);
    expect(existsSync(marker)).toBe(false);
  });
});

describe("no platform sandbox", () => {
  test("danger-full-access: writes anywhere and the network work", async () => {
    const workdir = outsideDir("full-cwd");
    await setSandbox(client, { type: "danger-full-access" }, workdir);
    const targets = [fresh(workdir), fresh(outsideDir("full-elsewhere")), fresh(slashTmpDir)];
    const before = listener.accepted;
    const result = await shell(client, {
      command: `${targets.map(touchCmd).join("; ")}; echo "disabled=\${CODEX_SANDBOX_NETWORK_DISABLED-unset}"; ${BASH_TCP}; ${STATUS_CMD}`,
      workdir: tempDir(),
    });
    expect(result.output).toBe(`touch=0\ntouch=0\ntouch=0\ndisabled=unset\nbash-tcp=hello\n${UNCONFINED_STATUS}`);
    for (const target of targets) expect(existsSync(target)).toBe(true);
    expect(listener.accepted).toBe(before + 1);
  });

  test("external-sandbox: full disk access, no platform sandbox of ours (the network is the outer sandbox's job)", async () => {
    const workdir = outsideDir("external");
    await setSandbox(client, { type: "external-sandbox", network_access: "restricted" }, workdir);
    const target = fresh(outsideDir("external-elsewhere"));
    const result = await shell(client, { command: `${touchCmd(target)}; echo "disabled=$CODEX_SANDBOX_NETWORK_DISABLED"; ${STATUS_CMD}`, workdir });
    expect(result.output).toBe(`touch=0\ndisabled=1\n${UNCONFINED_STATUS}`);
    expect(existsSync(target)).toBe(true);
  });
});
