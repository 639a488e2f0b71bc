// Non-blocking reads into a caller's buffer, for draining a command's output
// pipe on the event loop without allocating per chunk.
import { ptr } from "bun:ffi";
import { EAGAIN, EINTR, ErrnoError } from "./errno.ts";
import { lastErrno, libc } from "./libc.ts";

/**
 * Reads into `buffer` from a descriptor in non-blocking mode. Returns the
 * number of bytes read, 0 at end of file, or null when nothing is ready.
 */
export function readNonBlocking(fd: number, buffer: Uint8Array): number | null {
  for (;;) {
    const got = libc.read(fd, ptr(buffer), BigInt(buffer.byteLength));
    if (got !== -1n) return Number(got);
    const errno = lastErrno();
    if (errno === EAGAIN) return null;
    if (errno !== EINTR) throw new ErrnoError("read", errno);
  }
}

const F_SETPIPE_SZ = 1031;

/**
 * Asks for a pipe buffer of `bytes` (Linux; rounded up to pages, capped by
 * /proc/sys/fs/pipe-max-size). Returns the size granted, or null when refused.
 */
export function setPipeSize(fd: number, bytes: number): number | null {
  if (process.platform !== "linux") return null;
  const granted = libc.fcntl(fd, F_SETPIPE_SZ, BigInt(bytes));
  return granted === -1 ? null : granted;
}
