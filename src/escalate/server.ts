// The server side of the exec-interception protocol for one tool call. Bash
// (inside the sandbox) gets `clientFd`; every wrapper it starts opens a session
// over it. Everything that arrives is treated as hostile: frames are capped,
// a session that breaks the protocol is closed alone, and nothing here ever
// waits on a read (the socket worker does the waiting).
import { isAbsolute, resolve } from "node:path";
import { POLLHUP, pollReadable } from "../ffi/poll.ts";
import { closeFd, MAX_FDS_PER_MESSAGE, peerProcessId, sendNonBlocking, socketPair, SOCK_SEQPACKET } from "../ffi/socket.ts";
import type { DecidedExecs } from "./exec-mediation.ts";
import {
  encodeFrame,
  FrameReader,
  parseExecRequest,
  parseSuperExecMessage,
  ProtocolError,
  type EscalateResponse,
  type ExecRequest,
} from "./protocol.ts";
import { holdProgram, type HeldProgram, type ResolvedProgram } from "./program.ts";
import type { SocketHub } from "./socket-hub.ts";
import type { WorkerReport } from "./socket-worker-protocol.ts";
import { spawnEscalated, type EscalatedProcess } from "./spawn.ts";

/**
 * What the server decided for one intercepted exec. An escalation runs the
 * resolved program (the file held open since before the decision) with the
 * argv[0] and the whole environment the decider chose: nothing of the
 * request's own argv[0] or environment reaches it unless the decider put it
 * there. `workdir` is where it runs (default: the request's); a decider that
 * checked the directory names the real path it checked, so that a link
 * swapped afterwards cannot move the program elsewhere.
 */
export type ExecDecision =
  | { kind: "run" }
  | { kind: "escalate"; argv0: string; env: Record<string, string>; workdir?: string }
  | { kind: "deny"; reason: string | null };

/**
 * Decides for one exec. `request.file` is absolute (resolved against the
 * request's workdir, lexically); `program` says which file that path reaches.
 * Must not throw for a decision; a throw denies the exec.
 */
export type ExecDecider = (request: ExecRequest, program: ResolvedProgram) => Promise<ExecDecision>;

export interface CallEscalationOptions {
  /** Sessions open at once for this call; more are refused (closed at once). */
  maxSessions?: number;
  /**
   * Called after a request of more than LARGE_REQUEST_BYTES was parsed:
   * decoding and parsing it left several times its size in garbage.
   */
  onLargeRequest?: () => void;
  /** Our own binary, started as `codex-escalate-exec` for each escalation (default: this process's executable). */
  execLauncher?: string;
  /**
   * Where execs decided `run` are noted, by the process that asked, when the
   * call's execs are mediated: its execve then continues without a second
   * judgement (exec-mediation.ts).
   */
  decided?: DecidedExecs;
  log?: (message: string) => void;
}

const LARGE_REQUEST_BYTES = 1024 * 1024;

const DEFAULT_MAX_SESSIONS = 256;
/** Highest fd number an escalated program may ask its received descriptors to be placed at. */
const MAX_TARGET_FD = 255;
/**
 * Request bytes a call may hold at once: partial frames, and the requests of
 * sessions still open (deciding, perhaps waiting on a human; running). Beyond
 * it the sender is cut off, so 256 sessions of 8 MiB requests cannot hold 2 GiB.
 */
const MAX_HELD_BYTES_PER_CALL = 16 * 1024 * 1024;

type SessionState = "awaiting-request" | "deciding" | "awaiting-fds" | "running" | "done";

interface Session {
  id: number;
  /** The session's socket (watched by the hub, which closes it). */
  socket: number;
  state: SessionState;
  frames: FrameReader;
  request: ExecRequest | null;
  /** Size of the request frame, counted against the call's held bytes until the session ends. */
  requestBytes: number;
  /** Descriptors received for an escalation, owned until handed to the child. */
  fds: number[];
  /** The program the request names, held open from before the decision until it is started or the session ends. */
  held: HeldProgram | null;
  /** What the decider chose to escalate. */
  escalation: Extract<ExecDecision, { kind: "escalate" }> | null;
  /** The process that made the session's socket pair (the one about to exec), when noted; else 0. */
  peerPid: number;
}

function responseFor(decision: ExecDecision): EscalateResponse {
  if (decision.kind === "run") return { action: "Run" };
  if (decision.kind === "escalate") return { action: "Escalate" };
  return { action: { Deny: { reason: decision.reason } } };
}

function peerPidOf(socket: number): number {
  try {
    return peerProcessId(socket);
  } catch {
    // Not a socket pair we can ask: its exec is judged again, which is safe.
    return 0;
  }
}

