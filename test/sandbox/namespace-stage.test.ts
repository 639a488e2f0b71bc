// The namespace stage of our patched Bash (scripts/bash/codex-namespace.c),
// run directly on this machine's kernel with the arguments the server writes
// (namespaceStageArgs), judged from outside.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { LAUNCHER_FAILURE_EXIT_CODE, NAMESPACE_PROBE_ARGS, NAMESPACE_STAGE_ARGV0, namespaceStageArgs } from "../../src/sandbox/launcher-args.ts";
import { DISABLE_NAMESPACES_ENV_VAR, detectLinuxSandbox } from "../../src/sandbox/namespaces.ts";
import { ensurePatchedBash } from "../../scripts/build-bash.ts";

/** Our patched Bash, as the build embeds it: the stage is linked into it. */
const STAGE = await ensurePatchedBash(process.arch === "arm64" ? "arm64" : "x64");

const base = realpathSync(mkdtempSync(join(existsSync("/var/tmp") ? "/var/tmp" : "/tmp", "ns-stage-")));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const root = join(base, "root");
const outside = join(base, "outside");
mkdirSync(join(root, "keep"), { recursive: true });
mkdirSync(outside);
writeFileSync(join(root, "keep", "file"), "kept\n");

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

function stage(args: string[], script: string, cwd = root): Run {
  const run = Bun.spawnSync([STAGE, ...args, "/bin/sh", "sh", "-c", script], {
    argv0: NAMESPACE_STAGE_ARGV0,
    cwd,
    stdout: "pipe",
    stderr: "pipe",
  } as Parameters<typeof Bun.spawnSync>[1] & { argv0: string });
  return { exitCode: run.exitCode, stdout: run.stdout?.toString() ?? "", stderr: run.stderr?.toString() ?? "" };
}

/** A new directory in `base` and a symbolic link to it: what the server resolved, swapped for a link since. */
function linkedDirectory(targetName: string, linkName: string): { target: string; link: string } {
  const target = join(base, targetName);
  mkdirSync(target);
  const link = join(base, linkName);
  symlinkSync(target, link);
  return { target, link };
}

