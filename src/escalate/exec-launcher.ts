// Our binary's `codex-escalate-exec` role: the last step between the server
// and an escalated program (Linux). The server cannot do this itself:
// Bun.spawn runs a path, and a path can be swapped while a human thinks about
// the question; nor can it arm a parent-death signal between fork and exec.
// So the server starts us, and we:
// - ask for SIGKILL when the server dies (SIGKILL of the server included),
//   then check that the server is still our parent, closing the race where it
//   died before the request was made;
// - leave the caller's descriptors open across exec (Bun marks inherited fds
//   >= 4 close-on-exec at start-up) and put signals back to their defaults;
// - execute the very file the server resolved and held open, by descriptor.
//
// Arguments: see exec-launcher-args.ts. Runs once per escalation: imports the
// FFI layer and the contract only, and never touches process.stdout/stderr.
import { writeSync } from "node:fs";
import { ErrnoError } from "../ffi/errno.ts";
import { SIGKILL, setParentDeathSignal } from "../ffi/prctl.ts";
import { exitNow, fexecve, parentPid, resetSignals } from "../ffi/process.ts";
import { setCloexec } from "../ffi/socket.ts";
import { CANNOT_EXECUTE_EXIT, type EscalatedExec, NOT_FOUND_EXIT, parseEscalatedExec } from "./exec-launcher-args.ts";

const SIGNAL_EXIT_BASE = 128;

function fail(message: string, code: number): never {
  try {
    writeSync(2, `codex-exec-mcp-server: ${message}\n`);
  } catch {
    // The caller's stderr is gone; the exit status still tells.
  }
  return exitNow(code);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function runEscalatedExec(args: string[]): never {
  let exec: EscalatedExec;
  try {
    exec = parseEscalatedExec(args);
  } catch (error) {
    return fail(`codex-escalate-exec: ${describe(error)}`, CANNOT_EXECUTE_EXIT);
  }
  const name = exec.argv[0] ?? "";
  try {
    setParentDeathSignal(SIGKILL);
    // Reparented already: the server is gone and nothing may start now.
    if (parentPid() !== exec.serverPid) return exitNow(SIGNAL_EXIT_BASE + SIGKILL);
    for (const fd of exec.keepFds) setCloexec(fd, false);
    setCloexec(exec.programFd, true);
    resetSignals();
    try {
      return fexecve(exec.programFd, exec.argv, exec.env);
    } catch (error) {
      // A script: its interpreter must be able to open /dev/fd/N.
      if (!(error instanceof ErrnoError && error.code === "ENOENT")) throw error;
      setCloexec(exec.programFd, false);
      return fexecve(exec.programFd, exec.argv, exec.env);
    }
  } catch (error) {
    const code = error instanceof ErrnoError && error.code === "ENOENT" ? NOT_FOUND_EXIT : CANNOT_EXECUTE_EXIT;
    return fail(`cannot run ${name}: ${describe(error)}`, code);
  }
}
