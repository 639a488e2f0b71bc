import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LinuxSandboxMode, SandboxUnavailableError, callSandbox, planSandboxedCommand } from "../../src/sandbox/launch.ts";
import {
  LINUX_SANDBOX_ARGV0,
  NAMESPACE_STAGE_ARGV0,
  launcherArgs,
  namespaceStageArgs,
  parseLauncherArgs,
} from "../../src/sandbox/launcher-args.ts";
import type { SandboxPolicy, SandboxState } from "../../src/sandbox/policy.ts";
import { SANDBOX_EXEC_PATH, type SeatbeltSandbox, seatbeltArgs, seatbeltProfile } from "../../src/sandbox/seatbelt.ts";

const base = mkdtempSync(join(tmpdir(), "sbx-seatbelt-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const workspace = join(base, "ws");
const extra = join(base, "extra");
mkdirSync(join(workspace, ".git"), { recursive: true });
mkdirSync(join(workspace, ".codex"));
mkdirSync(extra);

/** The call's sandbox for `sandboxPolicy` in the workspace, as the server computes it. */
function confined(sandboxPolicy: SandboxPolicy, env: Record<string, string> = {}): SeatbeltSandbox {
  const sandbox = callSandbox({ sandboxPolicy, codexLinuxSandboxExe: null, sandboxCwd: workspace, readOnlyPaths: [] }, env);
  if (sandbox.writableRoots === "everything") throw new Error("not a confined policy");
  return { writableRoots: sandbox.writableRoots, readOnlyPaths: sandbox.readOnlyPaths, allowNetwork: sandbox.allowNetwork };
}

const LANDLOCK_ONLY: LinuxSandboxMode = { kind: "landlock-only", reason: "test" };

const workspaceWrite = (network_access: boolean): SandboxPolicy & { type: "workspace-write" } => ({
  type: "workspace-write",
  writable_roots: [extra],
  network_access,
  exclude_tmpdir_env_var: true,
  exclude_slash_tmp: true,
});

describe("seatbelt profile", () => {
  test("read-only: closed by default, reads allowed, no writes but /dev/null, no network", () => {
    const { profile, params } = seatbeltProfile(confined({ type: "read-only" }));
    expect(profile.startsWith("(version 1)\n")).toBe(true);
    expect(profile).toContain("(deny default)");
    expect(profile).toContain("(allow file-read*)");
    expect(profile).toContain("(allow process-exec)");
    expect(profile).toContain("(allow process-fork)");
    expect(profile).toContain("(allow signal (target same-sandbox))");
    expect(profile).toContain("(allow sysctl-read");
    expect(profile).toContain('(allow file-write-data (require-all (literal "/dev/null") (vnode-type CHARACTER-DEVICE)))');
    expect(profile).not.toContain("(allow file-write*");
    expect(profile).not.toContain("network");
    expect(params).toEqual([]);
  });

  test("workspace-write: roots as params, .git and .codex carved out, paths never in the text", () => {
    const { profile, params } = seatbeltProfile(confined(workspaceWrite(false)));
    expect(params).toEqual([
      ["WRITABLE_ROOT_0", extra],
      ["WRITABLE_ROOT_1", workspace],
      ["WRITABLE_ROOT_1_RO_0", join(workspace, ".git")],
      ["WRITABLE_ROOT_1_RO_1", join(workspace, ".codex")],
    ]);
    expect(profile).toContain(
      '(allow file-write*\n  (subpath (param "WRITABLE_ROOT_0"))\n  (require-all (subpath (param "WRITABLE_ROOT_1"))' +
        ' (require-not (subpath (param "WRITABLE_ROOT_1_RO_0"))) (require-not (subpath (param "WRITABLE_ROOT_1_RO_1")))))',
    );
    expect(profile).not.toContain(base);
    expect(profile).not.toContain("(allow network");
  });

  test("network only when the policy enables it", () => {
    const { profile } = seatbeltProfile(confined(workspaceWrite(true)));
    expect(profile).toContain("(allow network-outbound)");
    expect(profile).toContain("(allow network-inbound)");
    expect(profile).toContain("(allow system-socket)");
  });

  test("/tmp and $TMPDIR become roots unless excluded", () => {
    const policy = { ...workspaceWrite(false), exclude_slash_tmp: false, exclude_tmpdir_env_var: false };
    const { params } = seatbeltProfile(confined(policy, { TMPDIR: extra }));
    expect(params.map(([key, value]) => `${key}=${value}`)).toContain("WRITABLE_ROOT_2=/tmp");
  });

  test("arguments: -p profile, -D params, --, command", () => {
    const command = ["/bin/bash", "-lc", "ls"];
    const args = seatbeltArgs(confined(workspaceWrite(false)), command);
    const { profile } = seatbeltProfile(confined(workspaceWrite(false)));
    expect(args).toEqual([
      "-p",
      profile,
      `-DWRITABLE_ROOT_0=${extra}`,
      `-DWRITABLE_ROOT_1=${workspace}`,
      `-DWRITABLE_ROOT_1_RO_0=${join(workspace, ".git")}`,
      `-DWRITABLE_ROOT_1_RO_1=${join(workspace, ".codex")}`,
      "--",
      ...command,
    ]);
  });
});

describe("planSandboxedCommand", () => {
  const bashArgv = ["/opt/bash", "-lc", "echo hi"];
  const state = (sandboxPolicy: SandboxPolicy): SandboxState => ({ sandboxPolicy, codexLinuxSandboxExe: null, sandboxCwd: workspace, readOnlyPaths: [] });
  const plan = (sandboxPolicy: SandboxPolicy, platform: NodeJS.Platform, allowUnsandboxed = false, linuxMode: LinuxSandboxMode = LANDLOCK_ONLY, mediateExecs = false) =>
    planSandboxedCommand({
      sandbox: callSandbox(state(sandboxPolicy), {}),
      bashArgv,
      selfExecutable: "/opt/self",
      env: { PATH: "/bin", GONE: undefined },
      platform,
      linuxMode,
      allowUnsandboxed,
      childFds: { reportFd: 4, socketFd: 10, execListenerFd: 12 },
      mediateExecs,
    });

  test("linux read-only: our binary as codex-linux-sandbox", () => {
    expect(plan({ type: "read-only" }, "linux")).toEqual({
      file: "/opt/self",
      argv0: LINUX_SANDBOX_ARGV0,
      args: ["--report-fd", "4", "--keep-fd", "10", "--", ...bashArgv],
      env: { PATH: "/bin", CODEX_SANDBOX_NETWORK_DISABLED: "1" },
      sandbox: "landlock",
      reportFd: 4,
      execListenerFd: null,
      degraded: false,
    });
  });

  test("exec mediation: the launcher gets the hand-over socket, under both confinements; never without a launcher", () => {
    const landlock = plan({ type: "read-only" }, "linux", false, LANDLOCK_ONLY, true);
    expect(landlock).toMatchObject({ sandbox: "landlock", execListenerFd: 12 });
    expect(landlock.args).toEqual(["--report-fd", "4", "--keep-fd", "10", "--exec-listener-fd", "12", "--", ...bashArgv]);
    const namespaces = plan({ type: "read-only" }, "linux", false, { kind: "namespaces", stage: "/opt/stage-bash" }, true);
    expect(namespaces).toMatchObject({ sandbox: "namespaces", execListenerFd: 12 });
    expect(namespaces.args).toContain("--exec-listener-fd");
    expect(plan({ type: "danger-full-access" }, "linux", false, LANDLOCK_ONLY, true)).toMatchObject({ sandbox: "none", execListenerFd: null });
    expect(plan({ type: "read-only" }, "darwin", false, LANDLOCK_ONLY, true)).toMatchObject({ sandbox: "seatbelt", execListenerFd: null });
  });

  test("linux with namespaces: the patched Bash's namespace stage, then our binary as codex-linux-sandbox", () => {
    const result = plan(workspaceWrite(false), "linux", false, { kind: "namespaces", stage: "/opt/stage-bash" });
    const protectedPaths = [join(workspace, ".codex"), join(workspace, ".git")];
    expect(result).toMatchObject({ file: "/opt/stage-bash", argv0: NAMESPACE_STAGE_ARGV0, sandbox: "namespaces", reportFd: 4 });
    expect(result.args).toEqual([
      "--report-fd", "4", "--unshare-net",
      "--rw", extra, "--rw", workspace,
      ...protectedPaths.flatMap((path) => ["--ro", path]),
      "--",
      "/opt/self", LINUX_SANDBOX_ARGV0, "--writable-root", extra, "--writable-root", workspace, "--report-fd", "4", "--keep-fd", "10", "--", ...bashArgv,
    ]);
  });

  test("linux workspace-write with network and degraded mode", () => {
    const result = plan(workspaceWrite(true), "linux", true);
    expect(result.args).toEqual([
      "--writable-root", extra, "--writable-root", workspace, "--allow-network", "--allow-unsandboxed", "--report-fd", "4", "--keep-fd", "10", "--", ...bashArgv,
    ]);
    expect(result.env).toEqual({ PATH: "/bin" });
  });

  test("full access runs bash directly", () => {
    for (const platform of ["linux", "darwin", "win32"] as NodeJS.Platform[]) {
      expect(plan({ type: "danger-full-access" }, platform)).toEqual({
        file: "/opt/bash", argv0: "/opt/bash", args: ["-lc", "echo hi"], env: { PATH: "/bin" }, sandbox: "none", reportFd: null, execListenerFd: null, degraded: false,
      });
    }
    expect(plan({ type: "external-sandbox", network_access: "restricted" }, "linux").env).toEqual({
      PATH: "/bin",
      CODEX_SANDBOX_NETWORK_DISABLED: "1",
    });
  });

  test("macOS: sandbox-exec with the profile", () => {
    const result = plan({ type: "read-only" }, "darwin");
    expect(result.file).toBe(SANDBOX_EXEC_PATH);
    expect(result.args).toEqual(seatbeltArgs(confined({ type: "read-only" }), bashArgv));
    expect(result.env.CODEX_SANDBOX).toBe("seatbelt");
    expect(result.sandbox).toBe("seatbelt");
    expect(result.reportFd).toBeNull();
  });

  test("a platform without a sandbox refuses unless degraded mode is on", () => {
    expect(() => plan({ type: "read-only" }, "win32")).toThrow(SandboxUnavailableError);
    expect(plan({ type: "read-only" }, "win32", true)).toMatchObject({ file: "/opt/bash", sandbox: "none", degraded: true });
  });
});

describe("launcher arguments", () => {
  test("launcherArgs round-trips through parseLauncherArgs", () => {
    const args = launcherArgs({ writableRoots: [extra, workspace], allowNetwork: false, allowUnsandboxed: true, reportFd: 7, keepFd: 10, execListenerFd: 12 });
    expect(parseLauncherArgs([...args, "--", "/bin/bash", "-c", "--allow-network"])).toEqual({
      writableRoots: [extra, workspace],
      allowNetwork: false,
      allowUnsandboxed: true,
      reportFd: 7,
      keepFd: 10,
      execListenerFd: 12,
      program: "/bin/bash",
      programArgs: ["-c", "--allow-network"],
    });
  });

  test("the -- may be missing; bad options are rejected", () => {
    expect(parseLauncherArgs(["bash", "-c", "x"])).toMatchObject({ program: "bash", programArgs: ["-c", "x"] });
    expect(() => parseLauncherArgs(["--bogus", "--", "bash"])).toThrow("unknown option");
    expect(() => parseLauncherArgs(["--writable-root", "rel", "--", "bash"])).toThrow("absolute path");
    expect(() => parseLauncherArgs(["--"])).toThrow("expected -- <program>");
  });

  function state(sandboxPolicy: SandboxPolicy): SandboxState {
    return { sandboxPolicy, codexLinuxSandboxExe: null, sandboxCwd: workspace, readOnlyPaths: [] };
  }
  test("the namespace stage gets parents before children, each path once", () => {
    expect(namespaceStageArgs({ writableRoots: ["/a/b", "/a", "/a"], readOnlyPaths: ["/a/b/.git", "/a/.git"], unshareNetwork: false, reportFd: null })).toEqual([
      "--rw", "/a", "--rw", "/a/b", "--ro", "/a/.git", "--ro", "/a/b/.git", "--",
    ]);
  });
});
