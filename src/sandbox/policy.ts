// The sandbox state the client sends (`codex/sandbox-state/update` or a call's
// `_meta`) and what it means for the filesystem and the network.
//
// Parsed by hand rather than with zod: the Linux launcher is built on these
// types too and must start fast, so this module imports nothing heavy.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";

export type NetworkAccess = "restricted" | "enabled";

export type SandboxPolicy =
  | { type: "danger-full-access" }
  | { type: "read-only"; network_access?: boolean }
  | {
      type: "workspace-write";
      writable_roots: string[];
      network_access: boolean;
      exclude_tmpdir_env_var: boolean;
      exclude_slash_tmp: boolean;
    }
  | { type: "external-sandbox"; network_access: NetworkAccess };

/** The policies under which our own platform sandbox confines the shell. */
export type ConfinedPolicy = Extract<SandboxPolicy, { type: "read-only" | "workspace-write" }>;

export interface SandboxState {
  sandboxPolicy: SandboxPolicy;
  codexLinuxSandboxExe: string | null;
  sandboxCwd: string;
  /**
   * Absolute, resolved paths the client asked to keep read-only inside a
   * writable root (a permission profile's `read` entries beneath a `write`
   * one; `skip` entries missing when the call started are dropped). Empty for
   * the 0.97 `sandboxPolicy` form and the default state. Enforced with the
   * built-in protected subpaths (protectedSubpaths) where the platform can.
   */
  readOnlyPaths: string[];
}

export type Environment = Readonly<Record<string, string | undefined>>;

export const MISSING_PARAMS_MESSAGE = "missing params for sandbox state request";
export const DESERIALIZE_FAILED_MESSAGE = "failed to deserialize sandbox state";

/** A sandbox state request the server must reject as invalid params. */
export class SandboxStateError extends Error {
  readonly kind: "missing" | "invalid";

  constructor(kind: "missing" | "invalid", detail?: string) {
    const base = kind === "missing" ? MISSING_PARAMS_MESSAGE : DESERIALIZE_FAILED_MESSAGE;
    super(detail === undefined ? base : `${base}: ${detail}`);
    this.name = "SandboxStateError";
    this.kind = kind;
  }
}

