// Replacing the current process image, and the process state that must be
// cleaned up first because Bun changed it at start-up.
import { ptr, type Pointer } from "bun:ffi";
import { ErrnoError } from "./errno.ts";
import { lastErrno, libc } from "./libc.ts";

const SIG_SETMASK = process.platform === "darwin" ? 3 : 2;
const SIGNAL_SET_BYTES = 128;
const SIGPIPE = 13;
const SIGXFSZ = 25;
const SIG_DFL = 0;

function cString(value: string): Uint8Array {
  return new TextEncoder().encode(`${value}\0`);
}

/**
 * Undoes what Bun did to signals at start-up before we exec another program:
 * it ignores SIGPIPE and SIGXFSZ, and an ignored disposition survives execve
 * (`yes | head` would then spin on EPIPE). Only those two are reset, so a
 * disposition the shell chose on purpose (`trap '' HUP`) still reaches the
 * program. Handled signals go back to default by themselves on exec.
 */
export function resetSignals(): void {
  for (const signal of [SIGPIPE, SIGXFSZ]) libc.signal(signal, SIG_DFL as unknown as Pointer);
  const emptySet = new Uint8Array(new ArrayBuffer(SIGNAL_SET_BYTES));
  libc.sigprocmask(SIG_SETMASK, ptr(emptySet), null);
}

function pointerTable(strings: readonly Uint8Array[]): BigUint64Array {
  const table = new BigUint64Array(new ArrayBuffer((strings.length + 1) * 8));
  strings.forEach((value, i) => {
    table[i] = BigInt(ptr(value));
  });
  return table;
}

/**
 * Replaces this process with `file`, passing `argv` as given (argv[0] included)
 * and exactly `env`. Only returns by throwing.
 */
export function execve(file: string, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): never {
  const path = cString(file);
  const argStrings = argv.map(cString);
  const envStrings = Object.entries(env).flatMap(([key, value]) => (value === undefined ? [] : [cString(`${key}=${value}`)]));
  const argTable = pointerTable(argStrings);
  const envTable = pointerTable(envStrings);
  libc.execve(ptr(path), ptr(argTable), ptr(envTable));
  throw new ErrnoError(`execve ${file}`, lastErrno());
}

/** Leaves immediately with `code`, skipping Bun's shutdown work. */
export function exitNow(code: number): never {
  libc._exit(code);
  throw new Error("unreachable: _exit returned");
}
