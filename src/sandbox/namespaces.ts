// Whether this machine gives the namespace sandbox (new user, mount, PID, IPC
// and network namespaces, set up by our patched Bash's namespace stage), or
// only Landlock + seccomp. Decided once at start by running the stage's probe,
// which does every namespace and mount step but starts nothing.
import type { LinuxSandboxMode } from "./launch.ts";
import { LAUNCHER_FAILURE_EXIT_CODE, NAMESPACE_PROBE_ARGS, NAMESPACE_STAGE_ARGV0 } from "./launcher-args.ts";

/**
 * Test and diagnostic switch, not a feature: `1` in the server's environment
 * at start makes it use the fallback (Landlock + seccomp only) as if the
 * kernel refused user namespaces.
 */
export const DISABLE_NAMESPACES_ENV_VAR = "CODEX_EXEC_DISABLE_NAMESPACES";

/** What a call's sandbox lacks without namespaces (said once at start, by `doctor` and in the README). */
export const LOST_WITHOUT_NAMESPACES = [
  ".git, .codex, .agents and client-requested read-only paths inside writable roots stay writable",
  "file metadata outside the writable roots (chmod, chown, timestamps, xattrs) can be changed",
  "processes that leave the call's process group and close its descriptors outlive the call",
  "SysV IPC and the process list are shared with the rest of the machine",
  "signals and abstract Unix sockets reach outside processes where Landlock is older than ABI 6",
];

function firstLine(text: string): string {
  return text.trim().split("\n", 1)[0] ?? "";
}

/** Runs the namespace stage of `stage` (a patched Bash) in probe mode. */
export function detectLinuxSandbox(stage: string, env: Readonly<Record<string, string | undefined>>): LinuxSandboxMode {
  if (env[DISABLE_NAMESPACES_ENV_VAR] === "1") return { kind: "landlock-only", reason: `${DISABLE_NAMESPACES_ENV_VAR}=1` };
  let probe: ReturnType<typeof Bun.spawnSync>;
  try {
    probe = Bun.spawnSync([stage, ...NAMESPACE_PROBE_ARGS], {
      argv0: NAMESPACE_STAGE_ARGV0,
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    } as Parameters<typeof Bun.spawnSync>[1] & { argv0: string });
  } catch (error) {
    return { kind: "landlock-only", reason: `cannot start ${stage}: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (probe.exitCode === 0) return { kind: "namespaces", stage };
  const said = firstLine(probe.stderr?.toString() ?? "");
  if (probe.exitCode === LAUNCHER_FAILURE_EXIT_CODE) return { kind: "landlock-only", reason: said };
  return { kind: "landlock-only", reason: `${stage} has no namespace stage (not our patched Bash): exit ${probe.exitCode}${said === "" ? "" : `, ${said}`}` };
}
