// The sandbox state as current Codex sends it: a `permissionProfile` (file
// system entries, network) instead of the 0.97 `sandboxPolicy`. Both forms end
// up as one SandboxState; the profile wins when a payload carries both.
//
// Codex's own types (codex-rs/protocol, `PermissionProfile`,
// `ManagedFileSystemPermissions`, `FileSystemSandboxEntry`, `FileSystemPath`,
// `FileSystemSpecialPath`, `NetworkSandboxPolicy`) define the shapes read here.
// What this sandbox cannot honour exactly is handled on the safe side: reads
// are never restricted (the Landlock sandbox reads everywhere), a grant we do
// not understand is not granted, and an entry that would hide a path from the
// sandbox (`deny`) is refused rather than dropped.
import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import {
  type Environment,
  parseSandboxState,
  type SandboxPolicy,
  type SandboxState,
  SandboxStateError,
} from "./policy.ts";

/** Where a managed profile's entries resolve relative paths and workspace roots. */
interface ResolveContext {
  sandboxCwd: string;
  env: Environment;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Serde treats a missing key and `null` alike for optional fields. */
function absent(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

const QUOTE_LIMIT = 200;

/** The part of the payload we could not read, as JSON, cut to a readable length. */
function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= QUOTE_LIMIT ? text : `${text.slice(0, QUOTE_LIMIT)}...`;
}

function invalid(where: string, problem: string, value: unknown): never {
  throw new SandboxStateError("invalid", `${where}: ${problem}, got ${quote(value)}`);
}

/**
 * A path as Codex writes it: absolute, or a `file://` URI (percent-encoded,
 * local host only). Returned resolved (no `.`/`..`, no trailing slash).
 */
export function pathFromWire(value: unknown, where: string): string {
  if (typeof value !== "string" || value === "") invalid(where, "expected an absolute path or a file:// URI", value);
  if (value.startsWith("file:")) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return invalid(where, "not a valid file:// URI", value);
    }
    if (url.host !== "" && url.host !== "localhost") invalid(where, "a file:// URI must name a local path", value);
    let decoded: string;
    try {
      decoded = decodeURIComponent(url.pathname);
    } catch {
      return invalid(where, "bad percent-encoding", value);
    }
    if (decoded.includes("\0")) invalid(where, "a path cannot contain NUL", value);
    return resolve(decoded);
  }
  if (!isAbsolute(value)) invalid(where, "expected an absolute path or a file:// URI", value);
  if (value.includes("\0")) invalid(where, "a path cannot contain NUL", value);
  return resolve(value);
}

type Network = "restricted" | "enabled";

function parseNetwork(value: unknown, where: string): Network {
  // Codex's NetworkSandboxPolicy defaults to restricted when absent.
  if (value === undefined || value === null) return "restricted";
  if (value !== "restricted" && value !== "enabled") invalid(where, `expected "restricted" or "enabled"`, value);
  return value;
}

type Access = "read" | "write";

/** One file-system entry resolved to a real location, or null when it names nothing here. */
interface ResolvedEntry {
  path: string;
  access: Access;
  skipIfMissing: boolean;
}

function parseAccess(value: unknown, where: string): Access {
  if (value === "read" || value === "write") return value;
  if (value === "deny" || value === "none") {
    invalid(where, "`deny` entries are not supported: this sandbox cannot hide a path from reading, so the call is refused", value);
  }
  return invalid(where, `expected "read", "write" or "deny"`, value);
}

/** `project_roots`' optional `subpath`: relative, staying inside the root. */
function joinSubpath(root: string, subpath: unknown, where: string): string {
  if (subpath === undefined || subpath === null) return root;
  if (typeof subpath !== "string") invalid(`${where}.subpath`, "expected a string", subpath);
  const joined = resolve(root, subpath);
  if (joined !== root && !joined.startsWith(`${root}/`)) invalid(`${where}.subpath`, "must stay inside the project root", subpath);
  return joined;
}

/**
 * The location a special path names, or null when it names none we can use:
 * `minimal` (platform defaults, for reads, which are never restricted here),
 * `tmpdir` without an absolute $TMPDIR, `slash_tmp`, and kinds newer than
 * this server (Codex itself warns and ignores those).
 */
