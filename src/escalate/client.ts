// The `codex-execve-wrapper` role: the patched Bash runs us instead of every
// program, as `codex-execve-wrapper <file> <argv0> <argv1> ...`. We ask the
// server what to do and then run the program in place, let the server run it
// outside the sandbox, or refuse. This runs once per program Bash starts, so it
// imports nothing but the FFI layer and the protocol.
import { ErrnoError } from "../ffi/errno.ts";
import { execve, exitNow, resetSignals } from "../ffi/process.ts";
import { closeFd, isUnixMessageSocket, readSome, sendWithFds, setCloexec, socketPair, SOCK_STREAM, writeAll } from "../ffi/socket.ts";
import {
  BASH_EXEC_WRAPPER_ENV,
  encodeFrame,
  ESCALATE_SOCKET_ENV,
  EXEC_WRAPPER_ENV,
  FrameReader,
  INTERCEPTION_ENV,
  parseEscalateResponse,
  parseSuperExecResult,
} from "./protocol.ts";

const STDIO_FDS = [0, 1, 2];
const HANDSHAKE = new Uint8Array([0]);
const READ_CHUNK_BYTES = 64 * 1024;
/** Exit code when the wrapper itself cannot work (like a shell's "cannot execute"). */
const WRAPPER_FAILURE_EXIT = 126;
const NOT_FOUND_EXIT = 127;

function fail(message: string, code = WRAPPER_FAILURE_EXIT): never {
  writeAll(2, new TextEncoder().encode(`codex-execve-wrapper: ${message}\n`));
  exitNow(code);
}

function escalateSocketFd(): number {
  const raw = process.env[ESCALATE_SOCKET_ENV];
  const fd = raw === undefined ? Number.NaN : Number(raw);
  if (!Number.isInteger(fd) || fd < 0) fail(`${ESCALATE_SOCKET_ENV} is not a valid file descriptor: ${raw ?? "(unset)"}`);
  return fd;
}

function programEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !(INTERCEPTION_ENV as readonly string[]).includes(key)) env[key] = value;
  }
  return env;
}

function readFrame(fd: number, reader: FrameReader): Uint8Array {
  for (;;) {
    const chunk = readSome(fd, READ_CHUNK_BYTES);
    if (chunk.byteLength === 0) fail("the exec server closed the connection");
    const [frame] = reader.push(chunk);
    if (frame !== undefined) return frame;
  }
}

/** Runs the program in place; `escalateFd` (null: there is none) stays open for the shells it may start. */
function runInPlace(escalateFd: number | null, file: string, argv: string[]): never {
  // The next program Bash starts must still reach the server: Bun marked the
  // inherited socket close-on-exec at start-up.
  if (escalateFd !== null) setCloexec(escalateFd, false);
  resetSignals();
  // A script that unset the wrapper variables before starting another shell
  // does not switch interception off in that shell: we put them back.
  const env = { ...process.env, [BASH_EXEC_WRAPPER_ENV]: process.argv0, [EXEC_WRAPPER_ENV]: process.argv0 };
  try {
    execve(file, argv, env);
  } catch (error) {
    const code = error instanceof ErrnoError && error.code === "ENOENT" ? NOT_FOUND_EXIT : WRAPPER_FAILURE_EXIT;
    fail(`${file}: ${(error as Error).message}`, code);
  }
}

export function runExecWrapper(args: string[]): never {
  const [file, ...argv] = args;
  if (file === undefined || argv.length === 0) fail("usage: codex-execve-wrapper <file> <argv0> [args...]", 2);
  const escalateFd = escalateSocketFd();
  // The socket is gone (a parent closed it; the number may now be a file or
  // a connection of the command's): nothing may be written to it. The
  // program runs in place, inside the sandbox, as it would under a plain
  // shell.
  if (!isUnixMessageSocket(escalateFd)) runInPlace(null, file, argv);
  try {
    const [serverEnd, ourEnd] = socketPair(SOCK_STREAM);
    sendWithFds(escalateFd, HANDSHAKE, [serverEnd]);
    closeFd(serverEnd);
    writeAll(ourEnd, encodeFrame({ file, argv, workdir: process.cwd(), env: programEnv() }));
    const reader = new FrameReader();
    const { action } = parseEscalateResponse(readFrame(ourEnd, reader));
    if (action === "Run") {
      closeFd(ourEnd);
      runInPlace(escalateFd, file, argv);
    }
    if (action === "Escalate") {
      const frame = encodeFrame({ fds: STDIO_FDS });
      const sent = sendWithFds(ourEnd, frame, STDIO_FDS);
      writeAll(ourEnd, frame.subarray(sent));
      const { exit_code } = parseSuperExecResult(readFrame(ourEnd, reader));
      exitNow(exit_code);
    }
    const reason = action.Deny.reason;
    writeAll(2, new TextEncoder().encode(reason === null ? "Execution denied\n" : `Execution denied: ${reason}\n`));
    exitNow(1);
  } catch (error) {
    fail((error as Error).message);
  }
}
