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

/**
 * How much of what it remembers one call may hold: a process that asks
 * without exec'ing, or a loop of distinct refusals, must not fill the server.
 */
const MAX_REMEMBERED = 1024;
const MAX_REMEMBERED_BYTES = 4 * 1024 * 1024;

function argvBytes(argv: readonly string[]): number {
  return argv.reduce((total, arg) => total + arg.length + 1, 0);
}

/** Bash's execs the server already decided to run in place, by process, awaiting their execve. */
export class DecidedExecs {
  private readonly entries: { pid: number; file: string; argv: readonly string[]; bytes: number }[] = [];
  private bytes = 0;

  /** `reachesJudgement(file)`: whether an exec of `file` will be judged here at all (others never look). */
  constructor(private readonly reachesJudgement: (file: string) => boolean = () => true) {}

  record(pid: number, file: string, argv: readonly string[]): void {
    if (!this.reachesJudgement(file)) return;
    const bytes = file.length + argvBytes(argv);
    if (bytes > MAX_REMEMBERED_BYTES) return;
    this.entries.push({ pid, file, argv, bytes });
    this.bytes += bytes;
    while (this.entries.length > MAX_REMEMBERED || this.bytes > MAX_REMEMBERED_BYTES) this.bytes -= this.entries.shift()?.bytes ?? 0;
  }

  /** True, once, when `pid` was decided to run exactly this `file` and `argv`. */
  take(pid: number, file: string, argv: readonly string[]): boolean {
    const index = this.entries.findIndex((entry) => entry.pid === pid && entry.file === file && sameArgv(entry.argv, argv));
    if (index === -1) return false;
    this.bytes -= this.entries.splice(index, 1)[0]?.bytes ?? 0;
    return true;
  }
}

function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((arg, i) => arg === b[i]);
}

/** A map of at most MAX_REMEMBERED keys of MAX_REMEMBERED_BYTES in all, the oldest forgotten first. */
export class BoundedMemory<T> {
  private readonly entries = new Map<string, T>();
  private bytes = 0;

  get(key: string): T | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  set(key: string, value: T): void {
    if (key.length > MAX_REMEMBERED_BYTES || this.entries.has(key)) return;
    this.entries.set(key, value);
    this.bytes += key.length;
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= MAX_REMEMBERED && this.bytes <= MAX_REMEMBERED_BYTES) break;
      this.entries.delete(oldest);
      this.bytes -= oldest.length;
    }
  }
}

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
  private readonly refused = new BoundedMemory<string>();

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
    const first = !this.launched;
    this.launched = true;
    if ("unreadable" in notified) return this.refuse(null, `cannot check an exec by process ${notified.pid}: ${notified.unreadable}`);
    const { real } = notified;
    // No such file: the kernel fails it (ENOENT and the like) with nothing run.
    if (real === null && !first) return "continue";
    const exec: MediatedExec = { file: notified.file, real: real ?? notified.file, argv: notified.argv, workdir: notified.cwd };
    if (first) {
      // Nothing else runs under the filter before the launcher's own exec.
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
