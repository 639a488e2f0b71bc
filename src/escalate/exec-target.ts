// What a process stopped in `execve`/`execveat` by the exec mediation filter
// asks to run: the path and argv, read from its memory through
// /proc/<pid>/mem. Runs on the socket worker's thread, never on the event
// loop. Every byte is the sandbox's: lengths are capped, and a process that
// died (its pid perhaps reused) is caught by re-checking the notification
// after reading.
import { closeSync, openSync, readlinkSync, readSync, realpathSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { EXEC_SYSCALLS, type SeccompArch } from "../ffi/seccomp.ts";
import { notificationPending, type SeccompNotification } from "../ffi/seccomp-notify.ts";

/** An exec the server must judge, or one whose arguments could not be read (refused). */
export type ExecToJudge =
  | { notificationId: bigint; pid: number; file: string; real: string | null; argv: string[]; cwd: string }
  | { notificationId: bigint; pid: number; unreadable: string };

/** What a notification asks, or that `allowedOnItsName` let it through (not described further). */
export type NotifiedExec = ExecToJudge | { notificationId: bigint; pid: number; allowed: true };

const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const PATH_MAX = 4096;
/**
 * Arguments read at most, in bytes and in number: more than any command line
 * Linux accepts by default (a quarter of an 8 MiB stack). A larger one is
 * refused rather than judged on a part.
 */
const MAX_ARGV_BYTES = 4 * 1024 * 1024;
const MAX_ARGS = 256 * 1024;
/**
 * Unit of reading: one page (the smallest one Linux has). Reading another
 * process's memory costs per page touched, ~80 µs for 64 KiB against ~2 µs for
 * one page (measured), and argv rarely spans more than two or three.
 */
const PAGE_BYTES = 4096;

class ArgumentsTooLarge extends Error {}

/** Reads another process's memory a page at a time, each page once. */
class ProcessMemory {
  private readonly pages = new Map<number, Buffer>();

  constructor(private readonly fd: number) {}

  /** The page holding `address` (shorter when the rest is not mapped); throws where nothing is. */
  private page(address: number): { bytes: Buffer; offset: number } {
    const base = address - (address % PAGE_BYTES);
    let bytes = this.pages.get(base);
    if (bytes === undefined) {
      const buffer = Buffer.allocUnsafe(PAGE_BYTES);
      bytes = buffer.subarray(0, readSync(this.fd, buffer, 0, PAGE_BYTES, base));
      this.pages.set(base, bytes);
    }
    const offset = address - base;
    if (offset >= bytes.byteLength) throw new Error(`nothing readable at 0x${address.toString(16)}`);
    return { bytes, offset };
  }

  /** A NUL-terminated string of at most `max` bytes (without the NUL). */
  cString(address: number, max: number): Uint8Array {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (let at = address; ; ) {
      const { bytes, offset } = this.page(at);
      const nul = bytes.indexOf(0, offset);
      const part = bytes.subarray(offset, nul === -1 ? bytes.byteLength : nul);
      length += part.byteLength;
      if (length > max) throw new ArgumentsTooLarge(`a string longer than ${max} bytes`);
      parts.push(part);
      if (nul !== -1) return parts.length === 1 ? part : Buffer.concat(parts);
      at += part.byteLength;
    }
  }

  /** A little-endian 64-bit pointer (both supported architectures). */
  pointer(address: number): number {
    let value = 0;
    for (let i = 7; i >= 0; i--) {
      const { bytes, offset } = this.page(address + i);
      value = value * 256 + (bytes[offset] ?? 0);
    }
    return value;
  }
}

const decoder = new TextDecoder();

function readArgv(memory: ProcessMemory, address: number): string[] {
  const argv: string[] = [];
  let total = 0;
  if (address === 0) return argv;
  for (let slot = address; ; slot += 8) {
    const pointer = memory.pointer(slot);
    if (pointer === 0) return argv;
    if (argv.length >= MAX_ARGS) throw new ArgumentsTooLarge(`more than ${MAX_ARGS} arguments`);
    const bytes = memory.cString(pointer, MAX_ARGV_BYTES - total);
    total += bytes.byteLength + 1;
    argv.push(decoder.decode(bytes));
  }
}

/** `path` with /proc/self (a different process for us) made the process's own. */
function processPath(pid: number, path: string): string {
  return path.replace(/^\/proc\/(self|thread-self)(?=\/|$)/, `/proc/${pid}`);
}

/** A descriptor of the process as a path: its name says nothing about the program. */
const DESCRIPTOR_PATH = /^\/proc\/\d+\/fd\/\d+$/;

/**
 * The file `path` ends on for process `pid`, links followed; null when no
 * such path exists (execvp trying each PATH entry asks about many of those,
 * and the kernel fails them itself). Resolved in the server's view: the
 * sandbox's mounts keep every file at its own path, but /proc/self is the
 * process's, not ours. What exists without a path of its own (a descriptor of
 * a deleted file or a memfd, through /proc/<pid>/fd) is the path as given:
 * it can be executed, so it is judged.
 */
function realPathFor(pid: number, path: string): string | null {
  const own = processPath(pid, path);
  try {
    return realpathSync(own);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return (code === "ENOENT" || code === "ENOTDIR") && !own.startsWith("/proc/") ? null : path;
  }
}

/**
 * Reads the exec `notification` stands for. Null when its process is gone (or
 * its pid reused) by the time the reading is done: nothing to answer then.
 * `allowedOnItsName(file)` true: the exec is allowed whatever it is, so its
 * argv, cwd and real path are not read.
 */
export function readNotifiedExec(
  listener: number,
  notification: SeccompNotification,
  arch: SeccompArch,
  allowedOnItsName: (file: string) => boolean = () => false,
): NotifiedExec | null {
  const { id: notificationId, pid, nr, args } = notification;
  const arg = (i: number): number => Number(args[i] ?? 0n);
  let knownCwd: string | undefined;
  // Read once, and only when needed: a relative path, or an exec the main thread judges.
  const processCwd = (): string => (knownCwd ??= readlinkSync(`/proc/${pid}/cwd`));
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/mem`, "r");
  } catch (error) {
    return notificationPending(listener, notificationId) ? { notificationId, pid, unreadable: `cannot open its memory: ${(error as NodeJS.ErrnoException).code ?? String(error)}` } : null;
  }
  try {
    // The open is only known to reach the process that asked if it is still asking.
    if (!notificationPending(listener, notificationId)) return null;
    const memory = new ProcessMemory(fd);
    const isExecveat = nr === EXEC_SYSCALLS[arch].execveat;
    // execve(path, argv, envp); execveat(dirfd, path, argv, envp, flags). The
    // dirfd is an int: its low 32 bits, sign included.
    const dirfd = isExecveat ? Number(BigInt.asIntN(32, args[0] ?? 0n)) : AT_FDCWD;
    const path = decoder.decode(memory.cString(arg(isExecveat ? 1 : 0), PATH_MAX));
    // With AT_EMPTY_PATH the descriptor itself is executed (fexecve).
    const ownDescriptor = path === "" && isExecveat && (arg(4) & AT_EMPTY_PATH) !== 0;
    let file: string;
    if (ownDescriptor) file = `/proc/${pid}/${dirfd === AT_FDCWD ? "cwd" : `fd/${dirfd}`}`;
    // A relative path starts from the cwd, or from the directory behind `dirfd`.
    else file = isAbsolute(path) ? resolve(path) : resolve(dirfd === AT_FDCWD ? processCwd() : readlinkSync(`/proc/${pid}/fd/${dirfd}`), path);
    const throughDescriptor = DESCRIPTOR_PATH.test(processPath(pid, file));
    if (!throughDescriptor && allowedOnItsName(file)) return notificationPending(listener, notificationId) ? { notificationId, pid, allowed: true } : null;
    const argv = readArgv(memory, arg(isExecveat ? 2 : 1));
    const real = realPathFor(pid, file);
    // Executed through a descriptor, the program is judged as the file it is
    // (`fexecve` of /usr/bin/touch is touch), where that file has a path.
    if (real !== null && throughDescriptor && !real.startsWith("/proc/")) file = real;
    const cwd = processCwd();
    if (!notificationPending(listener, notificationId)) return null;
    return { notificationId, pid, file, real, argv, cwd };
  } catch (error) {
    if (!notificationPending(listener, notificationId)) return null;
    const why = error instanceof ArgumentsTooLarge ? `its arguments are too large to check (${error.message})` : `cannot read its arguments: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    return { notificationId, pid, unreadable: why };
  } finally {
    closeSync(fd);
  }
}
