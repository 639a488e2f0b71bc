// One `shell` tool call: Bash in its own process group with the interception
// variables set, output captured in arrival order with bounded memory, a
// pausable deadline, cancellation, and every process of the call killed when
// it times out or is cancelled.
import { closeSync } from "node:fs";
import { constants } from "node:os";
import { dirname } from "node:path";
import { makePipe } from "../ffi/poll.ts";
import { BASH_EXEC_WRAPPER_ENV, ESCALATE_SOCKET_ENV, EXEC_WRAPPER_ENV } from "../escalate/protocol.ts";
import { CallEscalation, type ExecDecider } from "../escalate/server.ts";
import type { SocketHub } from "../escalate/socket-hub.ts";
import { Deadline } from "./deadline.ts";
import { BoundedOutput, DEFAULT_OUTPUT_LIMIT_BYTES } from "./output.ts";

export const DEFAULT_TIMEOUT_MS = 10_000;
/** Exit code of a call that hit its deadline, as `timeout(1)` reports it. */
export const TIMED_OUT_EXIT = 124;
/** How long output may still arrive after Bash exits (background jobs holding the pipe). */
const OUTPUT_GRACE_MS = 2_000;
/** Bash reads the escalation socket number from the environment; we always put it here. */
const ESCALATE_SOCKET_CHILD_FD = 3;
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
  hub: SocketHub;
  /** Wraps Bash (argv and environment) in the call's sandbox. */
  launch: (bashArgv: string[], env: Record<string, string>) => LaunchPlan;
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

export async function runShellCall(call: ShellCall): Promise<ExecResult> {
  const startedAt = performance.now();
  const plan = call.launch([call.bashPath, call.login ? "-lc" : "-c", call.command], bashEnv(call));
  const output = new BoundedOutput(call.outputLimit ?? DEFAULT_OUTPUT_LIMIT_BYTES);
  const escalation = new CallEscalation(call.hub, call.decide, { log: call.log });
  const [outputRead, outputWrite] = makePipe();
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn({
      cmd: [plan.file, ...plan.args],
      argv0: plan.argv0,
      cwd: call.workdir,
      env: plan.env,
      stdio: ["ignore", outputWrite, outputWrite, escalation.clientFd],
      // Own process group: a timeout kills Bash and everything it started.
      detached: true,
    });
  } catch (error) {
    escalation.close();
    closeSync(outputRead);
    throw error;
  } finally {
    closeSync(outputWrite);
    closeSync(escalation.clientFd);
  }

  let timedOut = false;
  let cancelled = false;
  const stopEverything = () => {
    killGroup(child.pid);
    escalation.close();
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

  const reader = Bun.file(outputRead).stream().getReader();
  const drained = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      output.append(value);
      call.onOutput?.(output);
    }
  })();

  const exitCode = await child.exited;
  deadline.stop();
  // Output written before exit is still in the pipe; background jobs may hold
  // it open, so wait only so long.
  await Promise.race([drained, Bun.sleep(timedOut || cancelled ? 200 : OUTPUT_GRACE_MS)]);
  void reader.cancel().catch(() => {});
  call.signal?.removeEventListener("abort", onAbort);
  escalation.close();
  if (timedOut || cancelled) killGroup(child.pid);

  const signal = child.signalCode;
  const code = timedOut ? TIMED_OUT_EXIT : signal !== null ? 128 + ((constants.signals as Record<string, number>)[signal] ?? 0) : exitCode;
  return { exit_code: code, output: output.text(), duration: durationOf(startedAt), timed_out: timedOut };
}
