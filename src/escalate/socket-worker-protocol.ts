// How the server's main thread and the socket worker talk. The worker spends
// its life blocked in poll(2), where it cannot receive postMessage events, so
// commands reach it as fixed-size records on a pipe it polls; its reports come
// back as ordinary messages.
//
// Ownership rule: once a descriptor is being watched, only the worker closes
// it, and only when told to; the main thread never touches it after saying so.
// Ids (never reused) tie every report to one watch, so a report about a closed
// descriptor whose number the kernel has since handed out again is ignored.

import type { ExecToJudge } from "./exec-target.ts";

export const WorkerCommand = {
  /** Watch a datagram socket for handshakes. */
  WatchHandshakes: 1,
  /** Watch a stream socket for frames. */
  WatchSession: 2,
  /** Read again after a report (flow control: one report in flight per watch). */
  Resume: 3,
  /** Stop watching and close the descriptor. */
  Close: 4,
  /**
   * Watch any readable descriptor (a command's output pipe) and only report
   * that it is ready: the main thread reads it itself, into a buffer it reuses.
   */
  WatchReadable: 5,
  /**
   * Watch a seccomp listener (exec mediation): read each notification and
   * what its process asks to run, and report that (exec-target.ts).
   */
  WatchExecListener: 6,
} as const;
export type WorkerCommand = (typeof WorkerCommand)[keyof typeof WorkerCommand];

export const COMMAND_RECORD_BYTES = 12;

export function encodeCommand(command: WorkerCommand, fd: number, id: number): Uint8Array {
  const record = new Uint8Array(new ArrayBuffer(COMMAND_RECORD_BYTES));
  const view = new DataView(record.buffer);
  view.setInt32(0, command, true);
  view.setInt32(4, fd, true);
  view.setInt32(8, id, true);
  return record;
}

export interface DecodedCommand {
  command: WorkerCommand;
  fd: number;
  id: number;
}

export function decodeCommands(bytes: Uint8Array): DecodedCommand[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const commands: DecodedCommand[] = [];
  for (let offset = 0; offset + COMMAND_RECORD_BYTES <= bytes.byteLength; offset += COMMAND_RECORD_BYTES) {
    commands.push({ command: view.getInt32(offset, true) as WorkerCommand, fd: view.getInt32(offset + 4, true), id: view.getInt32(offset + 8, true) });
  }
  return commands;
}

/** Worker → main. `fds` are process-wide descriptors now owned by the main thread. */
export type WorkerReport =
  | { kind: "data"; id: number; bytes: Uint8Array; fds: number[]; truncated: boolean }
  | { kind: "ready"; id: number }
  | { kind: "exec"; id: number; exec: ExecToJudge }
  | { kind: "closed"; id: number }
  | { kind: "failed"; id: number; error: string };

export type WatchKind = "handshakes" | "session" | "readable" | "exec-listener";

export interface WorkerSetup {
  commandFd: number;
  /**
   * Policy.restrictedPrograms(): an exec of any other program (that the
   * heuristics do not look at either) is allowed whatever its arguments, so
   * the worker lets it continue itself, without a round trip to the main
   * thread. Null: every exec is reported.
   */
  restrictedPrograms: string[] | null;
}
