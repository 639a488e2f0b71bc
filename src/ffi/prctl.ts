// Per-thread process attributes set before exec'ing into a sandbox (Linux only).
import { check, libc } from "./libc.ts";

const PR_SET_PDEATHSIG = 1;
const PR_SET_NO_NEW_PRIVS = 38;

export const SIGKILL = 9;

/**
 * Makes execve unable to grant privileges (setuid, file capabilities). Landlock
 * and unprivileged seccomp refuse to apply without it.
 */
export function setNoNewPrivs(): void {
  check("prctl(PR_SET_NO_NEW_PRIVS)", libc.prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n));
}

/**
 * Delivers `signal` to this process when the thread that forked it exits; it
 * survives execve (of a non-setuid program), so the sandboxed shell dies with
 * the server.
 */
export function setParentDeathSignal(signal: number): void {
  check("prctl(PR_SET_PDEATHSIG)", libc.prctl(PR_SET_PDEATHSIG, BigInt(signal), 0n, 0n, 0n));
}
