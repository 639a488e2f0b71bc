// The main-thread side of the socket worker: one worker for the whole server,
// started on first use. Callers register a descriptor with a listener and get
// an id; reports for that id reach the listener until it is closed.
import { closeFd, writeAll } from "../ffi/socket.ts";
import { allowedWhateverTheArguments } from "../policy/evaluate.ts";
import { makePipe } from "../ffi/poll.ts";
import { encodeCommand, WorkerCommand, type WatchKind, type WorkerReport, type WorkerSetup } from "./socket-worker-protocol.ts";

export type ReportListener = (report: WorkerReport) => void;

const WATCH_COMMANDS: Record<WatchKind, WorkerCommand> = {
  handshakes: WorkerCommand.WatchHandshakes,
  session: WorkerCommand.WatchSession,
  readable: WorkerCommand.WatchReadable,
  "exec-listener": WorkerCommand.WatchExecListener,
};

export interface SocketHubOptions {
  /** See WorkerSetup.restrictedPrograms; default null (every exec reaches its listener). */
  restrictedPrograms?: string[] | null;
}

export class SocketHub {
  private worker: Worker | null = null;
  private commandFd = -1;
  private nextId = 1;
  private readonly listeners = new Map<number, { fd: number; listener: ReportListener }>();

  private readonly restricted: ReadonlySet<string> | null;

  constructor(private readonly options: SocketHubOptions = {}) {
    this.restricted = options.restrictedPrograms === undefined || options.restrictedPrograms === null ? null : new Set(options.restrictedPrograms);
  }

  /** Whether the worker answers an exec of `file` itself, never reporting it (WorkerSetup.restrictedPrograms). */
  letsThroughOnItsName(file: string): boolean {
    return this.restricted !== null && allowedWhateverTheArguments(file, this.restricted);
  }

  /** Starts watching `fd`; from now on the hub owns it. Returns the watch id. */
  watch(fd: number, kind: WatchKind, listener: ReportListener): number {
    this.ensureWorker();
    const id = this.nextId++;
    this.listeners.set(id, { fd, listener });
    this.send(WATCH_COMMANDS[kind], fd, id);
    return id;
  }

  /** Lets the worker read the next message for `id`. */
  resume(id: number): void {
    const entry = this.listeners.get(id);
    if (entry !== undefined) this.send(WorkerCommand.Resume, entry.fd, id);
  }

  /** Stops watching `id` and closes its descriptor. */
  close(id: number): void {
    const entry = this.listeners.get(id);
    if (entry === undefined) return;
    this.listeners.delete(id);
    this.send(WorkerCommand.Close, entry.fd, id);
  }

  /** Descriptor behind a live watch (for sending replies, or reading a readable watch). */
  fdOf(id: number): number | undefined {
    return this.listeners.get(id)?.fd;
  }

  private send(command: WorkerCommand, fd: number, id: number): void {
    writeAll(this.commandFd, encodeCommand(command, fd, id));
  }

  private ensureWorker(): void {
    if (this.worker !== null) return;
    const [readEnd, writeEnd] = makePipe();
    this.commandFd = writeEnd;
    const worker = new Worker(socketWorkerUrl());
    worker.onerror = (event) => {
      throw new Error(`the socket worker failed: ${event.message}`);
    };
    worker.onmessage = (event: MessageEvent<WorkerReport>) => {
      const entry = this.listeners.get(event.data.id);
      if (entry !== undefined) entry.listener(event.data);
      // Descriptors that arrived for a watch that is gone have no other owner.
      else if (event.data.kind === "data") event.data.fds.forEach(closeFd);
    };
    const setup: WorkerSetup = { commandFd: readEnd, restrictedPrograms: this.options.restrictedPrograms ?? null };
    worker.postMessage(setup);
    // An idle worker blocked in poll must not keep the server alive.
    worker.unref();
    this.worker = worker;
  }
}

/**
 * The worker's module. In a compiled binary, Bun finds extra entry points by
 * their path relative to the build's root (the repository: scripts/build.ts
 * stages every embedded file inside it); from source, beside this file.
 */
function socketWorkerUrl(): string {
  return import.meta.url.includes("/$bunfs/") ? "./src/escalate/socket-worker.ts" : new URL("./socket-worker.ts", import.meta.url).href;
}
