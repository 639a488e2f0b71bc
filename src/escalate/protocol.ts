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
 * Splits a byte stream into frame payloads. Refuses a length prefix above
 * MAX_FRAME_BYTES as soon as the prefix is complete, so a 4 GiB claim never
 * allocates anything.
 */
export class FrameReader {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.byteLength;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.pendingBytes < LENGTH_PREFIX_BYTES) return frames;
      const buffered = this.concat();
      const length = new DataView(buffered.buffer, buffered.byteOffset).getUint32(0, true);
      if (length > MAX_FRAME_BYTES) throw new ProtocolError(`frame length ${length} exceeds the ${MAX_FRAME_BYTES}-byte limit`);
      if (buffered.byteLength < LENGTH_PREFIX_BYTES + length) return frames;
      frames.push(buffered.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + length));
      const rest = buffered.subarray(LENGTH_PREFIX_BYTES + length);
      this.pending = rest.byteLength > 0 ? [rest] : [];
      this.pendingBytes = rest.byteLength;
    }
  }

  /** Bytes received that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private concat(): Uint8Array {
    if (this.pending.length === 1) return this.pending[0]!;
    const joined = new Uint8Array(this.pendingBytes);
    let offset = 0;
    for (const part of this.pending) {
      joined.set(part, offset);
      offset += part.byteLength;
    }
    this.pending = [joined];
    return joined;
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
