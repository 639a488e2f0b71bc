// Starting an escalated program outside the sandbox, as the wrapper asked:
// argv[0] preserved, the request's env and workdir, the wrapper's fds at the
// numbers it listed.
import type { Subprocess } from "bun";
import { constants } from "node:os";
import { closeFd, writeAll } from "../ffi/socket.ts";
import type { ExecRequest } from "./protocol.ts";

/** Exit code reported when the program could not be started at all. */
export const SPAWN_FAILED_EXIT = 127;
const SIGNAL_EXIT_BASE = 128;

export interface EscalatedProcess {
  /** Resolves with the exit code (128 + signal number when killed by a signal). */
  exited: Promise<number>;
  /** Kills the program and everything it started (its own process group). */
  kill(): void;
}

/**
 * Starts `request.file` with `received[i]` placed at fd `targets[i]`. Takes
 * ownership of `received`: they are closed once the child has its copies.
 */
export function spawnEscalated(request: ExecRequest, targets: readonly number[], received: readonly number[]): EscalatedProcess {
  const stdio: (number | "ignore")[] = ["ignore", "ignore", "ignore"];
  targets.forEach((target, i) => {
    while (stdio.length <= target) stdio.push("ignore");
    stdio[target] = received[i]!;
  });
  let child: Subprocess;
  try {
    child = Bun.spawn({
      cmd: [request.file, ...request.argv.slice(1)],
      argv0: request.argv[0] ?? request.file,
      env: request.env,
      cwd: request.workdir,
      stdio: stdio as ["ignore", "ignore", "ignore"],
      // Its own process group, so a timeout or cancellation can kill the
      // whole tree it starts.
      detached: true,
    });
  } catch (error) {
    const stderrIndex = targets.indexOf(2);
    if (stderrIndex >= 0) {
      const message = `codex-exec-mcp-server: cannot run ${request.file}: ${(error as Error).message}\n`;
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