function resolveSpecial(value: unknown, where: string, context: ResolveContext): string | null {
  if (!isRecord(value)) return invalid(where, "expected an object with a `kind`", value);
  switch (value.kind) {
    case "root":
      return "/";
    case "minimal":
      return null;
    case "project_roots":
    case "current_working_directory":
      return joinSubpath(context.sandboxCwd, value.subpath, where);
    case "tmpdir": {
      const tmpdir = context.env.TMPDIR;
      return tmpdir !== undefined && isAbsolute(tmpdir) ? resolve(tmpdir) : null;
    }
    case "slash_tmp":
      return "/tmp";
    case "unknown":
      return null;
    default:
      if (typeof value.kind !== "string") return invalid(`${where}.kind`, "expected a string", value.kind);
      return null;
  }
}

function parseEntry(entry: unknown, where: string, context: ResolveContext): ResolvedEntry | null {
  if (!isRecord(entry)) return invalid(where, "expected an object with `path` and `access`", entry);
  const access = parseAccess(entry.access, `${where}.access`);
  const missing = entry.missing_path_behavior;
  if (missing !== undefined && missing !== null && typeof missing !== "string") {
    invalid(`${where}.missing_path_behavior`, "expected a string", missing);
  }
  const path = entry.path;
  if (!isRecord(path)) return invalid(`${where}.path`, "expected an object with a `type`", path);
  let location: string | null;
  switch (path.type) {
    case "path":
      location = pathFromWire(path.path, `${where}.path.path`);
      break;
    case "special":
      location = resolveSpecial(path.value, `${where}.path.value`, context);
      break;
    case "glob_pattern":
      if (typeof path.pattern !== "string") invalid(`${where}.path.pattern`, "expected a string", path.pattern);
      // Reads are unrestricted anyway; a glob write grant is one we cannot give (Landlock takes directories).
      if (access === "write") invalid(where, "glob write entries are not supported", entry);
      return null;
    default:
      return invalid(`${where}.path.type`, `expected "path", "special" or "glob_pattern"`, path.type);
  }
  return location === null ? null : { path: location, access, skipIfMissing: missing === "skip" };
}

function isBeneath(path: string, root: string): boolean {
  return root === "/" ? path !== "/" : path.startsWith(`${root}/`);
}

/** The sandbox a managed profile's file-system part describes. */
function managedPolicy(
  fileSystem: unknown,
  network: Network,
  context: ResolveContext,
): { policy: SandboxPolicy; sandboxCwd: string; readOnlyPaths: string[] } {
  const where = "permissionProfile.file_system";
  if (!isRecord(fileSystem)) return invalid(where, "expected an object with a `type`", fileSystem);
  if (fileSystem.type === "unrestricted") {
    // Everything writable: with the network on that is no sandbox; with it off
    // our launcher still takes the network away (and, since the sandbox can
    // write every program, nothing a rule allows is escalated: it runs inside).
    if (network === "enabled") return { policy: { type: "danger-full-access" }, sandboxCwd: context.sandboxCwd, readOnlyPaths: [] };
    return {
      policy: { type: "workspace-write", writable_roots: ["/"], network_access: false, exclude_slash_tmp: true, exclude_tmpdir_env_var: true },
      sandboxCwd: "/",
      readOnlyPaths: [],
    };
  }
  if (fileSystem.type !== "restricted") return invalid(`${where}.type`, `expected "restricted" or "unrestricted"`, fileSystem.type);
  const rawEntries = fileSystem.entries ?? [];
  if (!Array.isArray(rawEntries)) return invalid(`${where}.entries`, "expected an array", rawEntries);
  const entries = rawEntries
    .map((entry, i) => parseEntry(entry, `${where}.entries[${i}]`, context))
    .filter((entry): entry is ResolvedEntry => entry !== null);

  const writable = [...new Set(entries.filter((entry) => entry.access === "write").map((entry) => entry.path))];
  const readOnlyPaths = [
    ...new Set(
      entries
        .filter((entry) => entry.access === "read" && !writable.includes(entry.path))
        .filter((entry) => writable.some((root) => isBeneath(entry.path, root)))
        .filter((entry) => !(entry.skipIfMissing && !existsSync(entry.path)))
        .map((entry) => entry.path),
    ),
  ];
  const networkAccess = network === "enabled";
  if (writable.length === 0) {
    return { policy: { type: "read-only", network_access: networkAccess }, sandboxCwd: context.sandboxCwd, readOnlyPaths: [] };
  }
  // workspace-write also makes sandboxCwd writable: name one of the profile's
  // own writable roots there, so nothing the profile did not grant becomes writable.
  const sandboxCwd = writable.includes(context.sandboxCwd) ? context.sandboxCwd : (writable[0] ?? context.sandboxCwd);
  return {
    policy: {
      type: "workspace-write",
      writable_roots: writable,
      network_access: networkAccess,
      exclude_slash_tmp: true,
      exclude_tmpdir_env_var: true,
    },
    sandboxCwd,
    readOnlyPaths,
  };
}

