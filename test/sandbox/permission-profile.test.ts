// Every sandbox-state shape Codex has sent, read into one SandboxState. The
// payloads are the ones current Codex (0.171) sends, as captured from the real
// CLI, plus the variants Codex's protocol types allow.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAnySandboxState, pathFromWire, readOnlyPathsNotice } from "../../src/sandbox/permission-profile.ts";
import { networkAllowed, SandboxStateError, writableRoots } from "../../src/sandbox/policy.ts";
import { path, READ_ONLY_PROFILE, special, workspaceWriteProfile } from "./fixtures/codex-profiles.ts";

const cwd = realpathSync(mkdtempSync(join(tmpdir(), "codex-profile-")));
mkdirSync(join(cwd, ".git"));
mkdirSync(join(cwd, ".codex"));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
const env = { TMPDIR: "/var/tmp" };

const workspaceWrite = (network?: string) => workspaceWriteProfile(cwd, network);

const payload = (permissionProfile: unknown, extra: Record<string, unknown> = {}) => ({
  permissionProfile,
  codexLinuxSandboxExe: "/opt/codex/codex",
  sandboxCwd: `file://${cwd}`,
  useLegacyLandlock: false,
  useMxc: false,
  ...extra,
});

function parseError(params: unknown): string {
  try {
    parseAnySandboxState(params, env);
  } catch (error) {
    if (error instanceof SandboxStateError) return error.message;
    throw error;
  }
  throw new Error("expected a SandboxStateError");
}

