// The one place that binds libc. Everything here is raw: numbers, pointers and
// errno. Callers use the typed helpers in the sibling files, never these symbols.
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";
import { ErrnoError } from "./errno.ts";

const LIBC_PATH = process.platform === "darwin" ? "libSystem.B.dylib" : "libc.so.6";

const { i32, i64, u64, ptr, void: voidType } = FFIType;

// Variadic C functions (fcntl, prctl, syscall, ioctl) are bound with a fixed argument
// list. That matches the calling convention on x86_64 and aarch64 Linux, which
// are the only places those are called from.
export const libc = dlopen(LIBC_PATH, {
  socketpair: { args: [i32, i32, i32, ptr], returns: i32 },
  sendmsg: { args: [i32, ptr, i32], returns: i64 },
  getsockname: { args: [i32, ptr, ptr], returns: i32 },
  getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
  recvmsg: { args: [i32, ptr, i32], returns: i64 },
  send: { args: [i32, ptr, u64, i32], returns: i64 },
  read: { args: [i32, ptr, u64], returns: i64 },
  write: { args: [i32, ptr, u64], returns: i64 },
  close: { args: [i32], returns: i32 },
  fcntl: { args: [i32, i32, i64], returns: i32 },
  poll: { args: [ptr, u64, i32], returns: i32 },
  pipe2: { args: [ptr, i32], returns: i32 },
  execve: { args: [ptr, ptr, ptr], returns: i32 },
  getppid: { args: [], returns: i32 },
  signal: { args: [i32, ptr], returns: ptr },
  sigprocmask: { args: [i32, ptr, ptr], returns: i32 },
  prctl: { args: [i64, u64, u64, u64, u64], returns: i32 },
  syscall: { args: [i64, u64, u64, u64, u64], returns: i64 },
  _exit: { args: [i32], returns: voidType },
  open: { args: [ptr, i32, i32], returns: i32 },
  flock: { args: [i32, i32], returns: i32 },
}).symbols;

const ioctlSymbols = { ioctl: { args: [i32, u64, ptr], returns: i32 } } as const;
let ioctlBinding: ReturnType<typeof dlopen<typeof ioctlSymbols>>["symbols"]["ioctl"] | null = null;

/**
 * ioctl(2), bound on first use: only seccomp user notification needs it (the
 * launcher and the server's socket worker), and every symbol bound at import
 * is start-up time for the exec wrapper, which runs for every program.
 */
export function ioctl(fd: number, request: bigint, argument: Pointer): number {
  ioctlBinding ??= dlopen(LIBC_PATH, ioctlSymbols).symbols.ioctl;
  return ioctlBinding(fd, request, argument);
}

// Linux only (macOS has no fexecve); null elsewhere.
export const linuxLibc =
  process.platform === "linux" ? dlopen(LIBC_PATH, { fexecve: { args: [i32, ptr, ptr], returns: i32 } }).symbols : null;

// glibc and musl call it __errno_location, Darwin __error; same signature.
const errnoLocation = dlopen(LIBC_PATH, {
  [process.platform === "darwin" ? "__error" : "__errno_location"]: { args: [], returns: ptr },
}).symbols;
const errnoLocationFn = Object.values(errnoLocation)[0] as () => Pointer | null;

export function lastErrno(): number {
  const location = errnoLocationFn();
  return location === null ? 0 : read.i32(location, 0);
}

/** Throws an ErrnoError for `operation` when a libc call returned -1. */
export function check(operation: string, result: number | bigint): number {
  if (result === -1 || result === -1n) throw new ErrnoError(operation, lastErrno());
  return Number(result);
}

/**
 * Buffers a pending call refers to only by raw address. Holding them here,
 * reachable from module state, keeps the garbage collector from freeing them
 * between taking the address and the call returning.
 */
let pinned: readonly unknown[] = [];

/** Runs `call` (which passes addresses of `buffers` to libc) with `buffers` kept alive. */
export function withPinned<T>(buffers: readonly unknown[], call: () => T): T {
  const outer = pinned;
  pinned = [...outer, ...buffers];
  try {
    return call();
  } finally {
    pinned = outer;
  }
}