describe("namespace stage", () => {
  test("the probe passes here, and the server's detection says so; the test switch forces the fallback", () => {
    const probe = Bun.spawnSync([STAGE, ...NAMESPACE_PROBE_ARGS], { argv0: NAMESPACE_STAGE_ARGV0 } as Parameters<typeof Bun.spawnSync>[1] & { argv0: string });
    expect(probe.exitCode).toBe(0);
    expect(detectLinuxSandbox(STAGE, {})).toEqual({ kind: "namespaces", stage: STAGE });
    expect(detectLinuxSandbox(STAGE, { [DISABLE_NAMESPACES_ENV_VAR]: "1" }).kind).toBe("landlock-only");
    const notOurs = detectLinuxSandbox("/bin/bash", {});
    expect(notOurs.kind).toBe("landlock-only");
    if (notOurs.kind === "landlock-only") expect(notOurs.reason).toContain("has no namespace stage");
  });

  test("a --ro path beneath a --rw root stays read-only, the rest of the root is writable, outside is read-only", () => {
    const args = namespaceStageArgs({ writableRoots: [root], readOnlyPaths: [join(root, "keep")], unshareNetwork: true, reportFd: null });
    const run = stage(
      args,
      `echo new > new && echo new-ok; echo x > keep/file; echo keep=$?; rm -f keep/file; echo rm=$?; mv keep kept; echo mv=$?; touch ${outside}/x; echo outside=$?`,
    );
    expect(run.stdout).toBe("new-ok\nkeep=2\nrm=1\nmv=1\noutside=1\n");
    expect(readFileSync(join(root, "keep", "file"), "utf8")).toBe("kept\n");
    expect(readFileSync(join(root, "new"), "utf8")).toBe("new\n");
    expect(existsSync(join(outside, "x"))).toBe(false);
  });

  test("a root that is not what the server resolved (a symlink now) is skipped and stays read-only", () => {
    const { target, link } = linkedDirectory("symlink-target", "link-root");
    const run = stage(namespaceStageArgs({ writableRoots: [link], readOnlyPaths: [], unshareNetwork: false, reportFd: null }), `touch ${link}/x; echo touch=$?`, base);
    expect(run.stdout).toBe("touch=1\n");
    expect(existsSync(join(target, "x"))).toBe(false);
  });

  test("a read-only path that is not what the server resolved (a symlink now) fails the call; nothing runs", () => {
    const { link } = linkedDirectory("ro-target", "ro-link");
    const marker = join(root, "ran");
    const run = stage(namespaceStageArgs({ writableRoots: [root], readOnlyPaths: [link], unshareNetwork: false, reportFd: null }), `touch ${marker}`);
    expect(run.exitCode).toBe(LAUNCHER_FAILURE_EXIT_CODE);
    expect(run.stderr).toBe(`codex-linux-sandbox: namespace sandbox: changed while the sandbox was being set up ${link}: Stale file handle\n`);
    expect(existsSync(marker)).toBe(false);
  });

  test("missing paths are skipped; the program's exit status comes back, 128 + signal for a signal", () => {
    const missing = join(base, "missing");
    const args = namespaceStageArgs({ writableRoots: [missing], readOnlyPaths: [join(missing, ".git")], unshareNetwork: false, reportFd: null });
    expect(stage(args, "exit 7").exitCode).toBe(7);
    expect(stage(args, "kill -9 $$").exitCode).toBe(137);
  });

  test("the session keyring the stage inherits is out of the shell's reach", () => {
    // Outside: a session keyring of our own holding a canary key; then the
    // stage runs a shell that tries to replace it; then we read it back.
    const script = String.raw`
import ctypes, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS = {"x86_64": (248, 250), "aarch64": (217, 219)}[__import__("platform").machine()]
add_key = lambda value: libc.syscall(SYS[0], b"user", b"codex-canary", value, len(value), -3)
if libc.syscall(SYS[1], 1, b"codex-outer") < 0: sys.exit("join failed")
if add_key(b"outside") < 0: sys.exit("add failed")
stage = subprocess.run(sys.argv[1:] + [sys.executable, sys.executable, "-c", "import ctypes, sys\nlibc = ctypes.CDLL(None)\nS = " + repr(SYS) + "\nsys.exit(0 if libc.syscall(S[0], b'user', b'codex-canary', b'sandbox', 7, -3) >= 0 else 3)"])
key = libc.syscall(SYS[1], 10, -3, b"user", b"codex-canary", 0)
buffer = ctypes.create_string_buffer(64)
length = libc.syscall(SYS[1], 11, key, buffer, 64)
print(stage.returncode, buffer.raw[:length].decode())
`;
    const args = namespaceStageArgs({ writableRoots: [], readOnlyPaths: [], unshareNetwork: true, reportFd: null });
    const run = Bun.spawnSync(["/usr/bin/python3", "-c", script, "/bin/bash", "-c", `exec -a ${NAMESPACE_STAGE_ARGV0} ${STAGE} "$@"`, "_", ...args], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(run.stderr.toString()).toBe("");
    // The shell's add_key worked on its own keyring; ours still holds "outside".
    expect(run.stdout.toString()).toBe("0 outside\n");
  });

  test("a failure before the program starts: one line on the report descriptor, the launchers' exit status", () => {
    const run = Bun.spawnSync(["/bin/bash", "-c", `exec 5>&1 1>/dev/null; exec -a ${NAMESPACE_STAGE_ARGV0} ${STAGE} --report-fd 5 --`], { stdout: "pipe", stderr: "pipe" });
    expect(run.exitCode).toBe(LAUNCHER_FAILURE_EXIT_CODE);
    expect(run.stdout.toString()).toMatch(/^codex-linux-sandbox: namespace sandbox: usage -- FILE ARGV0 \[ARG\]\.\.\.: Invalid argument\n$/);
    expect(run.stderr.toString()).toBe("");
  });
});
