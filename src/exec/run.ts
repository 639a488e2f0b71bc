// One `shell` tool call: Bash in its own process group with the interception
// variables set, output captured in arrival order with bounded memory, a
// pausable deadline, cancellation, and every process of the call killed when
// it ends (timeout, cancellation, or Bash exiting with jobs left behind).
import { closeSync, fstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { constants } from "node:os";
import { dirname } from "node:path";
import { readNonBlocking, setPipeSize } from "../ffi/io.ts";
import { makePipe } from "../ffi/poll.ts";
import { setNonBlocking } from "../ffi/socket.ts";
import { BASH_EXEC_WRAPPER_ENV, ESCALATE_SOCKET_ENV, EXEC_WRAPPER_ENV } from "../escalate/protocol.ts";
import type { ExecMediator } from "../escalate/exec-mediation.ts";
import { CallEscalation, type ExecDecider } from "../escalate/server.ts";
import type { SocketHub } from "../escalate/socket-hub.ts";
import type { WorkerReport } from "../escalate/socket-worker-protocol.ts";
import type { ChildFds } from "../sandbox/launch.ts";
import { LAUNCHER_FAILURE_EXIT_CODE, LaunchRefusedError } from "../sandbox/launcher-args.ts";
import { Deadline } from "./deadline.ts";
import { CallMediation } from "./mediation.ts";
import { BoundedOutput, DEFAULT_OUTPUT_LIMIT_BYTES } from "./output.ts";

export const DEFAULT_TIMEOUT_MS = 10_000;
/** Exit code of a call that hit its deadline, as `timeout(1)` reports it. */
export const TIMED_OUT_EXIT = 124;
/** How long output may still arrive after Bash exits (background jobs holding the pipe). */
const OUTPUT_GRACE_MS = 2_000;
/** How long killed processes get to release the output pipe before we look for holders. */
const KILL_SETTLE_MS = 200;
/**
 * Pipe buffer asked for (Linux grants up to 1 MiB unprivileged): a command
 * printing fast then fills it between our reads, and each read takes more.
 */
const PIPE_BYTES = 1024 * 1024;
/** Largest single read from the output pipe. */
const READ_CHUNK_BYTES = 256 * 1024;
/** Bytes read per event-loop turn, so that a call printing fast cannot starve the others. */
const READ_TURN_BYTES = 1024 * 1024;
/** A turn that read this much found a writer outpacing us: the next turn waits FAST_WRITER_PAUSE_MS. */
const FAST_WRITER_BYTES = 64 * 1024;
const FAST_WRITER_PAUSE_MS = 1;
/** Time for a capped result to be sent (and so become garbage) before collecting. */
const COLLECT_DELAY_MS = 50;
/** Reading a flood makes a little garbage per turn too: collect every so many bytes read. */
const COLLECT_EVERY_BYTES = 256 * 1024 * 1024;
/**
 * The one read buffer of every call: reads happen on the event loop one at a
 * time, and their bytes are copied into the call's BoundedOutput at once, so a
 * command printing gigabytes allocates nothing per chunk.
 */
const readBuffer = new Uint8Array(new ArrayBuffer(READ_CHUNK_BYTES));
/**
 * Where Bash gets the escalation socket (its number is in the environment):
 * a high descriptor, as the reference does, so that the numbers scripts use
 * (3-9) are theirs. Our Bash moves it higher still at start and out of the
 * way of any redirection; the reference's Bash leaves it here.
 */
export const ESCALATE_SOCKET_CHILD_FD = 10;
/** Where the sandbox launcher writes why it refused (never inherited by Bash). */
const LAUNCH_REPORT_CHILD_FD = ESCALATE_SOCKET_CHILD_FD + 1;
/** Where the sandbox launcher sends the exec mediation listener (never inherited by Bash). */
const EXEC_LISTENER_CHILD_FD = ESCALATE_SOCKET_CHILD_FD + 2;
const LAUNCH_REPORT_BYTES = 4096;
/**
 * Variables that turn a compiled Bun binary (our wrapper) into something else:
 * the sandboxed side may set them itself, but they never come from us.
 */
const BUN_CONTROL_ENV = ["BUN_BE_BUN", "BUN_OPTIONS"];

export interface ExecResult {
  exit_code: number;
  output: string;
  duration: { secs: number; nanos: number };
  timed_out: boolean;
}

/** What to spawn for a Bash argv: the sandbox decides (directly, or through a launcher). */
export interface LaunchPlan {
  file: string;
  argv0: string;
  args: string[];
  env: Record<string, string>;
  /** The child descriptor a launcher reports a refusal on; null when Bash runs without one. */
  reportFd: number | null;
  /** The child descriptor a launcher sends the exec mediation listener on; null: execs are not mediated. */
  execListenerFd: number | null;
}

export interface ShellCall {
  command: string;
  workdir: string;
  login: boolean;
  timeoutMs: number;
  bashPath: string;
  wrapperPath: string;
  env: Readonly<Record<string, string | undefined>>;
  decide: ExecDecider;
  /** Judges execs by any program of the call, where the launcher mediates them (plan.execListenerFd). */
  mediate: ExecMediator;
  /** The launcher could not mediate this call's execs (a runtime's own listener): `why`. */
  onMediationUnavailable?: (why: string) => void;
  /** Our binary, started as `codex-escalate-exec` for escalations (default: this process's executable). */
  execLauncher?: string;
  hub: SocketHub;
  /** Wraps Bash (argv and environment) in the call's sandbox; a launcher's refusal goes to `childFds.reportFd`. */
  launch: (bashArgv: string[], env: Record<string, string>, childFds: ChildFds) => LaunchPlan;
  signal?: AbortSignal;
  outputLimit?: number;
  /** Lets the caller pause the deadline (approval questions). */
  onDeadline?: (deadline: Deadline) => void;
  onOutput?: (output: BoundedOutput) => void;
  log?: (message: string) => void;
}

function bashEnv(call: ShellCall): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(call.env)) {
    if (value !== undefined && !BUN_CONTROL_ENV.includes(key)) env[key] = value;
  }
  // Scripts starting with `#!/usr/bin/env bash` must find the patched Bash, or
  // everything they run escapes interception.
  env.PATH = [dirname(call.bashPath), env.PATH].filter(Boolean).join(":");
  env[BASH_EXEC_WRAPPER_ENV] = call.wrapperPath;
  env[EXEC_WRAPPER_ENV] = call.wrapperPath;
  env[ESCALATE_SOCKET_ENV] = String(ESCALATE_SOCKET_CHILD_FD);
  return env;
}