export class CallEscalation {
  /** The end Bash inherits (at a high descriptor: run.ts). Close it in this process once Bash is spawned. */
  readonly clientFd: number;
  private readonly handshakeId: number;
  private readonly sessions = new Map<number, Session>();
  private readonly escalated = new Set<EscalatedProcess>();
  private readonly maxSessions: number;
  private readonly log: (message: string) => void;
  private readonly onLargeRequest: () => void;
  private readonly execLauncher: string;
  private readonly decided: DecidedExecs | null;
  private closed = false;
  private heldBytes = 0;

  constructor(
    private readonly hub: SocketHub,
    private readonly decide: ExecDecider,
    options: CallEscalationOptions = {},
  ) {
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.execLauncher = options.execLauncher ?? process.execPath;
    this.log = options.log ?? (() => {});
    this.onLargeRequest = options.onLargeRequest ?? (() => {});
    this.decided = options.decided ?? null;
    // Seqpacket, not datagram: messages stay whole, and a connected socket
    // ignores a destination address, so the sandbox cannot use the one socket
    // it inherits to send to anyone but us.
    const [serverEnd, clientEnd] = socketPair(SOCK_SEQPACKET);
    this.clientFd = clientEnd;
    this.handshakeId = hub.watch(serverEnd, "handshakes", (report) => this.onHandshake(report));
  }

  /** Ends the call: closes every session and kills escalated programs still running. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.close(this.handshakeId);
    for (const session of [...this.sessions.values()]) this.endSession(session);
    for (const process of this.escalated) process.kill();
    this.escalated.clear();
  }

  /** Escalated programs of this call that are still running. */
  get runningEscalations(): number {
    return this.escalated.size;
  }

  private onHandshake(report: WorkerReport): void {
    if (report.kind !== "data") {
      if (report.kind === "failed") this.log(`escalation socket failed: ${report.error}`);
      return;
    }
    this.hub.resume(this.handshakeId);
    const [fd, ...extra] = report.fds;
    if (this.sessions.size >= this.maxSessions) this.endHungUpSessions();
    if (fd === undefined || extra.length > 0 || report.truncated || this.closed || this.sessions.size >= this.maxSessions) {
      this.log(`refused a handshake carrying ${report.fds.length} fd(s)${report.truncated ? " (truncated)" : ""}`);
      report.fds.forEach(closeFd);
      return;
    }
    const session: Session = {
      id: 0,
      socket: fd,
      state: "awaiting-request",
      frames: new FrameReader(),
      request: null,
      requestBytes: 0,
      fds: [],
      held: null,
      escalation: null,
      peerPid: this.decided === null ? 0 : peerPidOf(fd),
    };
    session.id = this.hub.watch(fd, "session", (sessionReport) => this.onSessionReport(session, sessionReport));
    this.sessions.set(session.id, session);
  }

  /**
   * Ends the sessions whose peer is gone. The hub reports hang-ups in its own
   * time, so a burst of sessions that just ended (a flood of handshakes from a
   * process that exited) may still count against the limit when the next
   * legitimate handshake arrives.
   */
  private endHungUpSessions(): void {
    const sessions = [...this.sessions.values()];
    const hungUp = new Set(pollReadable(sessions.map((session) => session.socket), 0).filter((ready) => (ready.revents & POLLHUP) !== 0).map((ready) => ready.fd));
    for (const session of sessions) if (hungUp.has(session.socket)) this.endSession(session);
  }

  private onSessionReport(session: Session, report: WorkerReport): void {
    if (report.kind !== "data") {
      this.endSession(session);
      return;
    }
    try {
      this.acceptFds(session, report.fds, report.truncated);
      if (report.bytes.byteLength > 0 && session.state !== "awaiting-request" && session.state !== "awaiting-fds") {
        throw new ProtocolError(`unexpected bytes while ${session.state}`);
      }
      const before = session.frames.bufferedBytes;
      const frames = session.frames.push(report.bytes);
      this.heldBytes += session.frames.bufferedBytes - before;
      for (const frame of frames) this.onFrame(session, frame);
      if (this.heldBytes > MAX_HELD_BYTES_PER_CALL) throw new ProtocolError("too many request bytes held for this call");
      if (session.state !== "done") this.hub.resume(session.id);
    } catch (error) {
      this.log(`closed an escalation session: ${(error as Error).message}`);
      this.endSession(session);
    }
  }

  private acceptFds(session: Session, fds: number[], truncated: boolean): void {
    if (fds.length === 0 && !truncated) return;
    session.fds.push(...fds);
    if (session.state !== "awaiting-fds") throw new ProtocolError("descriptors sent outside an escalation");
    if (truncated || session.fds.length > MAX_FDS_PER_MESSAGE) throw new ProtocolError(`more than ${MAX_FDS_PER_MESSAGE} descriptors`);
  }

