// Holding a file by descriptor rather than by name (Linux).
import { ptr } from "bun:ffi";
import { check, libc, withPinned } from "./libc.ts";

const O_PATH = 0o10000000;
const O_NOFOLLOW = 0o400000;
const O_CLOEXEC = 0o2000000;

/**
 * Opens `path` for reference only (O_PATH: no read, no open side effects on
 * devices or FIFOs), close-on-exec, without following a symbolic link in its
 * last component: a link there is opened as the link itself, which the caller
 * then sees with fstat. Throws an ErrnoError.
 */
export function openPathNoFollow(path: string): number {
  const cPath = new TextEncoder().encode(`${path}\0`);
  return withPinned([cPath], () => check(`open ${path}`, libc.open(ptr(cPath), O_PATH | O_NOFOLLOW | O_CLOEXEC, 0)));
}
