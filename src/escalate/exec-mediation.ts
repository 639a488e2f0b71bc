// The server side of exec mediation for one call: every execve/execveat of a
// confined call waits on the seccomp listener the launcher handed over
// (launcher-args.ts), the socket worker reads what it asks to run
// (exec-target.ts), and this judges it: an exec our Bash already asked about
// over the escalation protocol continues at once, anything else goes to the
// mediator (the rules, perhaps a human). Everything but the answer is off the
// event loop; nothing here waits.
import { answerNotification, type NotificationVerdict } from "../ffi/seccomp-notify.ts";
import type { ExecToJudge } from "./exec-target.ts";
import type { SocketHub } from "./socket-hub.ts";
import type { WorkerReport } from "./socket-worker-protocol.ts";

/** An exec by any program of the call, as the kernel stopped it. */
export interface MediatedExec {
  /** Absolute, resolved lexically against the process's cwd (or execveat's directory): what the rules match. */
  file: string;
  /** The file that path ends on (links followed): what a human is shown. */
  real: string;
  argv: readonly string[];
  /** The process's working directory. */
  workdir: string;
}

export type MediationVerdict = { kind: "continue" } | { kind: "refuse"; reason: string };

/** Judges one exec; must not throw for a verdict (a throw refuses the exec). */
export type ExecMediator = (exec: MediatedExec) => Promise<MediationVerdict>;

/** Bash's execs the server already decided to run in place, by process, awaiting their execve. */
export class DecidedExecs {
  /** A process that asks without exec'ing must not make this grow without end. */
  private static readonly MAX_ENTRIES = 1024;
  private readonly entries: { pid: number; file: string; argv: readonly string[] }[] = [];

  record(pid: number, file: string, argv: readonly string[]): void {
    if (this.entries.length >= DecidedExecs.MAX_ENTRIES) this.entries.shift();
    this.entries.push({ pid, file, argv });
  }

  /** True, once, when `pid` was decided to run exactly this `file` and `argv`. */
  take(pid: number, file: string, argv: readonly string[]): boolean {
    const index = this.entries.findIndex((entry) => entry.pid === pid && entry.file === file && sameArgv(entry.argv, argv));
    if (index === -1) return false;
    this.entries.splice(index, 1);
    return true;
  }
}

function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((arg, i) => arg === b[i]);
}

const MAX_REMEMBERED_REFUSALS = 1024;

export interface CallExecMediationOptions {
  mediate: ExecMediator;
  decided: DecidedExecs;
  /** What the launcher execs after handing the listener over: the first exec asked about. */
  launch: { file: string; argv: readonly string[] };
  /** An exec was refused (once per exec: the caller decides what to repeat). */
  onRefused: (exec: MediatedExec | null, reason: string) => void;
  log: (message: string) => void;
}

export class CallExecMediation {
  private readonly watchId: number;
  private launched = false;
  private closed = false;
  /**
   * Refusals by the mediator in this call, by real file, argv and directory:
   * execvp tries each PATH entry after an EACCES, and /bin/touch after
   * /usr/bin/touch is the same question, which a human already answered.
   */
  private readonly refused = new Map<string, string>();

  /** Takes `listener` (the hub owns it from now on, and closes it with the call). */
  constructor(
    private readonly hub: SocketHub,
    listener: number,
    private readonly options: CallExecMediationOptions,
  ) {
    this.watchId = hub.watch(listener, "exec-listener", (report) => this.onReport(report));
  }

  /**
   * Stops judging. Closing the listener makes every exec still waiting, and
   * any later one, fail (ENOSYS): nothing runs unjudged.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.close(this.watchId);
  }

  private onReport(report: WorkerReport): void {
    if (report.kind !== "exec") {
      if (report.kind === "failed") this.options.log(`exec mediation failed: ${report.error}`);
      this.close();
      return;
    }
    // Judged one by one, but asked for in parallel: one exec waiting for a
    // human must not hold up the others.
    this.hub.resume(this.watchId);
    void this.judge(report.exec).then((verdict) => this.answer(report.exec, verdict));
  }

  private async judge(notified: ExecToJudge): Promise<NotificationVerdict> {
    if ("unreadable" in notified) return this.refuse(null, `cannot check an exec by process ${notified.pid}: ${notified.unreadable}`);
    const { real } = notified;
    // No such file: the kernel fails it (ENOENT and the like) with nothing run.
    if (real === null && this.launched) return "continue";
    const exec: MediatedExec = { file: notified.file, real: real ?? notified.file, argv: notified.argv, workdir: notified.cwd };
    if (!this.launched) {
      // Nothing else runs under the filter before the launcher's own exec.
      this.launched = true;
      const { launch } = this.options;
      if (exec.file === launch.file && sameArgv(exec.argv, launch.argv)) return "continue";
      return this.refuse(exec, `the first exec was not the sandbox's launch of ${launch.file}`);
    }
    if (this.options.decided.take(notified.pid, exec.file, exec.argv)) return "continue";
    const key = JSON.stringify([exec.real, exec.argv, exec.workdir]);
    const earlier = this.refused.get(key);
    if (earlier !== undefined) return this.refuse(exec, earlier);
    let verdict: MediationVerdict;
    try {
      verdict = await this.options.mediate(exec);
    } catch (error) {
      verdict = { kind: "refuse", reason: `policy evaluation failed: ${(error as Error).message}` };
    }
    if (verdict.kind === "continue") return "continue";
    // Bounded: a call that execs endless distinct commands must not fill the server.
    if (this.refused.size >= MAX_REMEMBERED_REFUSALS) this.refused.delete(this.refused.keys().next().value ?? "");
    this.refused.set(key, verdict.reason);
    return this.refuse(exec, verdict.reason);
  }

  private refuse(exec: MediatedExec | null, reason: string): NotificationVerdict {
    this.options.onRefused(exec, reason);
    return "refuse";
  }

  private answer(notified: ExecToJudge, verdict: NotificationVerdict): void {
    const listener = this.hub.fdOf(this.watchId);
    // The call ended meanwhile: the listener's close already failed the exec.
    if (listener === undefined) return;
    try {
      answerNotification(listener, notified.notificationId, verdict);
    } catch (error) {
      this.options.log(`exec mediation: cannot answer process ${notified.pid}: ${(error as Error).message}`);
    }
  }
}
