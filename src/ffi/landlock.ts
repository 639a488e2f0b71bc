// Landlock (Linux >= 5.13) through raw syscalls. Restrictions apply to the
// calling thread only and survive execve from it: callers must restrict and
// then exec at once, never keep running Bun code they rely on being unconfined.
import { ptr } from "bun:ffi";
import { fstatSync } from "node:fs";
import { ENOSYS, ErrnoError, errnoName } from "./errno.ts";
import { check, lastErrno, libc, withPinned } from "./libc.ts";

// Same numbers on x86_64 and aarch64 (they were added after the tables merged).
const SYS_LANDLOCK_CREATE_RULESET = 444;
const SYS_LANDLOCK_ADD_RULE = 445;
const SYS_LANDLOCK_RESTRICT_SELF = 446;

const LANDLOCK_CREATE_RULESET_VERSION = 1n;
const LANDLOCK_RULE_PATH_BENEATH = 1;

const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;

const EOPNOTSUPP = 95;

/** Filesystem access rights (`LANDLOCK_ACCESS_FS_*`). */
export const AccessFs = {
  EXECUTE: 1n << 0n,
  WRITE_FILE: 1n << 1n,
  READ_FILE: 1n << 2n,
  READ_DIR: 1n << 3n,
  REMOVE_DIR: 1n << 4n,
  REMOVE_FILE: 1n << 5n,
  MAKE_CHAR: 1n << 6n,
  MAKE_DIR: 1n << 7n,
  MAKE_REG: 1n << 8n,
  MAKE_SOCK: 1n << 9n,
  MAKE_FIFO: 1n << 10n,
  MAKE_BLOCK: 1n << 11n,
  MAKE_SYM: 1n << 12n,
  REFER: 1n << 13n, // ABI 2
  TRUNCATE: 1n << 14n, // ABI 3
  IOCTL_DEV: 1n << 15n, // ABI 5
} as const;

// ABI 1 knows bits 0..12; ABI 2, 3 and 5 each add one. ABI 4 (network), 6
// (scopes) and 7 (audit flags) add no filesystem right.
const ABI1_RIGHTS = (1n << 13n) - 1n;

/** Every filesystem right the kernel with Landlock ABI `abi` can handle. */
export function allFsRights(abi: number): bigint {
  let rights = ABI1_RIGHTS;
  if (abi >= 2) rights |= AccessFs.REFER;
  if (abi >= 3) rights |= AccessFs.TRUNCATE;
  if (abi >= 5) rights |= AccessFs.IOCTL_DEV;
  return rights;
}

/** The rights that mean something on a non-directory; others make add_rule fail with EINVAL. */
export const FILE_RIGHTS = AccessFs.EXECUTE | AccessFs.WRITE_FILE | AccessFs.READ_FILE | AccessFs.TRUNCATE | AccessFs.IOCTL_DEV;

export const READ_EXECUTE_RIGHTS = AccessFs.EXECUTE | AccessFs.READ_FILE | AccessFs.READ_DIR;

/** The kernel has no usable Landlock: not built in (ENOSYS) or disabled at boot (EOPNOTSUPP). */
export class LandlockUnavailableError extends Error {
  readonly code: string;

  constructor(errno: number) {
    super(`Landlock is not available on this kernel (landlock_create_ruleset: ${errnoName(errno)})`);
    this.name = "LandlockUnavailableError";
    this.code = errnoName(errno);
  }
}

function syscall(number: number, a = 0n, b = 0n, c = 0n): bigint {
  return BigInt(libc.syscall(number, a, b, c, 0n));
}

/** The Landlock ABI version the running kernel supports (>= 1). */
export function landlockAbiVersion(): number {
  const result = syscall(SYS_LANDLOCK_CREATE_RULESET, 0n, 0n, LANDLOCK_CREATE_RULESET_VERSION);
  if (result < 0n) {
    const errno = lastErrno();
    if (errno === ENOSYS || errno === EOPNOTSUPP) throw new LandlockUnavailableError(errno);
    throw new ErrnoError("landlock_create_ruleset(VERSION)", errno);
  }
  return Number(result);
}

/** IPC scopes (`LANDLOCK_SCOPE_*`, ABI 6): what a sandboxed process may not reach outside its domain. */
export const Scope = {
  /** connect/send to an abstract Unix socket created outside the domain. */
  ABSTRACT_UNIX_SOCKET: 1n << 0n,
  /** Signals to processes outside the domain. */
  SIGNAL: 1n << 1n,
} as const;

/** Whether the kernel with Landlock ABI `abi` can enforce scopes (ABI 6, Linux 6.12). */
export function scopesAvailable(abi: number): boolean {
  return abi >= 6;
}

/**
 * Creates a ruleset handling `handledAccessFs` and restricting `scoped`;
 * returns its fd (close-on-exec).
 */
export function createRuleset(handledAccessFs: bigint, scoped = 0n): number {
  // struct landlock_ruleset_attr: u64 handled_access_fs, u64 handled_access_net,
  // u64 scoped. Passing only the first field's size when no scope is asked
  // keeps kernels before ABI 6 (which reject the longer struct) working.
  const attr = new BigUint64Array(new ArrayBuffer(24));
  attr[0] = handledAccessFs;
  attr[2] = scoped;
  const size = scoped === 0n ? 8n : 24n;
  return withPinned([attr], () => check("landlock_create_ruleset", syscall(SYS_LANDLOCK_CREATE_RULESET, BigInt(ptr(attr)), size, 0n)));
}

function openPath(path: string): number {
  const cPath = new TextEncoder().encode(`${path}\0`);
  return withPinned([cPath], () => check(`open ${path}`, libc.open(ptr(cPath), O_PATH | O_CLOEXEC, 0)));
}

/**
 * Grants `allowedAccess` beneath `path` (a directory) or on `path` (any other
 * file, where only FILE_RIGHTS apply and the rest are dropped).
 */
export function addPathBeneathRule(rulesetFd: number, path: string, allowedAccess: bigint): void {
  const fd = openPath(path);
  try {
    const access = fstatSync(fd).isDirectory() ? allowedAccess : allowedAccess & FILE_RIGHTS;
    // struct landlock_path_beneath_attr is packed: u64 allowed_access, i32 parent_fd.
    const attr = new DataView(new ArrayBuffer(12));
    attr.setBigUint64(0, access, true);
    attr.setInt32(8, fd, true);
    withPinned([attr], () =>
      check(`landlock_add_rule ${path}`, syscall(SYS_LANDLOCK_ADD_RULE, BigInt(rulesetFd), BigInt(LANDLOCK_RULE_PATH_BENEATH), BigInt(ptr(attr)))),
    );
  } finally {
    libc.close(fd);
  }
}

/** Confines the calling thread (and what it execs) to the ruleset. Needs no_new_privs first. */
export function restrictSelf(rulesetFd: number): void {
  check("landlock_restrict_self", syscall(SYS_LANDLOCK_RESTRICT_SELF, BigInt(rulesetFd), 0n));
}