function durationOf(startedAt: number): ExecResult["duration"] {
  const elapsedNs = Math.round((performance.now() - startedAt) * 1e6);
  return { secs: Math.floor(elapsedNs / 1e9), nanos: elapsedNs % 1e9 };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // The group is already gone.
  }
}

/** What a launcher wrote on the report pipe before it exited (empty when it started the program). */
function launchReport(fd: number): string {
  const buffer = new Uint8Array(new ArrayBuffer(LAUNCH_REPORT_BYTES));
  try {
    setNonBlocking(fd);
    const got = readNonBlocking(fd, buffer) ?? 0;
    return new TextDecoder().decode(buffer.subarray(0, got)).trim();
  } finally {
    closeSync(fd);
  }
}

/** `link` as /proc/<pid>/fd shows it, e.g. `pipe:[1234]`. */
function fdLink(kind: "pipe" | "socket", fd: number): string {
  return `${kind}:[${fstatSync(fd).ino}]`;
}

/**
 * When a process started, in clock ticks after boot (field 22 of
 * /proc/<pid>/stat, counted after the parenthesised command name, which may
 * hold spaces); 0 when unknown (Linux only).
 */
function startTicks(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? 0) || 0;
  } catch {
    return 0;
  }
}

/**
 * Kills every other process holding one of `links` (the call's output pipe or
 * escalation socket), with its process group when it leads one: programs that
 * left the call's process group (setsid) and so survived killGroup. Only
 * processes started at `sinceTicks` or later (after Bash) are looked at, so
 * the scan stays short on a busy machine. Linux only; a process that closed
 * both descriptors cannot be found this way.
 */
