// The server side of the exec-interception protocol under pressure, driven
// from this process as a sandboxed wrapper would drive it: framing across any
// chunking, the per-call cap on request bytes, fd-number checks; and the
// socket worker's command records.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, openSync } from "node:fs";
import { join } from "node:path";
import { readNonBlocking } from "../../src/ffi/io.ts";
import { closeFd, sendNonBlocking, sendWithFds, setNonBlocking, socketPair, SOCK_STREAM } from "../../src/ffi/socket.ts";
import { encodeFrame, MAX_FRAME_BYTES, type ExecRequest } from "../../src/escalate/protocol.ts";
import { CallEscalation, type ExecDecider } from "../../src/escalate/server.ts";
import { SocketHub } from "../../src/escalate/socket-hub.ts";
import { COMMAND_RECORD_BYTES, decodeCommands, encodeCommand, WorkerCommand } from "../../src/escalate/socket-worker-protocol.ts";
import { tempDir } from "../support.ts";

const hub = new SocketHub();
const open: CallEscalation[] = [];
afterEach(() => {
  open.splice(0).forEach((escalation) => escalation.close());
});

function callWith(decide: ExecDecider): CallEscalation {
  const escalation = new CallEscalation(hub, decide);
  open.push(escalation);
  return escalation;
}

/** A wrapper's handshake: returns our end of a fresh session, non-blocking. */
function openSession(escalation: CallEscalation): number {
  const [ours, theirs] = socketPair(SOCK_STREAM);
  sendWithFds(escalation.clientFd, new Uint8Array([0]), [theirs]);
  closeFd(theirs);
  setNonBlocking(ours);
  return ours;
}

/** Writes without ever blocking this thread (the server's side runs on it); false once the server closed. */
async function sendAll(fd: number, bytes: Uint8Array, chunkBytes = 64 * 1024): Promise<boolean> {
  for (let offset = 0; offset < bytes.byteLength; ) {
    let sent: number;
    try {
      sent = sendNonBlocking(fd, bytes.subarray(offset, offset + chunkBytes));
    } catch {
      return false;
    }
    if (sent === 0) await Bun.sleep(1);
    offset += sent;
  }
  return true;
}

/** One reply frame's JSON, or what happened instead. */
async function readReply(fd: number, timeoutMs = 2_000): Promise<string> {
  const buffer = new Uint8Array(new ArrayBuffer(64 * 1024));
  const deadline = performance.now() + timeoutMs;
  let received = new Uint8Array(0);
  for (;;) {
    let got: number | null;
    try {
      got = readNonBlocking(fd, buffer);
    } catch {
      return "closed";
    }
    if (got === 0) return "closed";
    if (got !== null) {
      const joined = new Uint8Array(received.byteLength + got);
      joined.set(received);
      joined.set(buffer.subarray(0, got), received.byteLength);
      received = joined;
      const length = received.byteLength >= 4 ? new DataView(received.buffer).getUint32(0, true) : -1;
      if (length >= 0 && received.byteLength >= 4 + length) return new TextDecoder().decode(received.subarray(4, 4 + length));
    } else if (performance.now() > deadline) {
      return "timeout";
    } else {
      await Bun.sleep(2);
    }
  }
}

function request(overrides: Partial<ExecRequest> = {}): ExecRequest {
  return { file: "/bin/true", argv: ["true"], workdir: "/tmp", env: {}, ...overrides };
}

const run: ExecDecider = async () => ({ kind: "run" });

describe("framing", () => {
  test("a request arriving one byte at a time is answered", async () => {
    const escalation = callWith(run);
    const session = openSession(escalation);
    expect(await sendAll(session, encodeFrame(request()), 1)).toBe(true);
    expect(await readReply(session)).toBe('{"action":"Run"}');
    closeFd(session);
  });

  test("a request just under the frame limit is answered; a length above it closes the session before any body", async () => {
    const escalation = callWith(run);
    const big = request({ env: { BIG: "x".repeat(MAX_FRAME_BYTES - 200) } });
    const frame = encodeFrame(big);
    expect(frame.byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES + 4);
    const session = openSession(escalation);
    expect(await sendAll(session, frame)).toBe(true);
    expect(await readReply(session)).toBe('{"action":"Run"}');
    closeFd(session);

    const refused = openSession(escalation);
    const prefix = new Uint8Array(new ArrayBuffer(4));
    new DataView(prefix.buffer).setUint32(0, MAX_FRAME_BYTES + 1, true);
    await sendAll(refused, prefix);
    expect(await readReply(refused)).toBe("closed");
    closeFd(refused);
  });
});

describe("caps", () => {
  test("requests waiting for a decision count against the call's 16 MiB: the third 7 MiB one is cut off", async () => {
    // A decision that never comes (a question nobody answers).
    const escalation = callWith(() => new Promise(() => {}));
    const frame = encodeFrame(request({ env: { BIG: "x".repeat(7 * 1024 * 1024) } }));
    const sessions = [openSession(escalation), openSession(escalation), openSession(escalation)];
    for (const session of sessions) await sendAll(session, frame);
    const replies = await Promise.all(sessions.map((session) => readReply(session, 500)));
    expect(replies).toEqual(["timeout", "timeout", "closed"]);
    sessions.forEach(closeFd);
  });

  for (const [name, targets] of [
    ["above 255", [0, 1, 300]],
    ["listed twice", [1, 1, 2]],
  ] as const) {
    test(`escalation fd numbers ${name}: the session is closed and nothing runs`, async () => {
      const marker = join(tempDir(), "ran");
      const escalation = callWith(async () => ({ kind: "escalate", argv0: "touch", env: {} }));
      const session = openSession(escalation);
      await sendAll(session, encodeFrame(request({ file: "/usr/bin/touch", argv: ["touch", marker] })));
      expect(await readReply(session)).toBe('{"action":"Escalate"}');
      const fds = [0, 1, 2].map(() => openSync("/dev/null", "r+"));
      sendWithFds(session, encodeFrame({ fds: [...targets] }), fds);
      fds.forEach(closeFd);
      expect(await readReply(session)).toBe("closed");
      await Bun.sleep(100);
      expect(existsSync(marker)).toBe(false);
      closeFd(session);
    });
  }
});

describe("socket worker commands", () => {
  test("records round-trip, several to a read", () => {
    const records = [
      encodeCommand(WorkerCommand.WatchReadable, 7, 1),
      encodeCommand(WorkerCommand.Resume, 1023, 2 ** 31 - 1),
      encodeCommand(WorkerCommand.Close, 0, 3),
    ];
    const joined = new Uint8Array(records.length * COMMAND_RECORD_BYTES);
    records.forEach((record, i) => joined.set(record, i * COMMAND_RECORD_BYTES));
    expect(decodeCommands(joined)).toEqual([
      { command: WorkerCommand.WatchReadable, fd: 7, id: 1 },
      { command: WorkerCommand.Resume, fd: 1023, id: 2 ** 31 - 1 },
      { command: WorkerCommand.Close, fd: 0, id: 3 },
    ]);
    // A partial record is left for the next read.
    expect(decodeCommands(joined.subarray(0, COMMAND_RECORD_BYTES + 5))).toHaveLength(1);
  });
});