  private onFrame(session: Session, frame: Uint8Array): void {
    if (session.state === "awaiting-request") {
      session.requestBytes = frame.byteLength;
      this.heldBytes += frame.byteLength;
      if (this.heldBytes > MAX_HELD_BYTES_PER_CALL) throw new ProtocolError("too many request bytes held for this call");
      session.request = parseExecRequest(frame);
      if (frame.byteLength > LARGE_REQUEST_BYTES) this.onLargeRequest();
      session.state = "deciding";
      void this.decideAndRespond(session, session.request);
    } else if (session.state === "awaiting-fds" && session.request !== null) {
      const { fds: targets } = parseSuperExecMessage(frame);
      if (targets.length !== session.fds.length) {
        throw new ProtocolError(`super-exec lists ${targets.length} fd(s) but ${session.fds.length} arrived`);
      }
      // The child's fd table is built up to the largest number listed.
      if (new Set(targets).size !== targets.length || targets.some((target) => target > MAX_TARGET_FD)) {
        throw new ProtocolError(`super-exec fd numbers must be distinct and at most ${MAX_TARGET_FD}`);
      }
      this.runEscalated(session, targets);
    } else {
      throw new ProtocolError(`unexpected frame while ${session.state}`);
    }
  }

  private async decideAndRespond(session: Session, raw: ExecRequest): Promise<void> {
    let decision: ExecDecision;
    const request = { ...raw, file: resolve(raw.workdir, raw.file) };
    if (!isAbsolute(raw.workdir)) {
      decision = { kind: "deny", reason: "invalid exec request: workdir must be an absolute path" };
    } else {
      // Resolved and held before anything is decided or asked.
      session.held = holdProgram(raw.workdir, raw.file);
      try {
        decision = await this.decide(request, session.held.program);
      } catch (error) {
        decision = { kind: "deny", reason: `policy evaluation failed: ${(error as Error).message}` };
      }
    }
    if (session.state !== "deciding") return;
    if (decision.kind === "escalate" && !this.canStart(session.held)) {
      this.log(`not escalating ${request.file}: ${session.held?.program.unresolved ?? "it could not be held"}; it runs inside the sandbox`);
      decision = { kind: "run" };
    }
    if (decision.kind !== "escalate") this.releaseProgram(session);
    session.request = request;
    if (decision.kind === "run" && session.peerPid > 0) this.decided?.record(session.peerPid, request.file, request.argv);
    session.escalation = decision.kind === "escalate" ? decision : null;
    session.state = decision.kind === "escalate" ? "awaiting-fds" : "done";
    if (!this.reply(session, responseFor(decision)) || session.state === "done") this.endSession(session);
  }

  /** An escalation needs the held descriptor (Linux) or at least the resolved file (elsewhere). */
  private canStart(held: HeldProgram | null): boolean {
    if (held === null || held.program.real === null) return false;
    return held.fd !== null || process.platform !== "linux";
  }

  private releaseProgram(session: Session): void {
    const fd = session.held?.fd;
    if (fd !== null && fd !== undefined) closeFd(fd);
    session.held = null;
  }

  private runEscalated(session: Session, targets: number[]): void {
    const { request, held, escalation } = session;
    if (request === null || held === null || held.program.real === null || escalation === null) {
      throw new ProtocolError("descriptors arrived for an exec that was not escalated");
    }
    session.state = "running";
    const child = spawnEscalated(
      {
        file: held.program.real,
        fd: held.fd,
        argv: [escalation.argv0, ...request.argv.slice(1)],
        env: escalation.env,
        workdir: escalation.workdir ?? request.workdir,
        launcher: this.execLauncher,
      },
      targets,
      session.fds,
    );
    session.fds = [];
    // The child has its own copy now.
    this.releaseProgram(session);
    this.escalated.add(child);
    void child.exited.then((exitCode) => {
      this.escalated.delete(child);
      if (session.state !== "running") return;
      session.state = "done";
      this.reply(session, { exit_code: exitCode });
      this.endSession(session);
    });
  }

  private reply(session: Session, message: EscalateResponse | { exit_code: number }): boolean {
    const fd = this.hub.fdOf(session.id);
    if (fd === undefined) return false;
    const frame = encodeFrame(message);
    try {
      // Replies are a few dozen bytes into an empty socket buffer: a short
      // write means the peer is not playing by the rules.
      if (sendNonBlocking(fd, frame) === frame.byteLength) return true;
    } catch (error) {
      this.log(`reply failed: ${(error as Error).message}`);
    }
    return false;
  }

  private endSession(session: Session): void {
    if (!this.sessions.delete(session.id)) return;
    session.state = "done";
    this.heldBytes -= session.frames.bufferedBytes + session.requestBytes;
    session.fds.forEach(closeFd);
    session.fds = [];
    this.releaseProgram(session);
    this.hub.close(session.id);
  }
}
