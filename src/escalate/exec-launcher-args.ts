// The argument contract of our binary's `codex-escalate-exec` role, defined
// once: the server writes it (spawn.ts), the role reads it (exec-launcher.ts).
// Imported on the role's start-up path: no imports.
//
//   codex-escalate-exec <server pid> <program fd> <fds to keep> <n> <KEY=VALUE>×n <argv0> [<arg>...]
//
// - <server pid>: the role exits at once if its parent is no longer that
//   process (the server died before the parent-death signal was armed).
// - <program fd>: the descriptor (O_PATH) of the approved file; executed as is.
// - <fds to keep>: comma-separated descriptor numbers the program inherits
//   (the caller's stdio), possibly empty.
// - <n> and the n KEY=VALUE entries: the program's whole environment. It
//   travels in argv so that the role itself starts in the server's own
//   environment: nothing chosen for the program (BUN_OPTIONS...) steers it.
// - the program's argv, argv[0] included.

export const ESCALATE_EXEC_ARGV0 = "codex-escalate-exec";
/** Exit status when the program could not be executed (as a shell reports it). */
export const CANNOT_EXECUTE_EXIT = 126;
/** Exit status when the program file was gone. */
export const NOT_FOUND_EXIT = 127;

export interface EscalatedExec {
  serverPid: number;
  programFd: number;
  keepFds: number[];
  env: Record<string, string>;
  argv: string[];
}

export class ExecLauncherUsageError extends Error {
  override name = "ExecLauncherUsageError";
}

export function formatEscalatedExec(exec: EscalatedExec): string[] {
  const env = Object.entries(exec.env).map(([key, value]) => `${key}=${value}`);
  return [String(exec.serverPid), String(exec.programFd), exec.keepFds.join(","), String(env.length), ...env, ...exec.argv];
}

function wholeNumber(raw: string | undefined, what: string): number {
  const value = Number(raw);
  if (raw === undefined || !/^[0-9]+$/.test(raw) || !Number.isSafeInteger(value)) throw new ExecLauncherUsageError(`${what} must be a whole number, got ${JSON.stringify(raw)}`);
  return value;
}

export function parseEscalatedExec(args: readonly string[]): EscalatedExec {
  const [pid, programFd, keep, count] = args;
  const serverPid = wholeNumber(pid, "server pid");
  const envCount = wholeNumber(count, "environment size");
  const entries = args.slice(4, 4 + envCount);
  const argv = args.slice(4 + envCount);
  if (entries.length !== envCount || argv.length === 0) throw new ExecLauncherUsageError("expected the environment entries, then argv");
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const equals = entry.indexOf("=");
    if (equals <= 0) throw new ExecLauncherUsageError(`environment entry without a name: ${JSON.stringify(entry)}`);
    env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return {
    serverPid,
    programFd: wholeNumber(programFd, "program fd"),
    keepFds: keep === "" || keep === undefined ? [] : keep.split(",").map((fd) => wholeNumber(fd, "kept fd")),
    env,
    argv,
  };
}
