// The server side of the exec-interception protocol for one tool call. Bash
// (inside the sandbox) gets `clientFd`; every wrapper it starts opens a session
// over it. Everything that arrives is treated as hostile: frames are capped,
// a session that breaks the protocol is closed alone, and nothing here ever
// waits on a read (the socket worker does the waiting).
import { isAbsolute, resolve } from "node:path";
import { closeFd, MAX_FDS_PER_MESSAGE, sendNonBlocking, socketPair, SOCK_DGRAM } from "../ffi/socket.ts";
import {
  encodeFrame,
  FrameReader,
  parseExecRequest,
  parseSuperExecMessage,
  ProtocolError,
  type EscalateResponse,
  type ExecRequest,
} from "./protocol.ts";
import type { SocketHub } from "./socket-hub.ts";
import type { WorkerReport } from "./socket-worker-protocol.ts";
import { spawnEscalated, type EscalatedProcess } from "./spawn.ts";

/**
 * What the server decided for one intercepted exec. An escalation may name
 * the path to start (the program's resolved real path) instead of the
 * request's `file`.
 */
export type ExecDecision = { kind: "run" } | { kind: "escalate"; file?: string } | { kind: "deny"; reason: string | null };

/**
 * Decides for one exec. `request.file` is absolute (resolved against the
 * request's workdir). Must not throw for a decision; a throw denies the exec.
 */
export type ExecDecider = (request: ExecRequest) => Promise<ExecDecision>;

export interface CallEscalationOptions {
  /** Sessions open at once for this call; more are refused (closed at once). */
  maxSessions?: number;
  /**
   * Called after a request of more than LARGE_REQUEST_BYTES was parsed:
   * decoding and parsing it left several times its size in garbage.
   */
  onLargeRequest?: () => void;
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
  state: SessionState;
  frames: FrameReader;
  request: ExecRequest | null;
  /** Size of the request frame, counted against the call's held bytes until the session ends. */
  requestBytes: number;
  /** Descriptors received for an escalation, owned until handed to the child. */
  fds: number[];
}

function responseFor(decision: ExecDecision): EscalateResponse {
  if (decision.kind === "run") return { action: "Run" };
  if (decision.kind === "escalate") return { action: "Escalate" };
  return { action: { Deny: { reason: decision.reason } } };
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
  private closed = false;
  private heldBytes = 0;

  constructor(
    private readonly hub: SocketHub,
    private readonly decide: ExecDecider,
    options: CallEscalationOptions = {},
  ) {
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.log = options.log ?? (() => {});
    this.onLargeRequest = options.onLargeRequest ?? (() => {});
    const [serverEnd, clientEnd] = socketPair(SOCK_DGRAM);
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
    if (fd === undefined || extra.length > 0 || report.truncated || this.closed || this.sessions.size >= this.maxSessions) {
      this.log(`refused a handshake carrying ${report.fds.length} fd(s)${report.truncated ? " (truncated)" : ""}`);
      report.fds.forEach(closeFd);
      return;
    }
    const session: Session = { id: 0, state: "awaiting-request", frames: new FrameReader(), request: null, requestBytes: 0, fds: [] };
    session.id = this.hub.watch(fd, "session", (sessionReport) => this.onSessionReport(session, sessionReport));
    this.sessions.set(session.id, session);
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
      this.runEscalated(session, session.request, targets);
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
      try {
        decision = await this.decide(request);
      } catch (error) {
        decision = { kind: "deny", reason: `policy evaluation failed: ${(error as Error).message}` };
      }
    }
    if (session.state !== "deciding") return;
    session.request = decision.kind === "escalate" && decision.file !== undefined ? { ...request, file: decision.file } : request;
    session.state = decision.kind === "escalate" ? "awaiting-fds" : "done";
    if (!this.reply(session, responseFor(decision)) || session.state === "done") this.endSession(session);
  }

  private runEscalated(session: Session, request: ExecRequest, targets: number[]): void {
    session.state = "running";
    const child = spawnEscalated(request, targets, session.fds);
    session.fds = [];
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
    this.hub.close(session.id);
  }
}
