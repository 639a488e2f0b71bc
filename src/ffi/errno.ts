// Linux errno numbers we name in errors. Unknown numbers are shown as `errno N`.
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  7: "E2BIG",
  8: "ENOEXEC",
  9: "EBADF",
  10: "ECHILD",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  28: "ENOSPC",
  32: "EPIPE",
  38: "ENOSYS",
  88: "ENOTSOCK",
  90: "EMSGSIZE",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  104: "ECONNRESET",
  107: "ENOTCONN",
  111: "ECONNREFUSED",
};

export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const EBUSY = 16;
export const ENOSYS = 38;

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** A failed libc call: `operation` names the call, `code` the errno name (e.g. `EBADF`). */
export class ErrnoError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly operation: string;

  constructor(operation: string, errno: number) {
    super(`${operation} failed: ${errnoName(errno)}`);
    this.name = "ErrnoError";
    this.errno = errno;
    this.code = errnoName(errno);
    this.operation = operation;
  }
}