describe("permissionProfile (current Codex)", () => {
  test("workspace-write: the cwd, /tmp and $TMPDIR are writable; existing .git/.codex are read-only; missing skip entries dropped", () => {
    const state = parseAnySandboxState(payload(workspaceWrite()), env);
    expect(state.sandboxCwd).toBe(cwd);
    expect(state.codexLinuxSandboxExe).toBe("/opt/codex/codex");
    expect(state.sandboxPolicy).toEqual({
      type: "workspace-write",
      writable_roots: [cwd, "/tmp", "/var/tmp"],
      network_access: false,
      exclude_slash_tmp: true,
      exclude_tmpdir_env_var: true,
    });
    expect(writableRoots(state.sandboxPolicy, state.sandboxCwd, env)).toEqual([cwd, "/tmp", "/var/tmp"]);
    expect(state.readOnlyPaths).toEqual([`${cwd}/.git`, `${cwd}/.codex`]);
    expect(networkAllowed(state.sandboxPolicy)).toBe(false);
  });

  test("a read entry without `skip` is kept even when missing; one outside every writable root is not a carve-out", () => {
    const profile = workspaceWrite();
    profile.file_system.entries.push({ path: path(`${cwd}/missing-but-asked`), access: "read" });
    profile.file_system.entries.push({ path: path("/etc"), access: "read" });
    const state = parseAnySandboxState(payload(profile), env);
    expect(state.readOnlyPaths).toEqual([`${cwd}/.git`, `${cwd}/.codex`, `${cwd}/missing-but-asked`]);
  });

  test("network enabled", () => {
    const state = parseAnySandboxState(payload(workspaceWrite("enabled")), env);
    expect(networkAllowed(state.sandboxPolicy)).toBe(true);
  });

  test("read-only: only `root: read` means nothing writable, not even the cwd", () => {
    const profile = READ_ONLY_PROFILE;
    const state = parseAnySandboxState(payload(profile), env);
    expect(state.sandboxPolicy).toEqual({ type: "read-only", network_access: false });
    expect(writableRoots(state.sandboxPolicy, state.sandboxCwd, env)).toEqual([]);
    expect(state.readOnlyPaths).toEqual([]);
    const online = parseAnySandboxState(payload({ ...profile, network: "enabled" }), env);
    expect(networkAllowed(online.sandboxPolicy)).toBe(true);
  });

  test("disabled is no sandbox; external keeps its network setting", () => {
    expect(parseAnySandboxState(payload({ type: "disabled" }), env).sandboxPolicy).toEqual({ type: "danger-full-access" });
    expect(parseAnySandboxState(payload({ type: "external", network: "enabled" }), env).sandboxPolicy).toEqual({
      type: "external-sandbox",
      network_access: "enabled",
    });
    expect(parseAnySandboxState(payload({ type: "external" }), env).sandboxPolicy).toEqual({ type: "external-sandbox", network_access: "restricted" });
  });

  test("managed unrestricted: everything writable; without network our launcher still confines the network", () => {
    expect(parseAnySandboxState(payload({ type: "managed", file_system: { type: "unrestricted" }, network: "enabled" }), env).sandboxPolicy).toEqual({
      type: "danger-full-access",
    });
    const offline = parseAnySandboxState(payload({ type: "managed", file_system: { type: "unrestricted" }, network: "restricted" }), env);
    expect(writableRoots(offline.sandboxPolicy, offline.sandboxCwd, env)).toEqual(["/"]);
    expect(networkAllowed(offline.sandboxPolicy)).toBe(false);
  });

  test("every special kind Codex defines: project_roots (and its old alias) with subpath, minimal, unknown, future kinds", () => {
    const entries = [
      { path: special("root"), access: "read" },
      { path: special("minimal"), access: "read" },
      { path: special("project_roots"), access: "write" },
      { path: special("current_working_directory", { subpath: "build" }), access: "write" },
      { path: special("project_roots", { subpath: ".git" }), access: "read" },
      { path: special("unknown", { path: ":future", subpath: "x" }), access: "write" },
      { path: special("some_kind_from_2027"), access: "write" },
      { path: { type: "glob_pattern", pattern: "**/*.env" }, access: "read" },
    ];
    const state = parseAnySandboxState(payload({ type: "managed", file_system: { type: "restricted", entries }, network: "restricted" }), env);
    expect(state.sandboxPolicy).toMatchObject({ type: "workspace-write", writable_roots: [cwd, `${cwd}/build`] });
    expect(state.readOnlyPaths).toEqual([`${cwd}/.git`]);
  });

  test("tmpdir without an absolute $TMPDIR names nothing", () => {
    const entries = [{ path: special("tmpdir"), access: "write" }];
    const state = parseAnySandboxState(payload({ type: "managed", file_system: { type: "restricted", entries }, network: "restricted" }), {});
    expect(state.sandboxPolicy).toEqual({ type: "read-only", network_access: false });
  });

  test("a writable set without the cwd does not make the cwd writable", () => {
    const entries = [{ path: path("/var/tmp"), access: "write" }];
    const state = parseAnySandboxState(payload({ type: "managed", file_system: { type: "restricted", entries } }), env);
    expect(writableRoots(state.sandboxPolicy, state.sandboxCwd, env)).toEqual(["/var/tmp"]);
  });

  test("the profile wins over a sandboxPolicy sent beside it", () => {
    const state = parseAnySandboxState(payload({ type: "disabled" }, { sandboxPolicy: { type: "read-only" } }), env);
    expect(state.sandboxPolicy).toEqual({ type: "danger-full-access" });
  });

  test("unknown keys anywhere are ignored", () => {
    const profile = { ...workspaceWrite(), future: 1 };
    profile.file_system.entries[1] = { ...profile.file_system.entries[1]!, ...{ extra: true } };
    expect(() => parseAnySandboxState(payload(profile, { somethingNew: { a: 1 } }), env)).not.toThrow();
  });

  test("what cannot be read is an error quoting the part, naming where it is", () => {
    const cases: [unknown, string][] = [
      [payload({ type: "sandboxed" }), 'permissionProfile.type: expected "managed", "disabled" or "external", got "sandboxed"'],
      [payload({ type: "managed", file_system: { type: "restricted", entries: {} } }), "permissionProfile.file_system.entries: expected an array, got {}"],
      [payload({ type: "managed", file_system: "restricted" }), 'permissionProfile.file_system: expected an object with a `type`, got "restricted"'],
      [payload({ type: "managed", file_system: { type: "restricted", entries: [{ path: path("rel/dir"), access: "write" }] } }), 'entries[0].path.path: expected an absolute path or a file:// URI, got "rel/dir"'],
      [payload({ type: "managed", file_system: { type: "restricted", entries: [{ path: path("/x"), access: "all" }] } }), 'entries[0].access: expected "read", "write" or "deny", got "all"'],
      [payload({ type: "managed", file_system: { type: "restricted", entries: [{ path: path("/x"), access: "deny" }] } }), "`deny` entries are not supported"],
      [payload({ type: "managed", file_system: { type: "restricted", entries: [{ path: path("/x"), access: "none" }] } }), "`deny` entries are not supported"],
      [payload({ type: "managed", file_system: { type: "restricted", entries: [{ path: { type: "glob_pattern", pattern: "/a/*" }, access: "write" }] } }), "glob write entries are not supported"],
      [payload({ type: "managed", file_system: { type: "restricted", entries: [{ path: special("project_roots", { subpath: "../up" }), access: "write" }] } }), "must stay inside the project root"],
      [payload({ type: "managed", file_system: { type: "restricted", entries: [{ path: { type: "drive" }, access: "read" }] } }), 'entries[0].path.type: expected "path", "special" or "glob_pattern", got "drive"'],
      [payload({ type: "managed", file_system: { type: "restricted", entries: [] }, network: "wifi" }), 'permissionProfile.network: expected "restricted" or "enabled", got "wifi"'],
      [payload({ type: "disabled" }, { sandboxCwd: "file://remote-host/x" }), "sandboxCwd: a file:// URI must name a local path"],
      [payload({ type: "disabled" }, { sandboxCwd: 7 }), "sandboxCwd: expected an absolute path or a file:// URI, got 7"],
      [payload({ type: "disabled" }, { useLegacyLandlock: "no" }), 'useLegacyLandlock: expected a boolean, got "no"'],
      [payload({ type: "disabled" }, { codexLinuxSandboxExe: 1 }), "codexLinuxSandboxExe: expected a string or null, got 1"],
      [{ codexLinuxSandboxExe: null, sandboxCwd: "file:///w", useLegacyLandlock: false }, "neither `permissionProfile` nor `sandboxPolicy` was sent"],
    ];
    for (const [params, expected] of cases) {
      const message = parseError(params);
      expect(message.startsWith("failed to deserialize sandbox state: ")).toBe(true);
      expect(message).toContain(expected);
    }
  });

  test("a huge unreadable part is quoted cut short", () => {
    expect(parseError(payload({ type: "x".repeat(5000) })).length).toBeLessThan(400);
  });
});