function killHolders(links: readonly string[], sinceTicks: number): void {
  if (process.platform !== "linux") return;
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || startTicks(entry) < sinceTicks) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // Gone, or not ours to inspect.
    }
    const holds = fds.some((fd) => {
      try {
        return links.includes(readlinkSync(`/proc/${entry}/fd/${fd}`));
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    killGroup(pid);
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }
}

let collectionPending = false;

/**
 * A capped result leaves megabytes of garbage once sent (its text, the JSON
 * of the result and of the message), as does a large escalation request once
 * parsed, and JSC lets the heap grow well past that before collecting on its
 * own: a few such calls would take the server from ~70 MB to over 100 MB. One
 * full collection shortly after, at most one every COLLECT_DELAY_MS, keeps it
 * near its idle size whatever the commands print or send.
 */
function collectGarbageSoon(): void {
  if (collectionPending) return;
  collectionPending = true;
  setTimeout(() => {
    collectionPending = false;
    Bun.gc(true);
  }, COLLECT_DELAY_MS).unref();
}

/** True when `promise` settled within `ms`. */
function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  return Promise.race([promise.then(() => true), Bun.sleep(ms).then(() => false)]);
}

/**
 * Reads the call's output pipe on the event loop: the socket worker says when
 * it is readable, we read what is there without blocking. The worker owns the
 * descriptor and closes it when we close the watch, whoever still holds the
 * other end.
 */
class PipeCapture {
  /** Resolves at end of file, or when the capture is closed. */
  readonly ended: Promise<void>;
  private readonly watchId: number;
  private open = true;
  private markEnded: () => void = () => {};

  constructor(
    private readonly hub: SocketHub,
    private readonly fd: number,
    private readonly onBytes: (bytes: Uint8Array) => void,
  ) {
    setNonBlocking(fd);
    this.ended = new Promise((resolve) => {
      this.markEnded = resolve;
    });
    this.watchId = hub.watch(fd, "readable", (report) => this.onReport(report));
  }

  /** Reads what is ready, up to `budget` bytes; returns the bytes read. */
  drain(budget: number): number {
    let total = 0;
    try {
      while (this.open && total < budget) {
        const got = readNonBlocking(this.fd, readBuffer);
        if (got === null) break;
        if (got === 0) this.close();
        else this.onBytes(readBuffer.subarray(0, got));
        total += got;
      }
    } catch {
      // The pipe broke: what was read is all there is.
      this.close();
    }
    return total;
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.hub.close(this.watchId);
    this.markEnded();
  }

  private onReport(report: WorkerReport): void {
    if (report.kind !== "ready") return this.close();
    const got = this.drain(READ_TURN_BYTES);
    if (!this.open) return;
    // A fast writer: let the pipe fill a little before the next turn. Each
    // turn costs a few allocations, and a flood in small reads would pile up
    // garbage faster than it is collected (hundreds of MB for 1 GB printed).
    if (got >= FAST_WRITER_BYTES) setTimeout(() => this.open && this.hub.resume(this.watchId), FAST_WRITER_PAUSE_MS);
    else this.hub.resume(this.watchId);
  }
}

