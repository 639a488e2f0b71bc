// Every message of the exec-interception protocol, defined once for both the
// wrapper (inside the sandbox) and the server. Wire-compatible with the
// reference's escalate_protocol: 4-byte little-endian length, then JSON.
// Imported on the wrapper's start-up path: keep it free of dependencies.

export const ESCALATE_SOCKET_ENV = "CODEX_ESCALATE_SOCKET";
export const BASH_EXEC_WRAPPER_ENV = "BASH_EXEC_WRAPPER";
export const EXEC_WRAPPER_ENV = "EXEC_WRAPPER";
/** Variables that belong to the interception machinery, not to the program. */
export const INTERCEPTION_ENV = [ESCALATE_SOCKET_ENV, BASH_EXEC_WRAPPER_ENV, EXEC_WRAPPER_ENV] as const;

export const LENGTH_PREFIX_BYTES = 4;
/**
 * Largest frame we accept. Linux caps argv + env of one execve at a few MiB
 * (ARG_MAX/stack limits), so an honest request always fits; anything larger is
 * hostile and closes the session before any allocation.
 */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

/** Client → server: the intercepted execve. */
export interface ExecRequest {
  file: string;
  argv: string[];
  workdir: string;
  env: Record<string, string>;
}

export type EscalateAction = "Run" | "Escalate" | { Deny: { reason: string | null } };

/** Server → client: what the wrapper must do. */
export interface EscalateResponse {
  action: EscalateAction;
}

/** Client → server after `Escalate`: the fd numbers attached to this frame. */
export interface SuperExecMessage {
  fds: number[];
}

/** Server → client: the escalated program's exit code. */
export interface SuperExecResult {
  exit_code: number;
}

/** A message that broke the protocol; the session that sent it is closed. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeFrame(message: ExecRequest | EscalateResponse | SuperExecMessage | SuperExecResult): Uint8Array {
  const payload = encoder.encode(JSON.stringify(message));
  if (payload.byteLength > MAX_FRAME_BYTES) throw new ProtocolError(`frame of ${payload.byteLength} bytes exceeds ${MAX_FRAME_BYTES}`);
  const frame = new Uint8Array(new ArrayBuffer(LENGTH_PREFIX_BYTES + payload.byteLength));
  new DataView(frame.buffer).setUint32(0, payload.byteLength, true);
  frame.set(payload, LENGTH_PREFIX_BYTES);
  return frame;
}

/**
 * Splits a byte stream into frame payloads, joining the chunks of a frame
 * once when it is complete: a frame of several MiB arrives 64 KiB at a time,
 * and re-joining everything held on every chunk would copy it hundreds of
 * times. A length above MAX_FRAME_BYTES is refused as soon as it is known.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private held = 0;

  get bufferedBytes(): number {
    return this.held;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk);
      this.held += chunk.byteLength;
    }
    const frames: Uint8Array[] = [];
    while (this.held >= LENGTH_PREFIX_BYTES) {
      const prefix = this.peek(LENGTH_PREFIX_BYTES);
      const length = new DataView(prefix.buffer, prefix.byteOffset, LENGTH_PREFIX_BYTES).getUint32(0, true);
      if (length > MAX_FRAME_BYTES) throw new ProtocolError(`frame length ${length} exceeds the ${MAX_FRAME_BYTES}-byte limit`);
      if (this.held < LENGTH_PREFIX_BYTES + length) break;
      frames.push(this.take(LENGTH_PREFIX_BYTES + length).subarray(LENGTH_PREFIX_BYTES));
    }
    return frames;
  }

  /** The first `count` held bytes (count <= held), joining the few leading chunks they span. */
  private peek(count: number): Uint8Array {
    if (this.chunks[0]!.byteLength < count) {
      let spanned = 0;
      for (let i = 0; spanned < count; i++) spanned += this.chunks[i]!.byteLength;
      const joined = this.take(spanned);
      this.chunks.unshift(joined);
      this.held += spanned;
    }
    return this.chunks[0]!.subarray(0, count);
  }

  /** Removes and returns the first `count` held bytes. */
  private take(count: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.byteLength >= count) {
      const rest = first.subarray(count);
      if (rest.byteLength > 0) this.chunks[0] = rest;
      else this.chunks.shift();
      this.held -= count;
      return first.subarray(0, count);
    }
    const taken = new Uint8Array(new ArrayBuffer(count));
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[0]!;
      const part = Math.min(chunk.byteLength, count - filled);
      taken.set(chunk.subarray(0, part), filled);
      filled += part;
      if (part < chunk.byteLength) this.chunks[0] = chunk.subarray(part);
      else this.chunks.shift();
    }
    this.held -= count;
    return taken;
  }
}

function parseJson(payload: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(payload));
  } catch (error) {
    throw new ProtocolError(`frame is not UTF-8 JSON: ${(error as Error).message}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isFdArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => Number.isInteger(item) && item >= 0);
}

export function parseExecRequest(payload: Uint8Array): ExecRequest {
  const value = parseJson(payload);
  if (!isRecord(value)) throw new ProtocolError("exec request is not an object");
  const { file, argv, workdir, env } = value;
  if (typeof file !== "string" || file.length === 0) throw new ProtocolError("exec request: `file` must be a non-empty string");
  if (!isStringArray(argv)) throw new ProtocolError("exec request: `argv` must be an array of strings");
  if (typeof workdir !== "string") throw new ProtocolError("exec request: `workdir` must be a string");
  if (!isRecord(env) || !Object.values(env).every((item) => typeof item === "string")) {
    throw new ProtocolError("exec request: `env` must map strings to strings");
  }
  return { file, argv, workdir, env: env as Record<string, string> };
}

export function parseEscalateResponse(payload: Uint8Array): EscalateResponse {
  const value = parseJson(payload);
  if (isRecord(value)) {
    const { action } = value;
    if (action === "Run" || action === "Escalate") return { action };
    if (isRecord(action) && isRecord(action.Deny)) {
      const reason = action.Deny.reason;
      if (reason === null || reason === undefined || typeof reason === "string") return { action: { Deny: { reason: reason ?? null } } };
    }
  }
  throw new ProtocolError("escalate response has an unknown shape");
}

export function parseSuperExecMessage(payload: Uint8Array): SuperExecMessage {
  const value = parseJson(payload);
  if (!isRecord(value) || !isFdArray(value.fds)) throw new ProtocolError("super-exec message: `fds` must be an array of fd numbers");
  return { fds: value.fds };
}

export function parseSuperExecResult(payload: Uint8Array): SuperExecResult {
  const value = parseJson(payload);
  if (!isRecord(value) || !Number.isInteger(value.exit_code)) throw new ProtocolError("super-exec result: `exit_code` must be an integer");
  return { exit_code: value.exit_code as number };
}