function invalid(detail: string): never {
  throw new SandboxStateError("invalid", detail);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Missing (or null) booleans mean false, as the reference's serde defaults do.
function optionalBoolean(record: Record<string, unknown>, key: string): boolean {
  const value = record[key];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") invalid(`${key} must be a boolean`);
  return value;
}

function absolutePath(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") invalid(`${what} must be a non-empty string`);
  if (!isAbsolute(value)) invalid(`${what} must be an absolute path, got ${JSON.stringify(value)}`);
  return resolve(value);
}

/** Parses the `sandboxPolicy` object; unknown keys are ignored. */
export function parseSandboxPolicy(value: unknown): SandboxPolicy {
  if (!isRecord(value)) invalid("sandboxPolicy must be an object");
  switch (value.type) {
    case "danger-full-access":
      return { type: "danger-full-access" };
    case "read-only":
      return { type: "read-only", network_access: optionalBoolean(value, "network_access") };
    case "workspace-write": {
      const roots = value.writable_roots ?? [];
      if (!Array.isArray(roots)) invalid("writable_roots must be an array");
      return {
        type: "workspace-write",
        writable_roots: roots.map((root, i) => absolutePath(root, `writable_roots[${i}]`)),
        network_access: optionalBoolean(value, "network_access"),
        exclude_tmpdir_env_var: optionalBoolean(value, "exclude_tmpdir_env_var"),
        exclude_slash_tmp: optionalBoolean(value, "exclude_slash_tmp"),
      };
    }
    case "external-sandbox": {
      const access = value.network_access ?? "restricted";
      if (access !== "restricted" && access !== "enabled") {
        invalid(`network_access must be "restricted" or "enabled"`);
      }
      return { type: "external-sandbox", network_access: access };
    }
    default:
      return invalid(`unknown sandboxPolicy type ${JSON.stringify(value.type)}`);
  }
}

/**
 * Parses the params of `codex/sandbox-state/update` (or the same object from a
 * call's `_meta`). The fourth field has changed name across Codex versions, so
 * it and every other unknown key are ignored.
 */
export function parseSandboxState(params: unknown): SandboxState {
  if (params === undefined || params === null) throw new SandboxStateError("missing");
  if (!isRecord(params)) invalid("params must be an object");
  const exe = params.codexLinuxSandboxExe;
  if (exe !== undefined && exe !== null && typeof exe !== "string") invalid("codexLinuxSandboxExe must be a string or null");
  return {
    sandboxPolicy: parseSandboxPolicy(params.sandboxPolicy),
    codexLinuxSandboxExe: typeof exe === "string" ? exe : null,
    sandboxCwd: absolutePath(params.sandboxCwd, "sandboxCwd"),
    readOnlyPaths: [],
  };
}

/** The state a call uses before the client has sent one. */
export function defaultSandboxState(workdir: string): SandboxState {
  return { sandboxPolicy: { type: "read-only" }, codexLinuxSandboxExe: null, sandboxCwd: workdir, readOnlyPaths: [] };
}

/** True when the policy leaves the whole filesystem writable (no platform sandbox). */
export function hasFullDiskWriteAccess(policy: SandboxPolicy): policy is Exclude<SandboxPolicy, ConfinedPolicy> {
  return policy.type === "danger-full-access" || policy.type === "external-sandbox";
}

/**
 * The directories the sandboxed side may write beneath. `["/"]` means
 * everything (no filesystem sandbox). Order: writable_roots, sandboxCwd, /tmp,
 * $TMPDIR; duplicates removed. `/tmp` only counts when it is a directory; a
 * root that does not exist is kept (the Linux launcher skips it).
 */
export function writableRoots(policy: SandboxPolicy, sandboxCwd: string, env: Environment): string[] {
  switch (policy.type) {
    case "danger-full-access":
    case "external-sandbox":
      return ["/"];
    case "read-only":
      return [];
    case "workspace-write": {
      const roots = [...policy.writable_roots, sandboxCwd];
      if (!policy.exclude_slash_tmp && isDirectory("/tmp")) roots.push("/tmp");
      const tmpdir = env.TMPDIR;
      if (!policy.exclude_tmpdir_env_var && tmpdir !== undefined && isAbsolute(tmpdir)) roots.push(tmpdir);
      return [...new Set(roots.map((root) => resolve(root)))];
    }
  }
}

/** Whether the sandboxed side may use the network (AF_UNIX sockets always work). */
export function networkAllowed(policy: SandboxPolicy): boolean {
  switch (policy.type) {
    case "danger-full-access":
      return true;
    case "read-only":
      return policy.network_access === true;
    case "workspace-write":
      return policy.network_access;
    case "external-sandbox":
      return policy.network_access === "enabled";
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const GITDIR_PREFIX = "gitdir:";

/**
 * Paths under a writable root that stay read-only (Seatbelt on macOS; the
 * namespace sandbox's read-only binds on Linux, not Landlock alone): an
 * existing `.git` directory, or a `.git` file plus the directory its `gitdir:`
 * line points to, and existing `.codex` and `.agents` directories. Missing
 * ones are not listed so `git init` keeps working.
 */
export function protectedSubpaths(root: string): string[] {
  const result: string[] = [];
  const git = resolve(root, ".git");
  if (isDirectory(git)) {
    result.push(git);
  } else if (existsSync(git)) {
    result.push(git);
    const pointed = gitdirTarget(git, root);
    if (pointed !== undefined && isDirectory(pointed)) result.push(pointed);
  }
  for (const name of PROTECTED_DIRECTORIES) {
    const directory = resolve(root, name);
    if (isDirectory(directory)) result.push(directory);
  }
  return result;
}

/** Agent configuration directories a writable root keeps read-only. */
const PROTECTED_DIRECTORIES = [".codex", ".agents"];

/** `path` with every symlink resolved; as given when it does not exist (yet). */
export function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function gitdirTarget(gitFile: string, root: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(gitFile, "utf8");
  } catch {
    return undefined;
  }
  const line = text.split("\n").find((l) => l.trim().startsWith(GITDIR_PREFIX));
  if (line === undefined) return undefined;
  const target = line.trim().slice(GITDIR_PREFIX.length).trim();
  return target === "" ? undefined : resolve(root, target);
}
