// Runs on its own thread: blocks in poll(2) over the escalation sockets and
// reports what arrives, so that nothing a sandboxed process sends (or fails to
// send) can block the server's event loop. See socket-worker-protocol.ts.
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, pollReadable } from "../ffi/poll.ts";
import { closeFd, MAX_FDS_PER_MESSAGE, readSome, receiveWithFds } from "../ffi/socket.ts";
import { COMMAND_RECORD_BYTES, decodeCommands, WorkerCommand, type WorkerReport, type WorkerSetup } from "./socket-worker-protocol.ts";

declare const self: Worker;

/** Largest read per report; the main thread's frame reader enforces frame limits. */
const READ_BYTES = 64 * 1024;
const HANDSHAKE_READ_BYTES = 64;

interface Watch {
  id: number;
  handshakes: boolean;
  /** False while a report is in flight (flow control). */
  armed: boolean;
}

function serve(setup: WorkerSetup): void {
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
      if (command === WorkerCommand.WatchHandshakes || command === WorkerCommand.WatchSession) {
        watches.set(fd, { id, handshakes: command === WorkerCommand.WatchHandshakes, armed: true });
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
    try {
      const message = receiveWithFds(fd, watch.handshakes ? HANDSHAKE_READ_BYTES : READ_BYTES, MAX_FDS_PER_MESSAGE, true);
      if (message === null) {
        watch.armed = true;
        return;
      }
      // A datagram socket reports POLLHUP once every writer is gone; a stream, EOF.
      if (message.closed && (!watch.handshakes || (revents & POLLHUP) !== 0)) {
        report({ kind: "closed", id: watch.id });
        return;
      }
      report({ kind: "data", id: watch.id, bytes: message.data, fds: message.fds, truncated: message.truncated });
    } catch (error) {
      report({ kind: "failed", id: watch.id, error: (error as Error).message });
    }
  };

  for (;;) {
    const armed = [...watches].filter(([, watch]) => watch.armed).map(([fd]) => fd);
    for (const { fd, revents } of pollReadable([setup.commandFd, ...armed], -1)) {
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
