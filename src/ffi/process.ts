// Replacing the current process image, and the process state that must be
// cleaned up first because Bun changed it at start-up.
import { ptr, type Pointer } from "bun:ffi";
import { ErrnoError } from "./errno.ts";
import { lastErrno, libc, linuxLibc, withPinned } from "./libc.ts";

const SIG_SETMASK = process.platform === "darwin" ? 3 : 2;
const SIGNAL_SET_BYTES = 128;
const SIGPIPE = 13;
const SIGXFSZ = 25;
const SIG_DFL = 0;

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
  withPinned([emptySet], () => libc.sigprocmask(SIG_SETMASK, ptr(emptySet), null));
}

/**
 * NUL-terminated copies of `strings`, packed into one ArrayBuffer, and a
 * NULL-terminated table of pointers into it (a C `char *const[]`).
 */
function cStringArray(strings: readonly string[]): { bytes: Uint8Array; table: BigUint64Array } {
  const encoder = new TextEncoder();
  const encoded = strings.map((value) => encoder.encode(value));
  const bytes = new Uint8Array(new ArrayBuffer(encoded.reduce((total, item) => total + item.byteLength + 1, 0)));
  const table = new BigUint64Array(new ArrayBuffer((strings.length + 1) * 8));
  const base = BigInt(ptr(bytes));
  let offset = 0;
  encoded.forEach((item, i) => {
    bytes.set(item, offset);
    table[i] = base + BigInt(offset);
    offset += item.byteLength + 1;
  });
  return { bytes, table };
}

/**
 * Replaces this process with `file`, passing `argv` as given (argv[0] included)
 * and exactly `env`. Only returns by throwing.
 */
export function execve(file: string, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): never {
  const path = cStringArray([file]);
  const args = cStringArray(argv);
  const environment = cStringArray(Object.entries(env).flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${value}`])));
  const errno = withPinned([path, args, environment], () => {
    libc.execve(ptr(path.bytes), ptr(args.table), ptr(environment.table));
    return lastErrno();
  });
  throw new ErrnoError(`execve ${file}`, errno);
}

/**
 * Replaces this process with the file open at `fd` (an O_PATH descriptor will
 * do), passing `argv` and exactly `env`: what runs is the file that descriptor
 * names, whatever its path names by now. Linux only. A script (`#!`) cannot
 * run from a close-on-exec descriptor (its interpreter opens `/dev/fd/N`):
 * that fails with ENOENT. Only returns by throwing.
 */
export function fexecve(fd: number, argv: readonly string[], env: Readonly<Record<string, string>>): never {
  const bound = linuxLibc;
  if (bound === null) throw new Error("fexecve: Linux only");
  const args = cStringArray(argv);
  const environment = cStringArray(Object.entries(env).map(([key, value]) => `${key}=${value}`));
  const errno = withPinned([args, environment], () => {
    bound.fexecve(fd, ptr(args.table), ptr(environment.table));
    return lastErrno();
  });
  throw new ErrnoError(`fexecve ${argv[0] ?? ""}`, errno);
}

/** The parent's pid now (1, or a subreaper's, once the parent has died). */
export function parentPid(): number {
  return libc.getppid();
}

/** Leaves immediately with `code`, skipping Bun's shutdown work. */
export function exitNow(code: number): never {
  libc._exit(code);
  throw new Error("unreachable: _exit returned");
}