describe("paths and file:// URIs", () => {
  test("percent-decoding, localhost, normalisation", () => {
    expect(pathFromWire("file:///home/a%20b/c%C3%A9", "p")).toBe("/home/a b/cé");
    expect(pathFromWire("file://localhost/srv/x/", "p")).toBe("/srv/x");
    expect(pathFromWire("/a/./b/../c/", "p")).toBe("/a/c");
  });

  test("bad input names the cause", () => {
    expect(() => pathFromWire("file:///a%ZZ", "p")).toThrow(/bad percent-encoding/);
    expect(() => pathFromWire("file:///a%00b", "p")).toThrow(/NUL/);
    expect(() => pathFromWire("", "p")).toThrow(/absolute path/);
  });
});

describe("the 0.97 sandboxPolicy form", () => {
  test("still reads, request or _meta, with a path or a file:// sandboxCwd; no read-only paths", () => {
    for (const sandboxCwd of [cwd, `file://${cwd}`]) {
      const state = parseAnySandboxState({ sandboxPolicy: { type: "workspace-write" }, sandboxCwd, codexLinuxSandboxExe: null }, env);
      expect(state.sandboxCwd).toBe(cwd);
      expect(state.sandboxPolicy.type).toBe("workspace-write");
      expect(state.readOnlyPaths).toEqual([]);
    }
  });

  test("its errors are unchanged", () => {
    expect(parseError({ sandboxPolicy: "read-only", sandboxCwd: "/w" })).toBe("failed to deserialize sandbox state: sandboxPolicy must be an object");
  });
});

describe("readOnlyPathsNotice", () => {
  test("says which paths were not enforced, once; nothing when none were asked for", () => {
    const state = parseAnySandboxState(payload(workspaceWrite()), env);
    expect(readOnlyPathsNotice(state)).toBe(`codex-exec-mcp: warning: not enforced, these paths stay writable: ${cwd}/.git, ${cwd}/.codex`);
    expect(readOnlyPathsNotice({ ...state, readOnlyPaths: [] })).toBeNull();
  });
});