export async function runShellCall(call: ShellCall): Promise<ExecResult> {
  const startedAt = performance.now();
  const bashArgv = [call.bashPath, call.login ? "-lc" : "-c", call.command];
  const plan = call.launch(bashArgv, bashEnv(call), {
    reportFd: LAUNCH_REPORT_CHILD_FD,
    socketFd: ESCALATE_SOCKET_CHILD_FD,
    execListenerFd: EXEC_LISTENER_CHILD_FD,
  });
  const output = new BoundedOutput(call.outputLimit ?? DEFAULT_OUTPUT_LIMIT_BYTES);
  const log = call.log ?? (() => {});
  const mediation =
    plan.execListenerFd === null
      ? null
      : new CallMediation(call.hub, {
          mediate: call.mediate,
          launch: { file: call.bashPath, argv: bashArgv },
          tell: (line) => output.append(new TextEncoder().encode(`${line}\n`)),
          unavailable: call.onMediationUnavailable ?? log,
          log,
        });
  const escalation = new CallEscalation(call.hub, call.decide, {
    log,
    onLargeRequest: collectGarbageSoon,
    execLauncher: call.execLauncher,
    decided: mediation?.decided,
  });
  const [outputRead, outputWrite] = makePipe();
  setPipeSize(outputRead, PIPE_BYTES);
  const callLinks = [fdLink("pipe", outputRead), fdLink("socket", escalation.clientFd)];
  // Only a launcher gets the report pipe: Bash itself must not be able to fake a refusal.
  const [reportRead, reportWrite] = plan.reportFd === null ? [null, null] : makePipe();
  // Descriptors 3 and up, by number; a gap is closed in the child.
  const inherited: Array<number | "ignore"> = [];
  inherited[ESCALATE_SOCKET_CHILD_FD - 3] = escalation.clientFd;
  if (plan.reportFd !== null && reportWrite !== null) inherited[plan.reportFd - 3] = reportWrite;
  if (plan.execListenerFd !== null && mediation !== null) inherited[plan.execListenerFd - 3] = mediation.childFd;
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn({
      cmd: [plan.file, ...plan.args],
      argv0: plan.argv0,
      cwd: call.workdir,
      env: plan.env,
      stdio: ["ignore", outputWrite, outputWrite, ...Array.from(inherited, (fd) => fd ?? "ignore")],
      // Own process group: a timeout kills Bash and everything it started.
      detached: true,
    });
  } catch (error) {
    escalation.close();
    mediation?.close();
    closeSync(outputRead);
    if (reportRead !== null) closeSync(reportRead);
    throw error;
  } finally {
    closeSync(outputWrite);
    closeSync(escalation.clientFd);
    if (reportWrite !== null) closeSync(reportWrite);
    if (mediation !== null) closeSync(mediation.childFd);
  }
  const bashStartTicks = startTicks(child.pid);
  let readSinceCollection = 0;
  const capture = new PipeCapture(call.hub, outputRead, (bytes) => {
    output.append(bytes);
    call.onOutput?.(output);
    readSinceCollection += bytes.byteLength;
    if (readSinceCollection >= COLLECT_EVERY_BYTES) {
      readSinceCollection = 0;
      collectGarbageSoon();
    }
  });

  let timedOut = false;
  let cancelled = false;
  const stopEverything = () => {
    killGroup(child.pid);
    escalation.close();
    mediation?.close();
  };
  const deadline = new Deadline(call.timeoutMs, () => {
    timedOut = true;
    stopEverything();
  });
  call.onDeadline?.(deadline);
  const onAbort = () => {
    cancelled = true;
    stopEverything();
  };
  call.signal?.addEventListener("abort", onAbort, { once: true });
  if (call.signal?.aborted) onAbort();

  const exitCode = await child.exited;
  deadline.stop();
  call.signal?.removeEventListener("abort", onAbort);
  const stopped = timedOut || cancelled;
  // Usually the end of the output is already there: read it now rather than
  // after a round trip through the socket worker.
  capture.drain(READ_TURN_BYTES);
  // Output written before exit is still in the pipe; background jobs may hold
  // it open, so wait only so long.
  await settlesWithin(capture.ended, stopped ? KILL_SETTLE_MS : OUTPUT_GRACE_MS);
  // The call is over: nothing it started may outlive it.
  killGroup(child.pid);
  escalation.close();
  mediation?.close();
  // Still held after the kill, or a kill that processes may have dodged:
  // look for what left the process group.
  if (stopped || !(await settlesWithin(capture.ended, KILL_SETTLE_MS))) {
    killHolders(callLinks, bashStartTicks);
    await settlesWithin(capture.ended, KILL_SETTLE_MS);
  }
  // Whatever the killed processes wrote last; a survivor still writing is cut off.
  capture.drain(READ_TURN_BYTES);
  capture.close();

  const report = reportRead === null ? "" : launchReport(reportRead);
  if (exitCode === LAUNCHER_FAILURE_EXIT_CODE && report !== "") throw new LaunchRefusedError(report);

  const signal = child.signalCode;
  const signalNumber = typeof signal === "number" ? signal : signal !== null ? ((constants.signals as Record<string, number>)[signal] ?? 0) : null;
  const code = timedOut ? TIMED_OUT_EXIT : signalNumber !== null ? 128 + signalNumber : exitCode;
  if (output.droppedBytes > 0) collectGarbageSoon();
  return { exit_code: code, output: output.text(), duration: durationOf(startedAt), timed_out: timedOut };
}
