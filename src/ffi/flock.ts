// Advisory whole-file locks (flock(2)), which Node's fs does not offer. Used
// to serialise appends to a rules file that several server processes share.
import { EINTR, ErrnoError } from "./errno.ts";
import { lastErrno, libc } from "./libc.ts";

const LOCK_EX = 2;

/**
 * Blocks until this open file description holds an exclusive lock on `fd`'s
 * file. The lock goes with the descriptor: closing it releases the lock.
 * Throws ErrnoError (`EBADF`, `ENOLCK`...) when it cannot be taken.
 */
export function lockExclusive(fd: number): void {
  for (;;) {
    if (libc.flock(fd, LOCK_EX) === 0) return;
    const errno = lastErrno();
    // A signal delivered while waiting: wait again.
    if (errno !== EINTR) throw new ErrnoError("flock(LOCK_EX)", errno);
  }
}
