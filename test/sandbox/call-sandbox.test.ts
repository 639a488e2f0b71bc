// The call's sandbox is computed once from the state: real paths, protected
// subpaths of every writable root, and the client's read-only paths.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { callSandbox } from "../../src/sandbox/launch.ts";
import { realPath, type SandboxPolicy } from "../../src/sandbox/policy.ts";

const base = realPath(mkdtempSync(join(tmpdir(), "sbx-call-")));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const workspace = join(base, "ws");
const linked = join(base, "linked");
const worktree = join(base, "worktree");
mkdirSync(join(workspace, ".git"), { recursive: true });
mkdirSync(join(workspace, ".agents"));
mkdirSync(join(worktree, "gitdir-target"), { recursive: true });
writeFileSync(join(worktree, ".git"), "gitdir: gitdir-target\n");
symlinkSync(workspace, linked);

const workspaceWrite = (roots: string[], network_access = false): SandboxPolicy => ({
  type: "workspace-write",
  writable_roots: roots,
  network_access,
  exclude_tmpdir_env_var: true,
  exclude_slash_tmp: true,
});

test("writable roots are real paths, each once; protected subpaths and the client's read-only paths are read-only", () => {
  const sandbox = callSandbox(
    { sandboxPolicy: workspaceWrite([linked, worktree]), codexLinuxSandboxExe: null, sandboxCwd: workspace, readOnlyPaths: [join(workspace, ".aws")] },
    {},
  );
  expect(sandbox.writableRoots).toEqual([workspace, worktree]);
  expect(sandbox.readOnlyPaths).toEqual([
    join(workspace, ".git"),
    join(workspace, ".agents"),
    join(worktree, ".git"),
    join(worktree, "gitdir-target"),
    join(workspace, ".aws"),
  ]);
  expect(sandbox.allowNetwork).toBe(false);
});

test("no platform sandbox: everything is writable, nothing is kept read-only", () => {
  for (const sandboxPolicy of [{ type: "danger-full-access" }, { type: "external-sandbox", network_access: "enabled" }] as SandboxPolicy[]) {
    expect(callSandbox({ sandboxPolicy, codexLinuxSandboxExe: null, sandboxCwd: workspace, readOnlyPaths: [] }, {})).toMatchObject({
      writableRoots: "everything",
      readOnlyPaths: [],
      allowNetwork: true,
    });
  }
});

test("read-only: no writable root", () => {
  const sandbox = callSandbox({ sandboxPolicy: { type: "read-only" }, codexLinuxSandboxExe: null, sandboxCwd: workspace, readOnlyPaths: [] }, {});
  expect(sandbox).toMatchObject({ writableRoots: [], readOnlyPaths: [], allowNetwork: false });
});
