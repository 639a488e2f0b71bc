// Runs on its own thread: blocks in poll(2) over the escalation sockets and the
// calls' output pipes and reports what arrives (or, for a pipe, that something
// did), so that nothing a sandboxed process sends (or fails to send) can block
// the server's event loop. See socket-worker-protocol.ts.
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, pollReadable } from "../ffi/poll.ts";
import { seccompArch } from "../ffi/seccomp.ts";
import { answerNotification, receiveNotification } from "../ffi/seccomp-notify.ts";
import { closeFd, MAX_FDS_PER_MESSAGE, readSome, receiveWithFds } from "../ffi/socket.ts";
import { allowedWhateverTheArguments } from "../policy/evaluate.ts";
import { readNotifiedExec } from "./exec-target.ts";
import { COMMAND_RECORD_BYTES, decodeCommands, WorkerCommand, type WatchKind, type WorkerReport, type WorkerSetup } from "./socket-worker-protocol.ts";

declare const self: Worker;

/** Largest read per report; the main thread's frame reader enforces frame limits. */
const READ_BYTES = 64 * 1024;
const HANDSHAKE_READ_BYTES = 64;

const WATCH_KINDS = new Map<WorkerCommand, WatchKind>([
  [WorkerCommand.WatchHandshakes, "handshakes"],
  [WorkerCommand.WatchSession, "session"],
  [WorkerCommand.WatchReadable, "readable"],
  [WorkerCommand.WatchExecListener, "exec-listener"],
]);

interface Watch {
  id: number;
  kind: WatchKind;
  /** False while a report is in flight (flow control). */
  armed: boolean;
  /** An exec listener's first exec (the launcher's) was reported: the main thread checks it. */
  launchReported: boolean;
}

function serve(setup: WorkerSetup): void {
  const restricted = setup.restrictedPrograms === null ? null : new Set(setup.restrictedPrograms);
  const watches = new Map<number, Watch>();
  let commandBytes = new Uint8Array(0);

  const report = (message: WorkerReport): void => {
    self.postMessage(message);
  };

  const applyCommands = (): boolean => {
    const chunk = readSome(setup.commandFd, 4096);
    if (chunk.byteLength === 0) return false;
    const joined = new Uint8Array(commandBytes.byteLength + chunk.byteLength);
    joined.set(commandBytes);
    joined.set(chunk, commandBytes.byteLength);
    const whole = joined.byteLength - (joined.byteLength % COMMAND_RECORD_BYTES);
    commandBytes = joined.slice(whole);
    for (const { command, fd, id } of decodeCommands(joined.subarray(0, whole))) {
      const watch = watches.get(fd);
      const kind = WATCH_KINDS.get(command);
      if (kind !== undefined) {
        watches.set(fd, { id, kind, armed: true, launchReported: false });
      } else if (watch !== undefined && watch.id === id) {
        if (command === WorkerCommand.Resume) watch.armed = true;
        if (command === WorkerCommand.Close) {
          watches.delete(fd);
          closeFd(fd);
        }
      }
    }
    return true;
  };

  const readFrom = (fd: number, watch: Watch, revents: number): void => {
    watch.armed = false;
    if (watch.kind === "readable") {
      report({ kind: "ready", id: watch.id });
      return;
    }
    if (watch.kind === "exec-listener") {
      readExec(fd, watch, revents);
      return;
    }
    const handshakes = watch.kind === "handshakes";
    try {
      const message = receiveWithFds(fd, handshakes ? HANDSHAKE_READ_BYTES : READ_BYTES, MAX_FDS_PER_MESSAGE, true);
      if (message === null) {
        watch.armed = true;
        return;
      }
      // On a stream an empty read is the end; on the handshake (datagram)
      // socket it is an empty datagram, which the main thread refuses, unless
      // poll reported a hang-up.
      if (message.closed && (!handshakes || (revents & POLLHUP) !== 0)) {
        report({ kind: "closed", id: watch.id });
        return;
      }
      // A copy of just the bytes: posting the view would clone its whole
      // read buffer, 64 KiB for every one-byte message.
      report({ kind: "data", id: watch.id, bytes: message.data.slice(), fds: message.fds, truncated: message.truncated });
    } catch (error) {
      report({ kind: "failed", id: watch.id, error: (error as Error).message });
    }
  };

  // One notification per turn of the poll loop, so that a flood of execs in
  // one call (a fork bomb) takes turns with every other descriptor.
  const readExec = (fd: number, watch: Watch, revents: number): void => {
    try {
      // A hang-up without a pending notification: no process is left under the filter.
      if ((revents & POLLIN) === 0) {
        report({ kind: "closed", id: watch.id });
        return;
      }
      const notification = receiveNotification(fd);
      // Most execs: no rule could say anything but allow, so the main thread need not be asked.
      const allowedOnItsName = (file: string) => watch.launchReported && restricted !== null && allowedWhateverTheArguments(file, restricted);
      const exec = notification === null ? null : readNotifiedExec(fd, notification, seccompArch(), allowedOnItsName);
      watch.armed = true;
      // Its process died meanwhile: nothing to answer.
      if (exec === null) return;
      if ("allowed" in exec) {
        answerNotification(fd, exec.notificationId, "continue");
        return;
      }
      watch.launchReported = true;
      watch.armed = false;
      report({ kind: "exec", id: watch.id, exec });
    } catch (error) {
      report({ kind: "failed", id: watch.id, error: (error as Error).message });
    }
  };

  for (;;) {
    // Built without intermediate arrays: with hundreds of sessions open this
    // runs for every message, and its garbage piles up in this thread's heap.
    const polled = [setup.commandFd];
    for (const [fd, watch] of watches) if (watch.armed) polled.push(fd);
    for (const { fd, revents } of pollReadable(polled, -1)) {
      if (fd === setup.commandFd) {
        if (!applyCommands()) return;
        continue;
      }
      const watch = watches.get(fd);
      if (watch === undefined || !watch.armed) continue;
      if ((revents & POLLNVAL) !== 0) {
        watch.armed = false;
        report({ kind: "failed", id: watch.id, error: "descriptor is not open" });
      } else if ((revents & (POLLIN | POLLHUP | POLLERR)) !== 0) {
        readFrom(fd, watch, revents);
      }
    }
  }
}

self.onmessage = (event: MessageEvent<WorkerSetup>) => {
  serve(event.data);
};
