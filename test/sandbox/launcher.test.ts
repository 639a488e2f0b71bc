// Runs the real launcher (from source, through the fixture) on this machine.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { callSandbox } from "../../src/sandbox/launch.ts";
import { LAUNCHER_FAILURE_EXIT_CODE, launcherArgs } from "../../src/sandbox/launcher-args.ts";
import { SIMULATE_NO_LANDLOCK_ENV_VAR } from "../../src/sandbox/linux-launcher.ts";
import type { SandboxPolicy } from "../../src/sandbox/policy.ts";

const FIXTURE = join(import.meta.dir, "fixtures", "launcher.ts");
const PYTHON = Bun.which("python3");

// /var/tmp: outside /tmp, so "writable elsewhere?" is not answered by the /tmp rule.
const base = mkdtempSync(join(existsSync("/var/tmp") ? "/var/tmp" : "/tmp", "sbx-launcher-"));
const slashTmp = mkdtempSync("/tmp/sbx-launcher-");
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(slashTmp, { recursive: true, force: true });
});
const cwd = join(base, "cwd");
const root = join(base, "root");
const outside = join(base, "outside");
for (const dir of [cwd, root, outside]) mkdirSync(dir);

interface Result {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function launch(launcherArgs: string[], script: string, extraEnv: Record<string, string> = {}): Promise<Result> {
  const child = Bun.spawn([process.execPath, FIXTURE, ...launcherArgs, "--", "/bin/bash", "-c", script], {
    env: { ...process.env, ...extraEnv },
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, stdout, stderr };
}

function argsFor(sandboxPolicy: SandboxPolicy, env: Record<string, string | undefined> = {}): string[] {
  const sandbox = callSandbox({ sandboxPolicy, codexLinuxSandboxExe: null, sandboxCwd: cwd, readOnlyPaths: [] }, env);
  const writableRoots = sandbox.writableRoots === "everything" ? [] : [...sandbox.writableRoots];
  return launcherArgs({ writableRoots, allowNetwork: sandbox.allowNetwork, allowUnsandboxed: false, reportFd: null, keepFd: null, execListenerFd: null });
}

const workspaceWrite = (overrides: Partial<Extract<SandboxPolicy, { type: "workspace-write" }>> = {}): SandboxPolicy => ({
  type: "workspace-write",
  writable_roots: [root],
  network_access: false,
  exclude_tmpdir_env_var: false,
  exclude_slash_tmp: false,
  ...overrides,
});

describe("read-only", () => {
  const readOnly = argsFor({ type: "read-only" });

  test("writes fail with Permission denied; reads and /dev/null work", async () => {
    const result = await launch(readOnly, `touch ${cwd}/x; echo "touch=$?"; cat /etc/hostname >/dev/null && echo read-ok; echo x > /dev/null && echo devnull-ok`);
    expect(result.stderr).toContain("Permission denied");
    expect(result.stdout).toContain("touch=1");
    expect(result.stdout).toContain("read-ok");
    expect(result.stdout).toContain("devnull-ok");
    expect(existsSync(join(cwd, "x"))).toBe(false);
  });

  test("children inherit it, no_new_privs and seccomp are on, the exit code passes through", async () => {
    const result = await launch(readOnly, `bash -c 'touch ${slashTmp}/child' 2>/dev/null; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; exit 7`);
    expect(result.exitCode).toBe(7);
    expect(result.stdout).toContain("NoNewPrivs:\t1");
    expect(result.stdout).toContain("Seccomp:\t2");
    expect(existsSync(join(slashTmp, "child"))).toBe(false);
  });

  test("SIGPIPE is back to default: yes | head -1 ends", async () => {
    const result = await launch(readOnly, `yes | head -1; echo "yes=\${PIPESTATUS[0]}"`);
    expect(result.stdout).toBe("y\nyes=141\n");
  });
});

describe("workspace-write", () => {
  test("sandboxCwd, writable roots and /tmp are writable; elsewhere is not", async () => {
    const result = await launch(
      argsFor(workspaceWrite()),
      `touch ${cwd}/a && touch ${root}/b && mkdir ${root}/d && touch ${slashTmp}/c && rm ${root}/b && echo ok;` +
        ` touch ${outside}/no; echo "outside=$?"`,
    );
    expect(result.stdout).toContain("ok\n");
    expect(result.stdout).toContain("outside=1");
    expect(result.stderr).toContain("Permission denied");
    expect(existsSync(join(cwd, "a"))).toBe(true);
    expect(existsSync(join(slashTmp, "c"))).toBe(true);
    expect(existsSync(join(outside, "no"))).toBe(false);
  });

  test("exclude_slash_tmp takes /tmp away; $TMPDIR counts unless excluded", async () => {
    const tmpdirRoot = join(base, "tmpdir");
    mkdirSync(tmpdirRoot);
    const env = { TMPDIR: tmpdirRoot };
    const excluded = await launch(argsFor(workspaceWrite({ exclude_slash_tmp: true }), env), `touch ${slashTmp}/e; echo "tmp=$?"; touch ${tmpdirRoot}/t; echo "tmpdir=$?"`);
    expect(excluded.stdout).toBe("tmp=1\ntmpdir=0\n");
    const both = await launch(argsFor(workspaceWrite({ exclude_slash_tmp: true, exclude_tmpdir_env_var: true }), env), `touch ${tmpdirRoot}/u; echo "tmpdir=$?"`);
    expect(both.stdout).toBe("tmpdir=1\n");
  });

  test("a writable root that does not exist is skipped", async () => {
    const result = await launch(argsFor(workspaceWrite({ writable_roots: [join(base, "missing")] })), "echo ran");
    expect(result).toMatchObject({ exitCode: 0, stdout: "ran\n" });
  });
});

describe("network", () => {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  afterAll(() => listener.stop(true));
  const tcp = `exec 3<>/dev/tcp/127.0.0.1/${listener.port} && echo connected`;
  const pythonConnect = `python3 -c "import socket; socket.create_connection(('127.0.0.1', ${listener.port})); print('py-connected')"`;

  test("off: TCP fails, the marker variable is set", async () => {
    const result = await launch(argsFor(workspaceWrite()), `${tcp}; echo "net=$CODEX_SANDBOX_NETWORK_DISABLED"`);
    expect(result.stdout).not.toContain("connected");
    expect(result.stdout).toContain("net=1");
  });

  test.skipIf(PYTHON === null)("off: python connect fails, AF_UNIX socketpair and sendmsg still work", async () => {
    const unix = `python3 -c "import socket; a, b = socket.socketpair(); a.sendmsg([b'hi']); print(b.recv(2).decode()); socket.socket(socket.AF_UNIX).close(); print('unix-ok')"`;
    const result = await launch(argsFor({ type: "read-only" }), `${pythonConnect}; ${unix}`);
    expect(result.stdout).not.toContain("py-connected");
    expect(result.stderr).toContain("PermissionError");
    expect(result.stdout).toContain("hi\nunix-ok\n");
  });

  test("on: TCP works, no seccomp filter, no marker variable", async () => {
    const pythonPart = PYTHON === null ? "" : `; ${pythonConnect}`;
    const result = await launch(argsFor(workspaceWrite({ network_access: true })), `${tcp}; grep '^Seccomp:' /proc/self/status; echo "net=\${CODEX_SANDBOX_NETWORK_DISABLED-unset}"${pythonPart}`);
    expect(result.stdout).toContain("connected\n");
    expect(result.stdout).toContain("Seccomp:\t0");
    expect(result.stdout).toContain("net=unset");
    if (PYTHON !== null) expect(result.stdout).toContain("py-connected");
  });
});

describe("failures", () => {
  test("simulated missing Landlock: clear message, distinctive exit code, nothing runs", async () => {
    const marker = join(slashTmp, "must-not-exist");
    const result = await launch(argsFor(workspaceWrite()), `touch ${marker}; echo ran`, { [SIMULATE_NO_LANDLOCK_ENV_VAR]: "1" });
    expect(result.exitCode).toBe(LAUNCHER_FAILURE_EXIT_CODE);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      "codex-linux-sandbox: Landlock is not available on this kernel (landlock_create_ruleset: ENOSYS); refusing to run unconfined\n",
    );
    expect(existsSync(marker)).toBe(false);
  });

  test("degraded mode runs unconfined with a warning, and the seam variable is not passed on", async () => {
    const marker = join(outside, "degraded");
    const result = await launch(
      [...argsFor({ type: "read-only" }), "--allow-unsandboxed"],
      `touch ${marker} && echo "wrote seam=\${${SIMULATE_NO_LANDLOCK_ENV_VAR}-unset}"`,
      { [SIMULATE_NO_LANDLOCK_ENV_VAR]: "1" },
    );
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toStartWith("codex-linux-sandbox: warning: Landlock is not available on this kernel");
    expect(result.stdout).toBe("wrote seam=unset\n");
    expect(readFileSync(marker, "utf8")).toBe("");
  });

  test("bad arguments and a missing program fail with the launcher's exit code", async () => {
    const bad = await launch(["--bogus"], "echo ran");
    expect(bad.exitCode).toBe(LAUNCHER_FAILURE_EXIT_CODE);
    expect(bad.stderr).toBe('codex-linux-sandbox: invalid arguments: unknown option "--bogus"\n');
    const child = Bun.spawnSync([process.execPath, FIXTURE, "--", "/nonexistent/prog"], { stderr: "pipe" });
    expect(child.exitCode).toBe(LAUNCHER_FAILURE_EXIT_CODE);
    expect(child.stderr.toString()).toBe("codex-linux-sandbox: execve /nonexistent/prog failed: ENOENT\n");
  });
});