function parseProfile(
  profile: unknown,
  context: ResolveContext,
): { policy: SandboxPolicy; sandboxCwd: string; readOnlyPaths: string[] } {
  if (!isRecord(profile)) return invalid("permissionProfile", "expected an object with a `type`", profile);
  switch (profile.type) {
    case "disabled":
      return { policy: { type: "danger-full-access" }, sandboxCwd: context.sandboxCwd, readOnlyPaths: [] };
    case "external":
      return {
        policy: { type: "external-sandbox", network_access: parseNetwork(profile.network, "permissionProfile.network") },
        sandboxCwd: context.sandboxCwd,
        readOnlyPaths: [],
      };
    case "managed":
      return managedPolicy(profile.file_system, parseNetwork(profile.network, "permissionProfile.network"), context);
    default:
      return invalid("permissionProfile.type", `expected "managed", "disabled" or "external"`, profile.type);
  }
}

/**
 * Reads a sandbox state in any form Codex has sent (the params of
 * `codex/sandbox-state/update`, or the object under a call's `_meta`):
 * `permissionProfile` (current Codex; wins when present) or `sandboxPolicy`
 * (0.97). Unknown keys are ignored; known keys of the wrong type are errors
 * that quote what could not be read. Resolves `missing_path_behavior: "skip"`
 * against the file system now, so parse it when the call starts.
 */
export function parseAnySandboxState(params: unknown, env: Environment): SandboxState {
  if (isRecord(params) && absent(params.permissionProfile) && absent(params.sandboxPolicy)) {
    invalid("sandbox state", "neither `permissionProfile` nor `sandboxPolicy` was sent", params);
  }
  if (!isRecord(params) || absent(params.permissionProfile)) {
    // Codex writes sandboxCwd as a file:// URI since it moved to profiles, even next to a sandboxPolicy.
    if (isRecord(params) && typeof params.sandboxCwd === "string" && params.sandboxCwd.startsWith("file:")) {
      return parseSandboxState({ ...params, sandboxCwd: pathFromWire(params.sandboxCwd, "sandboxCwd") });
    }
    return parseSandboxState(params);
  }
  const exe = params.codexLinuxSandboxExe;
  if (exe !== undefined && exe !== null && typeof exe !== "string") invalid("codexLinuxSandboxExe", "expected a string or null", exe);
  for (const flag of ["useLegacyLandlock", "useMxc"]) {
    const value = params[flag];
    if (value !== undefined && value !== null && typeof value !== "boolean") invalid(flag, "expected a boolean", value);
  }
  const cwd = pathFromWire(params.sandboxCwd, "sandboxCwd");
  const { policy, sandboxCwd, readOnlyPaths } = parseProfile(params.permissionProfile, { sandboxCwd: cwd, env });
  return { sandboxPolicy: policy, codexLinuxSandboxExe: typeof exe === "string" ? exe : null, sandboxCwd, readOnlyPaths };
}

/**
 * The line a result carries while read-only paths inside writable roots are
 * not enforced (Landlock cannot carve them out of a writable tree), or null
 * when the state asked for none. The one place that decides whether to say so.
 */
export function readOnlyPathsNotice(state: SandboxState): string | null {
  if (state.readOnlyPaths.length === 0) return null;
  return `codex-exec-mcp: warning: not enforced, these paths stay writable: ${state.readOnlyPaths.join(", ")}`;
}
