// Exec mediation as one call sees it: the socket the launcher hands the
// seccomp listener over (launcher-args.ts), the judging of every exec
// (escalate/exec-mediation.ts), and the refusals, each told once in the
// call's output next to the program's own error.
import { BoundedMemory, CallExecMediation, DecidedExecs, type ExecMediator, type MediatedExec } from "../escalate/exec-mediation.ts";
import type { SocketHub } from "../escalate/socket-hub.ts";
import { closeFd, socketPair, SOCK_SEQPACKET } from "../ffi/socket.ts";
import { renderCommand } from "../policy/shlex.ts";
import { EXEC_LISTENER_MESSAGE, EXEC_MEDIATION_UNAVAILABLE } from "../sandbox/launcher-args.ts";

/** How the server names itself in lines it adds to a call's output. */
const OUTPUT_PREFIX = "codex-exec-mcp";

export interface CallMediationOptions {
  mediate: ExecMediator;
  /** The launcher's exec of Bash, the first one asked about. */
  launch: { file: string; argv: readonly string[] };
  /** A line for the call's output (no newline). */
  tell: (line: string) => void;
  /** The launcher could not mediate this call's execs (`why`); Bash's own still are. */
  unavailable: (why: string) => void;
  log: (message: string) => void;
}

export class CallMediation {
  /** The launcher's end of the hand-over socket: the child inherits it; close it here once spawned. */
  readonly childFd: number;
  /** Bash's execs already decided `run` over the escalation protocol (CallEscalation fills it). */
  readonly decided: DecidedExecs;
  private readonly handOverId: number;
  private mediation: CallExecMediation | null = null;
  private closed = false;
  private readonly told = new BoundedMemory<null>();

  constructor(
    private readonly hub: SocketHub,
    private readonly options: CallMediationOptions,
  ) {
    // Execs the socket worker lets through on their name never reach the decided list.
    this.decided = new DecidedExecs((file) => !hub.letsThroughOnItsName(file));
    const [serverEnd, launcherEnd] = socketPair(SOCK_SEQPACKET);
    this.childFd = launcherEnd;
    this.handOverId = hub.watch(serverEnd, "session", (report) => {
      hub.close(this.handOverId);
      if (report.kind !== "data") return;
      const text = new TextDecoder().decode(report.bytes);
      if (text.startsWith(EXEC_MEDIATION_UNAVAILABLE) && report.fds.length === 0) {
        options.unavailable(text.slice(EXEC_MEDIATION_UNAVAILABLE.length));
        return;
      }
      const [listener, ...extra] = report.fds;
      const expected = text === EXEC_LISTENER_MESSAGE && extra.length === 0 && !report.truncated;
      if (listener === undefined || !expected || this.closed) {
        report.fds.forEach(closeFd);
        if (!this.closed) options.log(`exec mediation: the launcher sent ${report.fds.length} descriptor(s) with an unexpected message`);
        return;
      }
      this.mediation = new CallExecMediation(hub, listener, {
        mediate: options.mediate,
        decided: this.decided,
        launch: options.launch,
        onRefused: (exec, reason) => this.tellRefused(exec, reason),
        log: options.log,
      });
    });
  }

  /** Ends mediation with the call: execs still waiting fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.close(this.handOverId);
    this.mediation?.close();
  }

  /** One line per distinct refusal: a loop refused a thousand times says so once. */
  private tellRefused(exec: MediatedExec | null, reason: string): void {
    const line = exec === null ? `${OUTPUT_PREFIX}: refused an exec: ${reason}` : `${OUTPUT_PREFIX}: refused \`${renderCommand(exec.real, exec.argv)}\`: ${reason}`;
    if (this.told.has(line)) return;
    this.told.set(line, null);
    this.options.tell(line);
  }
}
