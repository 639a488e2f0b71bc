import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  SandboxStateError,
  defaultSandboxState,
  networkAllowed,
  parseSandboxState,
  protectedSubpaths,
  writableRoots,
} from "../../src/sandbox/policy.ts";

function parseError(params: unknown): SandboxStateError {
  try {
    parseSandboxState(params);
  } catch (error) {
    if (error instanceof SandboxStateError) return error;
    throw error;
  }
  throw new Error("expected a SandboxStateError");
}

describe("parseSandboxState", () => {
  test("missing params give the exact reference message", () => {
    for (const params of [undefined, null]) {
      const error = parseError(params);
      expect(error.message).toBe("missing params for sandbox state request");
      expect(error.kind).toBe("missing");
    }
  });

  test("unparsable params start with the exact reference message", () => {
    const bad: unknown[] = [
      42,
      "x",
      [],
      {},
      { sandboxPolicy: { type: "read-only" } },
      { sandboxPolicy: { type: "nope" }, sandboxCwd: "/w" },
      { sandboxPolicy: { type: "read-only" }, sandboxCwd: "relative/dir" },
      { sandboxPolicy: { type: "workspace-write", writable_roots: ["rel"] }, sandboxCwd: "/w" },
      { sandboxPolicy: { type: "workspace-write", writable_roots: "/a" }, sandboxCwd: "/w" },
      { sandboxPolicy: { type: "workspace-write", network_access: "yes" }, sandboxCwd: "/w" },
      { sandboxPolicy: { type: "external-sandbox", network_access: "open" }, sandboxCwd: "/w" },
      { sandboxPolicy: { type: "read-only" }, sandboxCwd: "/w", codexLinuxSandboxExe: 3 },
    ];
    for (const params of bad) {
      const error = parseError(params);
      expect(error.kind).toBe("invalid");
      expect(error.message.startsWith("failed to deserialize sandbox state")).toBe(true);
    }
  });

  test("the reference's example parses; unknown keys and any fourth field are ignored", () => {
    for (const fourth of ["useLegacyLandlock", "useLinuxSandboxBwrap", "somethingNew"]) {
      const state = parseSandboxState({
        sandboxPolicy: { type: "read-only", extra: 1 },
        codexLinuxSandboxExe: "/path/exe",
        sandboxCwd: "/abs/dir",
        [fourth]: true,
      });
      expect(state).toEqual({
        sandboxPolicy: { type: "read-only", network_access: false },
        codexLinuxSandboxExe: "/path/exe",
        sandboxCwd: "/abs/dir",
        readOnlyPaths: [],
      });
    }
  });

  test("missing booleans are false, missing writable_roots empty, exe null", () => {
    const state = parseSandboxState({ sandboxPolicy: { type: "workspace-write" }, sandboxCwd: "/w", codexLinuxSandboxExe: null });
    expect(state.sandboxPolicy).toEqual({
      type: "workspace-write",
      writable_roots: [],
      network_access: false,
      exclude_tmpdir_env_var: false,
      exclude_slash_tmp: false,
    });
    expect(state.codexLinuxSandboxExe).toBeNull();
    expect(parseSandboxState({ sandboxPolicy: { type: "read-only" }, sandboxCwd: "/w" }).codexLinuxSandboxExe).toBeNull();
  });

  test("all four policy types", () => {
    const parse = (sandboxPolicy: unknown) => parseSandboxState({ sandboxPolicy, sandboxCwd: "/w" }).sandboxPolicy;
    expect(parse({ type: "danger-full-access" })).toEqual({ type: "danger-full-access" });
    expect(parse({ type: "external-sandbox" })).toEqual({ type: "external-sandbox", network_access: "restricted" });
    expect(parse({ type: "external-sandbox", network_access: "enabled" })).toEqual({ type: "external-sandbox", network_access: "enabled" });
    expect(parse({ type: "workspace-write", writable_roots: ["/a", "/b/"], network_access: true })).toMatchObject({
      writable_roots: ["/a", "/b"],
      network_access: true,
    });
  });

  test("defaultSandboxState is read-only in the workdir", () => {
    expect(defaultSandboxState("/work/x")).toEqual({
      sandboxPolicy: { type: "read-only" },
      codexLinuxSandboxExe: null,
      sandboxCwd: "/work/x",
      readOnlyPaths: [],
    });
  });
});

describe("writableRoots and networkAllowed", () => {
  const ws = (overrides: object = {}) => ({
    type: "workspace-write" as const,
    writable_roots: ["/a"],
    network_access: false,
    exclude_tmpdir_env_var: false,
    exclude_slash_tmp: false,
    ...overrides,
  });

  test("workspace-write: roots, cwd, /tmp, $TMPDIR, deduplicated", () => {
    expect(writableRoots(ws(), "/w", { TMPDIR: "/var/tmpdir/" })).toEqual(["/a", "/w", "/tmp", "/var/tmpdir"]);
    expect(writableRoots(ws({ writable_roots: ["/w"] }), "/w", { TMPDIR: "/tmp" })).toEqual(["/w", "/tmp"]);
  });

  test("exclusions and a relative or missing TMPDIR", () => {
    expect(writableRoots(ws({ exclude_slash_tmp: true }), "/w", { TMPDIR: "/t" })).toEqual(["/a", "/w", "/t"]);
    expect(writableRoots(ws({ exclude_tmpdir_env_var: true }), "/w", { TMPDIR: "/t" })).toEqual(["/a", "/w", "/tmp"]);
    expect(writableRoots(ws(), "/w", { TMPDIR: "rel" })).toEqual(["/a", "/w", "/tmp"]);
    expect(writableRoots(ws(), "/w", {})).toEqual(["/a", "/w", "/tmp"]);
  });

  test("read-only has none, full access everything", () => {
    expect(writableRoots({ type: "read-only" }, "/w", { TMPDIR: "/t" })).toEqual([]);
    expect(writableRoots({ type: "danger-full-access" }, "/w", {})).toEqual(["/"]);
    expect(writableRoots({ type: "external-sandbox", network_access: "restricted" }, "/w", {})).toEqual(["/"]);
  });

  test("network", () => {
    expect(networkAllowed({ type: "danger-full-access" })).toBe(true);
    expect(networkAllowed({ type: "read-only" })).toBe(false);
    expect(networkAllowed(ws())).toBe(false);
    expect(networkAllowed(ws({ network_access: true }))).toBe(true);
    expect(networkAllowed({ type: "external-sandbox", network_access: "restricted" })).toBe(false);
    expect(networkAllowed({ type: "external-sandbox", network_access: "enabled" })).toBe(true);
  });
});

describe("protectedSubpaths", () => {
  const base = mkdtempSync(join(tmpdir(), "sbx-protect-"));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  test("existing .git, .codex and .agents directories only", () => {
    const root = join(base, "plain");
    mkdirSync(root);
    expect(protectedSubpaths(root)).toEqual([]);
    mkdirSync(join(root, ".git"));
    mkdirSync(join(root, ".codex"));
    expect(protectedSubpaths(root)).toEqual([join(root, ".git"), join(root, ".codex")]);
    mkdirSync(join(root, ".agents"));
    expect(protectedSubpaths(root)).toEqual([join(root, ".git"), join(root, ".codex"), join(root, ".agents")]);
  });

  test("a gitdir: file protects itself and the directory it points to", () => {
    const root = join(base, "worktree");
    mkdirSync(join(root, "real-git"), { recursive: true });
    writeFileSync(join(root, ".git"), "gitdir: real-git\n");
    expect(protectedSubpaths(root)).toEqual([join(root, ".git"), join(root, "real-git")]);
  });
});
