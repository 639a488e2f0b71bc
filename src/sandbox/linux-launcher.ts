// Our binary's `codex-linux-sandbox` role: confine this thread with Landlock
// (and seccomp when the network is off), then execve the program at once.
// Landlock and seccomp are per-thread and survive execve, while Bun's other
// threads stay unconfined; exec'ing straight away replaces all of them with the
// one confined thread, which is why this never runs inside the server.
//
// With namespaces, the namespace stage (scripts/bash/codex-namespace.c) has
// already made the mounts; this adds what it cannot: Landlock and seccomp.
//
// Argument format: launcher-args.ts. Exit status LAUNCHER_FAILURE_EXIT_CODE
// with one `codex-linux-sandbox: ...` line on the report descriptor (else
// stderr) when anything fails before the program starts.
//
// Runs once per tool call: keep imports light (no zod, no consola), and never
// touch process.stdout/stderr (that sets O_NONBLOCK on shared pipes).
import { writeSync } from "node:fs";
import { EBUSY, ENOENT, ENOSYS, ErrnoError } from "../ffi/errno.ts";
import {
  AccessFs,
  LandlockUnavailableError,
  READ_EXECUTE_RIGHTS,
  addPathBeneathRule,
  allFsRights,
  Scope,
  scopesAvailable,
  createRuleset,
  landlockAbiVersion,
  restrictSelf,
} from "../ffi/landlock.ts";
import { SIGKILL, setNoNewPrivs, setParentDeathSignal } from "../ffi/prctl.ts";
import { execve, exitNow, resetSignals } from "../ffi/process.ts";
import { installNetworkSeccompFilter } from "../ffi/seccomp.ts";
import { installExecNotifyFilter } from "../ffi/seccomp-notify.ts";
import { closeFd, sendWithFds, setCloexec } from "../ffi/socket.ts";
import { EXEC_LISTENER_MESSAGE, EXEC_MEDIATION_UNAVAILABLE, LAUNCHER_FAILURE_EXIT_CODE, type LauncherContract, NETWORK_DISABLED_ENV_VAR, parseLauncherArgs } from "./launcher-args.ts";

/**
 * Test seam, not a feature: when set to `1`, the launcher behaves as if the
 * kernel had no Landlock (ENOSYS), so tests can check the fail-closed path on
 * a machine that has it. Removed from the environment the program receives.
 */
export const SIMULATE_NO_LANDLOCK_ENV_VAR = "CODEX_EXEC_TEST_SIMULATE_NO_LANDLOCK";

const PREFIX = "codex-linux-sandbox";

function printLine(line: string, fd = 2): void {
  writeSync(fd, `${PREFIX}: ${line}\n`);
}

/** Where a refusal goes: the report descriptor from the arguments once they are parsed. */
let reportFd = 2;

function landlockAbi(simulateUnavailable: boolean): number {
  if (simulateUnavailable) throw new LandlockUnavailableError(ENOSYS);
  return landlockAbiVersion();
}

/**
 * Read + execute beneath `/`, every file right on /dev/null, every right but
 * making device nodes beneath each writable root (a root user could otherwise
 * `mknod` the kernel's devices there). Roots that do not exist are skipped:
 * there is nothing to grant on them. Where the ABI has scopes, signals cannot
 * reach outside the sandbox, nor (with the network off) abstract Unix sockets.
 */
function applyLandlock(abi: number, roots: readonly string[], allowNetwork: boolean): void {
  const all = allFsRights(abi);
  const scopes = scopesAvailable(abi) ? Scope.SIGNAL | (allowNetwork ? 0n : Scope.ABSTRACT_UNIX_SOCKET) : 0n;
  const ruleset = createRuleset(all, scopes);
  addPathBeneathRule(ruleset, "/", READ_EXECUTE_RIGHTS);
  addPathBeneathRule(ruleset, "/dev/null", all);
  const inRoots = all & ~(AccessFs.MAKE_CHAR | AccessFs.MAKE_BLOCK);
  for (const root of roots) {
    try {
      addPathBeneathRule(ruleset, root, inRoots);
    } catch (error) {
      if (!(error instanceof ErrnoError && error.errno === ENOENT)) throw error;
    }
  }
  restrictSelf(ruleset);
}

function confine(options: LauncherContract, simulateNoLandlock: boolean): void {
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
  if (abi !== undefined) applyLandlock(abi, options.writableRoots, options.allowNetwork);
  if (!options.allowNetwork) installNetworkSeccompFilter();
  if (options.execListenerFd !== null) handOverExecListener(options.execListenerFd);
}

/**
 * Puts every exec from here on under the server's judgement (see
 * launcher-args.ts): the filter's listener goes to the server, and neither it
 * nor the socket it went over stays open in this process.
 */
function handOverExecListener(socket: number): void {
  let listener: number;
  try {
    listener = installExecNotifyFilter();
  } catch (error) {
    if (!(error instanceof ErrnoError && error.errno === EBUSY)) throw error;
    sendWithFds(socket, new TextEncoder().encode(`${EXEC_MEDIATION_UNAVAILABLE}${error.message} (another listener already mediates this process)`), []);
    closeFd(socket);
    return;
  }
  try {
    sendWithFds(socket, new TextEncoder().encode(EXEC_LISTENER_MESSAGE), [listener]);
  } finally {
    closeFd(listener);
    closeFd(socket);
  }
}

function resolveProgram(program: string, path: string | undefined): string {
  if (program.includes("/")) return program;
  const found = Bun.which(program, { PATH: path ?? "" });
  if (found === null) throw new Error(`${program}: command not found`);
  return found;
}

/**
 * Hands the program a descriptor it inherited from the server (the
 * escalation socket): Bun marked it close-on-exec when this role started.
 */
function keepInherited(fd: number): void {
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
    if (options.reportFd !== null) {
      reportFd = options.reportFd;
      setCloexec(reportFd, true);
    }
    const env: Record<string, string | undefined> = { ...process.env };
    const simulateNoLandlock = env[SIMULATE_NO_LANDLOCK_ENV_VAR] === "1";
    delete env[SIMULATE_NO_LANDLOCK_ENV_VAR];
    const file = resolveProgram(options.program, env.PATH);
    confine(options, simulateNoLandlock);
    if (!options.allowNetwork) env[NETWORK_DISABLED_ENV_VAR] = "1";
    if (options.keepFd !== null) keepInherited(options.keepFd);
    resetSignals();
    return execve(file, [options.program, ...options.programArgs], env);
  } catch (error) {
    printLine(error instanceof Error ? error.message : String(error), reportFd);
    return exitNow(LAUNCHER_FAILURE_EXIT_CODE);
  }
}
