// Seccomp user notification (Linux 5.5+ for everything used here): a filter
// whose `execve`/`execveat` wait until the holder of its listener descriptor
// (the server) lets them continue or fail. See docs/exec-mediation.md.
import { ptr } from "bun:ffi";
import { release } from "node:os";
import { EACCES, ENOENT, ErrnoError } from "./errno.ts";
import { check, ioctl, lastErrno, libc, withPinned } from "./libc.ts";
import { buildExecNotifyFilter, SECCOMP_RET_USER_NOTIF, seccompArch, socketFilterProgram, type SeccompArch } from "./seccomp.ts";

const SECCOMP_SYSCALL: Record<SeccompArch, number> = { x64: 317, arm64: 277 };
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_GET_ACTION_AVAIL = 2;
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;

// _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp),
// _IOW('!', 2, __u64): the same numbers on x86_64 and aarch64.
const NOTIF_BYTES = 80;
const RESPONSE_BYTES = 24;
const SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100n;
const SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101n;
const SECCOMP_IOCTL_NOTIF_ID_VALID = 0x40082102n;

/** First kernel with SECCOMP_USER_NOTIF_FLAG_CONTINUE, which an allowed exec needs. */
const CONTINUE_SINCE: readonly [number, number] = [5, 5];

function seccomp(operation: number, flags: number, args: DataView): number {
  return Number(libc.syscall(BigInt(SECCOMP_SYSCALL[seccompArch()]), BigInt(operation), BigInt(flags), BigInt(ptr(args)), 0n));
}

/**
 * Why this kernel cannot mediate execs, or null when it can: user
 * notification must be an available action (seccomp built in, and not taken
 * away by a container runtime's own filter) and CONTINUE must exist.
 */
export function execMediationUnsupported(kernelRelease: string = release()): string | null {
  const [major = 0, minor = 0] = kernelRelease.split(/[.-]/).map(Number);
  if (major < CONTINUE_SINCE[0] || (major === CONTINUE_SINCE[0] && minor < CONTINUE_SINCE[1])) {
    return `kernel ${kernelRelease} is older than ${CONTINUE_SINCE.join(".")} (no SECCOMP_USER_NOTIF_FLAG_CONTINUE)`;
  }
  const action = new DataView(new ArrayBuffer(4));
  action.setUint32(0, SECCOMP_RET_USER_NOTIF, true);
  const result = withPinned([action], () => seccomp(SECCOMP_GET_ACTION_AVAIL, 0, action));
  if (result === -1) return `seccomp user notification is not available here (${new ErrnoError("seccomp(SECCOMP_GET_ACTION_AVAIL)", lastErrno()).code})`;
  return null;
}

/**
 * Installs the exec mediation filter on the calling thread (no_new_privs must
 * be set) and returns its listener descriptor. Fails with EBUSY when a filter
 * already on this thread has a listener (someone else mediates here).
 */
export function installExecNotifyFilter(): number {
  const { fprog, filter } = socketFilterProgram(buildExecNotifyFilter(seccompArch()));
  return withPinned([fprog, filter], () =>
    check("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)", seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, fprog)),
  );
}

/** One pending system call of a filtered process (struct seccomp_notif). */
export interface SeccompNotification {
  id: bigint;
  /** In the receiver's PID namespace. */
  pid: number;
  nr: number;
  args: bigint[];
}

/**
 * Takes the next pending notification. Returns null when the process went
 * away between poll and here (ENOENT). Call only after poll reported the
 * listener readable: otherwise this blocks until a notification arrives.
 */
export function receiveNotification(listener: number): SeccompNotification | null {
  // The kernel refuses a buffer that is not zeroed.
  const buffer = new DataView(new ArrayBuffer(NOTIF_BYTES));
  const result = withPinned([buffer], () => ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, ptr(buffer)));
  if (result === -1) {
    const errno = lastErrno();
    if (errno === ENOENT) return null;
    throw new ErrnoError("ioctl(SECCOMP_IOCTL_NOTIF_RECV)", errno);
  }
  // struct seccomp_notif: u64 id, u32 pid, u32 flags, struct seccomp_data
  // (i32 nr, u32 arch, u64 instruction_pointer, u64 args[6]).
  const args: bigint[] = [];
  for (let i = 0; i < 6; i++) args.push(buffer.getBigUint64(32 + i * 8, true));
  return { id: buffer.getBigUint64(0, true), pid: buffer.getUint32(8, true), nr: buffer.getInt32(16, true), args };
}

/**
 * Whether notification `id` is still pending: its process has not died (and
 * so its pid has not been handed to another process). Checked after reading
 * the process's memory, so that what was read belongs to the process asking.
 */
export function notificationPending(listener: number, id: bigint): boolean {
  const value = new DataView(new ArrayBuffer(8));
  value.setBigUint64(0, id, true);
  const result = withPinned([value], () => ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, ptr(value)));
  if (result === 0) return true;
  const errno = lastErrno();
  if (errno === ENOENT) return false;
  throw new ErrnoError("ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID)", errno);
}

/** What the waiting system call does: go ahead as if never stopped, or fail with EACCES. */
export type NotificationVerdict = "continue" | "refuse";

/** Answers notification `id`. False when its process is gone (nothing left to answer). */
export function answerNotification(listener: number, id: bigint, verdict: NotificationVerdict): boolean {
  // struct seccomp_notif_resp: u64 id, s64 val, s32 error, u32 flags.
  const response = new DataView(new ArrayBuffer(RESPONSE_BYTES));
  response.setBigUint64(0, id, true);
  if (verdict === "continue") response.setUint32(20, SECCOMP_USER_NOTIF_FLAG_CONTINUE, true);
  else response.setInt32(16, -EACCES, true);
  const result = withPinned([response], () => ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, ptr(response)));
  if (result === 0) return true;
  const errno = lastErrno();
  if (errno === ENOENT) return false;
  throw new ErrnoError("ioctl(SECCOMP_IOCTL_NOTIF_SEND)", errno);
}
