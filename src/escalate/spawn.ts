// Starting an escalated program outside the sandbox: the approved file (by
// descriptor on Linux, through our `codex-escalate-exec` role), the argv[0]
// and environment the decider chose, the request's workdir, the wrapper's fds
// at the numbers it listed.
import type { Subprocess } from "bun";
import { constants } from "node:os";
import { closeFd, writeAll } from "../ffi/socket.ts";
import { ESCALATE_EXEC_ARGV0, formatEscalatedExec, NOT_FOUND_EXIT } from "./exec-launcher-args.ts";

/** Exit code reported when the program could not be started at all. */
export const SPAWN_FAILED_EXIT = NOT_FOUND_EXIT;
const SIGNAL_EXIT_BASE = 128;

export interface EscalatedProcess {
  /** Resolves with the exit code (128 + signal number when killed by a signal). */
  exited: Promise<number>;
  /** Kills the program and everything it started (its own process group). */
  kill(): void;
}

export interface EscalationLaunch {
  /** The resolved program (for messages; and what runs where no descriptor is held). */
  file: string;
  /** The program held open (Linux): this descriptor is what runs. */
  fd: number | null;
  /** argv[0] included. */
  argv: string[];
  /** The program's whole environment. */
  env: Record<string, string>;
  workdir: string;
  /** Our own binary, for the `codex-escalate-exec` role. */
  launcher: string;
}

type Stdio = number | "ignore";

/** What to spawn: the launcher role around the held descriptor, or (without one) the file itself. */
function command(launch: EscalationLaunch, targets: readonly number[], stdio: Stdio[]): { cmd: string[]; argv0: string; env: Record<string, string> | undefined } {
  if (launch.fd === null) return { cmd: [launch.file, ...launch.argv.slice(1)], argv0: launch.argv[0] ?? launch.file, env: launch.env };
  // The descriptor goes to the first free number above stdio.
  let programFd = 3;
  while (targets.includes(programFd)) programFd++;
  while (stdio.length <= programFd) stdio.push("ignore");
  stdio[programFd] = launch.fd;
  const args = formatEscalatedExec({ serverPid: process.pid, programFd, keepFds: [...targets], env: launch.env, argv: launch.argv });
  // The role starts in the server's own environment; the program's travels in args.
  return { cmd: [launch.launcher, ...args], argv0: ESCALATE_EXEC_ARGV0, env: undefined };
}

/**
 * Starts `launch` with `received[i]` placed at fd `targets[i]`. Takes
 * ownership of `received`: they are closed once the child has its copies.
 * `launch.fd` stays the caller's.
 */
export function spawnEscalated(launch: EscalationLaunch, targets: readonly number[], received: readonly number[]): EscalatedProcess {
  const stdio: Stdio[] = ["ignore", "ignore", "ignore"];
  targets.forEach((target, i) => {
    while (stdio.length <= target) stdio.push("ignore");
    stdio[target] = received[i]!;
  });
  let child: Subprocess;
  try {
    const { cmd, argv0, env } = command(launch, targets, stdio);
    child = Bun.spawn({
      cmd,
      argv0,
      env,
      cwd: launch.workdir,
      stdio: stdio as ["ignore", "ignore", "ignore"],
      // Its own process group, so a timeout or cancellation can kill the
      // whole tree it starts.
      detached: true,
    });
  } catch (error) {
    const stderrIndex = targets.indexOf(2);
    if (stderrIndex >= 0) {
      const message = `codex-exec-mcp-server: cannot run ${launch.file}: ${(error as Error).message}\n`;
      try {
        writeAll(received[stderrIndex]!, new TextEncoder().encode(message));
      } catch {
        // The caller's stderr is gone; the exit code still tells the story.
      }
    }
    received.forEach(closeFd);
    return { exited: Promise.resolve(SPAWN_FAILED_EXIT), kill: () => {} };
  }
  received.forEach(closeFd);
  const spawned = child;
  return {
    exited: spawned.exited.then(() =>
      spawned.signalCode !== null ? SIGNAL_EXIT_BASE + (signalNumber(spawned.signalCode) ?? 0) : (spawned.exitCode ?? SPAWN_FAILED_EXIT),
    ),
    kill: () => {
      try {
        process.kill(-spawned.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    },
  };
}

/** Bun reports a signal by name, or by number when it has no name for it. */
function signalNumber(signal: string | number): number | undefined {
  return typeof signal === "number" ? signal : (constants.signals as Record<string, number>)[signal];
}
