// poll(2) and pipe(2), for the socket worker that waits on many descriptors.
import { ptr } from "bun:ffi";
import { EINTR, ErrnoError } from "./errno.ts";
import { check, lastErrno, libc } from "./libc.ts";

export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

const POLLFD_BYTES = 8;

export interface PollResult {
  fd: number;
  revents: number;
}

/** Blocks until one of `fds` is readable (or hung up); returns those with events. */
export function pollReadable(fds: readonly number[], timeoutMs: number): PollResult[] {
  const table = new DataView(new ArrayBuffer(Math.max(1, fds.length) * POLLFD_BYTES));
  fds.forEach((fd, i) => {
    table.setInt32(i * POLLFD_BYTES, fd, true);
    table.setInt16(i * POLLFD_BYTES + 4, POLLIN, true);
  });
  for (;;) {
    const ready = libc.poll(ptr(table), BigInt(fds.length), timeoutMs);
    if (ready >= 0) break;
    const errno = lastErrno();
    if (errno !== EINTR) throw new ErrnoError("poll", errno);
  }
  const results: PollResult[] = [];
  fds.forEach((fd, i) => {
    const revents = table.getInt16(i * POLLFD_BYTES + 6, true);
    if (revents !== 0) results.push({ fd, revents });
  });
  return results;
}

/** A pipe whose both ends are close-on-exec: [read end, write end]. */
export function makePipe(): [number, number] {
  const fds = new Int32Array(new ArrayBuffer(8));
  const O_CLOEXEC = 0o2000000;
  check("pipe2", libc.pipe2(ptr(fds), O_CLOEXEC));
  return [fds[0]!, fds[1]!];
}
