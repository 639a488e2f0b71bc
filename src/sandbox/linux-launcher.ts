// Our binary's `codex-linux-sandbox` role: confine this thread with Landlock
// (and seccomp when the network is off), then execve the program at once.
// Landlock and seccomp are per-thread and survive execve, while Bun's other
// threads stay unconfined; exec'ing straight away replaces all of them with the
// one confined thread, which is why this never runs inside the server.
//
// Argument format: see the header of launch.ts (parseLauncherArgs).
// Exit status LAUNCHER_FAILURE_EXIT_CODE with one `codex-linux-sandbox: ...`
// line on stderr when anything fails before the program starts.
//
// Runs once per tool call: keep imports light (no zod, no consola), and never
// touch process.stdout/stderr (that sets O_NONBLOCK on shared pipes).
import { writeSync } from "node:fs";
import { ErrnoError } from "../ffi/errno.ts";
import {
  LandlockUnavailableError,
  READ_EXECUTE_RIGHTS,
  addPathBeneathRule,
  allFsRights,
  createRuleset,
  landlockAbiVersion,
  restrictSelf,
} from "../ffi/landlock.ts";
import { SIGKILL, setNoNewPrivs, setParentDeathSignal } from "../ffi/prctl.ts";
import { execve, exitNow, resetSignals } from "../ffi/process.ts";
import { installNetworkSeccompFilter } from "../ffi/seccomp.ts";
import { setCloexec } from "../ffi/socket.ts";
import { ESCALATE_SOCKET_ENV } from "../escalate/protocol.ts";
import { type LauncherOptions, NETWORK_DISABLED_ENV_VAR, parseLauncherArgs } from "./launch.ts";

/** The launcher's exit status when it refused or failed to start the program. */
export const LAUNCHER_FAILURE_EXIT_CODE = 121;

/**
 * Test seam, not a feature: when set to `1`, the launcher behaves as if the
 * kernel had no Landlock (ENOSYS), so tests can check the fail-closed path on
 * a machine that has it. Removed from the environment the program receives.
 */
export const SIMULATE_NO_LANDLOCK_ENV_VAR = "CODEX_EXEC_TEST_SIMULATE_NO_LANDLOCK";

const PREFIX = "codex-linux-sandbox";
const ENOSYS = 38;
const ENOENT = 2;

function printLine(line: string): void {
  writeSync(2, `${PREFIX}: ${line}\n`);
}

function landlockAbi(simulateUnavailable: boolean): number {
  if (simulateUnavailable) throw new LandlockUnavailableError(ENOSYS);
  return landlockAbiVersion();
}

/**
 * Read + execute beneath `/`, every file right on /dev/null, every right
 * beneath each writable root. Roots that do not exist are skipped: there is
 * nothing to grant on them.
 */
function applyLandlock(abi: number, roots: readonly string[]): void {
  const all = allFsRights(abi);
  const ruleset = createRuleset(all);
  addPathBeneathRule(ruleset, "/", READ_EXECUTE_RIGHTS);
  addPathBeneathRule(ruleset, "/dev/null", all);
  for (const root of roots) {
    try {
      addPathBeneathRule(ruleset, root, all);
    } catch (error) {
      if (!(error instanceof ErrnoError && error.errno === ENOENT)) throw error;
    }
  }
  restrictSelf(ruleset);
}

function confine(options: LauncherOptions, simulateNoLandlock: boolean): void {
  setParentDeathSignal(SIGKILL);
  setNoNewPrivs();
  let abi: number | undefined;
  try {
    abi = landlockAbi(simulateNoLandlock);
  } catch (error) {
    if (!(error instanceof LandlockUnavailableError)) throw error;
    if (!options.allowUnsandboxed) throw new Error(`${error.message}; refusing to run unconfined`);
    printLine(`warning: ${error.message}; running WITHOUT a filesystem sandbox (--allow-unsandboxed)`);
  }
  if (abi !== undefined) applyLandlock(abi, options.writableRoots);
  if (!options.allowNetwork) installNetworkSeccompFilter();
}

function resolveProgram(program: string, path: string | undefined): string {
  if (program.includes("/")) return program;
  const found = Bun.which(program, { PATH: path ?? "" });
  if (found === null) throw new Error(`${program}: command not found`);
  return found;
}

/**
 * Bun marked every inherited descriptor above 3 close-on-exec when we
 * started; the escalation socket (a high descriptor, named in the
 * environment) must still reach the program.
 */
function keepEscalationSocket(env: Record<string, string | undefined>): void {
  const fd = Number(env[ESCALATE_SOCKET_ENV] ?? Number.NaN);
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    setCloexec(fd, false);
  } catch {
    // Not open: the program starts without it, as it would have anyway.
  }
}

/** Entry point of the `codex-linux-sandbox` role; `args` as documented in launch.ts. */
export function runLinuxSandboxLauncher(args: string[]): never {
  try {
    const options = parseLauncherArgs(args);
    const env: Record<string, string | undefined> = { ...process.env };
    const simulateNoLandlock = env[SIMULATE_NO_LANDLOCK_ENV_VAR] === "1";
    delete env[SIMULATE_NO_LANDLOCK_ENV_VAR];
    const file = resolveProgram(options.program, env.PATH);
    confine(options, simulateNoLandlock);
    if (!options.allowNetwork) env[NETWORK_DISABLED_ENV_VAR] = "1";
    keepEscalationSocket(env);
    resetSignals();
    return execve(file, [options.program, ...options.programArgs], env);
  } catch (error) {
    printLine(error instanceof Error ? error.message : String(error));
    return exitNow(LAUNCHER_FAILURE_EXIT_CODE);
  }
}
