// Current Codex's sandbox state (`permissionProfile`, sent with every call
// under two `_meta` keys) through the compiled server and the real Linux
// sandbox, one shape per test. Verdicts come from the disk and from a loopback
// listener, not from what the command printed.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { READ_ONLY_PROFILE, workspaceWriteProfile } from "../sandbox/fixtures/codex-profiles.ts";
import { connect, countingListener, type ExecResultJson, isolatedEnv, ROOT } from "../support.ts";

if (process.platform !== "linux") throw new Error("these tests exercise the Linux sandbox");

const META_KEY = "codex/sandbox-state-meta";
const OLD_META_KEY = "codex/sandbox-state";

/** Single-quotes `value` for Bash. */
function sq(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

// Outside /tmp and $TMPDIR, so "writable?" is only ever answered by the profile.
const base = realpathSync(mkdtempSync(join(existsSync("/var/tmp") ? "/var/tmp" : join(ROOT, "dist"), "codex-exec-profile-")));
const workspace = join(base, "work space");
const outside = join(base, "outside");
const tmpdir = join(base, "tmpdir");
for (const dir of [workspace, join(workspace, ".git"), outside, tmpdir]) mkdirSync(dir, { recursive: true });
let unique = 0;
const fresh = (dir: string) => join(dir, `f-${++unique}`);

const listener = countingListener();
const TCP = `if exec 5<>/dev/tcp/127.0.0.1/${listener.port}; then echo tcp=ok; else echo tcp=failed; fi`;

const workspaceWrite = (network?: string) => workspaceWriteProfile(workspace, network);
const readOnly = READ_ONLY_PROFILE;

function state(permissionProfile: unknown): Record<string, unknown> {
  return {
    permissionProfile,
    codexLinuxSandboxExe: "/opt/codex/bin/codex",
    sandboxCwd: `file://${encodeURI(workspace)}`,
    useLegacyLandlock: false,
    useMxc: false,
  };
}

/** Both keys, as current Codex sends them. */
const both = (permissionProfile: unknown) => ({ [META_KEY]: state(permissionProfile), [OLD_META_KEY]: state(permissionProfile) });

let client: Client;
/** The same server, forced onto the Landlock-only fallback, where read-only holes cannot be made. */
let fallback: Client;
beforeAll(async () => {
  client = await connect({ env: isolatedEnv({ TMPDIR: tmpdir }) });
  fallback = await connect({ env: isolatedEnv({ TMPDIR: tmpdir, CODEX_EXEC_DISABLE_NAMESPACES: "1" }) });
});
afterAll(async () => {
  await client.close();
  await fallback.close();
  listener.stop();
  rmSync(base, { recursive: true, force: true });
});

async function call(command: string, meta: Record<string, unknown> | undefined, server = client) {
  return server.callTool({ name: "shell", arguments: { command, workdir: workspace, login: false }, ...(meta === undefined ? {} : { _meta: meta }) });
}

function textOf(result: Awaited<ReturnType<Client["callTool"]>>): string {
  return (result.content as { type: string; text: string }[])[0]?.text ?? "";
}

async function run(command: string, meta: Record<string, unknown> | undefined, server = client): Promise<ExecResultJson> {
  const result = await call(command, meta, server);
  if (result.isError === true) throw new Error(`tool error: ${textOf(result)}`);
  return JSON.parse(textOf(result)) as ExecResultJson;
}

const touch = (path: string) => `touch ${sq(path)} 2>/dev/null; echo "touch=$?"`;

describe("permissionProfile through the server", () => {
  test("workspace-write: the workspace and $TMPDIR are writable, elsewhere and the read-only .git not, no network", async () => {
    const inside = fresh(workspace);
    const inTmpdir = fresh(tmpdir);
    const elsewhere = fresh(outside);
    const inGit = fresh(join(workspace, ".git"));
    const before = listener.accepted;
    const result = await run(`${touch(inside)}; ${touch(inTmpdir)}; ${touch(elsewhere)}; ${touch(inGit)}; ${TCP}`, both(workspaceWrite()));
    expect(existsSync(inside)).toBe(true);
    expect(existsSync(inTmpdir)).toBe(true);
    expect(existsSync(elsewhere)).toBe(false);
    expect(existsSync(inGit)).toBe(false);
    expect(listener.accepted).toBe(before);
    expect(result.output).toContain("tcp=failed");
    expect(result.output).not.toContain("not enforced");
  });

  test("workspace-write without the namespace sandbox: the unenforced .git is said once", async () => {
    const inGit = fresh(join(workspace, ".git"));
    const result = await run(touch(inGit), both(workspaceWrite()), fallback);
    // Landlock cannot keep it read-only, and the result says so.
    expect(existsSync(inGit)).toBe(true);
    const notices = result.output.split("\n").filter((line) => line.includes("not enforced"));
    // .git exists, .agents/.codex/.aws do not and are `skip`: only .git is listed.
    expect(notices).toEqual([`codex-exec-mcp: warning: not enforced, these paths stay writable: ${workspace}/.git`]);
  });

  test("the older `codex/sandbox-state` key alone is read too", async () => {
    const inside = fresh(workspace);
    await run(touch(inside), { [OLD_META_KEY]: state(workspaceWrite()) });
    expect(existsSync(inside)).toBe(true);
  });

  test("workspace-write with the network enabled reaches a loopback listener", async () => {
    const before = listener.accepted;
    const result = await run(TCP, both(workspaceWrite("enabled")));
    expect(result.output).toContain("tcp=ok");
    expect(listener.accepted).toBe(before + 1);
  });

  test("read-only (`root: read` alone): not even the workspace is writable; no notice", async () => {
    const inside = fresh(workspace);
    const result = await run(touch(inside), both(readOnly));
    expect(existsSync(inside)).toBe(false);
    expect(result.output).not.toContain("not enforced");
  });

  test("disabled: no sandbox", async () => {
    const elsewhere = fresh(outside);
    await run(touch(elsewhere), both({ type: "disabled" }));
    expect(existsSync(elsewhere)).toBe(true);
  });

  test("external: the caller's sandbox, none of ours", async () => {
    const elsewhere = fresh(outside);
    await run(touch(elsewhere), both({ type: "external", network: "restricted" }));
    expect(existsSync(elsewhere)).toBe(true);
  });

  test("managed unrestricted with the network restricted: writes anywhere, no network", async () => {
    const elsewhere = fresh(outside);
    const before = listener.accepted;
    const result = await run(`${touch(elsewhere)}; ${TCP}`, both({ type: "managed", file_system: { type: "unrestricted" }, network: "restricted" }));
    expect(existsSync(elsewhere)).toBe(true);
    expect(result.output).toContain("tcp=failed");
    expect(listener.accepted).toBe(before);
  });

  test("an unreadable payload is a tool error quoting the part, and runs nothing", async () => {
    const canary = fresh(workspace);
    const bad = workspaceWrite();
    bad.file_system.entries[1] = { path: { type: "path", path: "relative/dir" }, access: "write" };
    const result = await call(`touch ${sq(canary)}`, { [META_KEY]: state(bad) });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(
      `invalid ${META_KEY}: failed to deserialize sandbox state: permissionProfile.file_system.entries[1].path.path: expected an absolute path or a file:// URI, got "relative/dir"`,
    );
    const neither = await call(`touch ${sq(canary)}`, { [META_KEY]: { sandboxCwd: `file://${workspace}`, useLegacyLandlock: false } });
    expect(neither.isError).toBe(true);
    expect(textOf(neither)).toContain("neither `permissionProfile` nor `sandboxPolicy` was sent");
    expect(existsSync(canary)).toBe(false);
  });

  test("the 0.97 sandboxPolicy form in _meta still works, with a file:// sandboxCwd too", async () => {
    const inside = fresh(workspace);
    const result = await run(touch(inside), {
      [META_KEY]: { sandboxPolicy: { type: "workspace-write" }, sandboxCwd: `file://${encodeURI(workspace)}`, codexLinuxSandboxExe: null },
    });
    expect(existsSync(inside)).toBe(true);
    expect(result.output).not.toContain("not enforced");
  });

  test("codex/sandbox-state/update accepts a profile; later calls without _meta follow it", async () => {
    const other = await connect({ env: isolatedEnv({ TMPDIR: tmpdir }) });
    try {
      const reply = await other.request({ method: "codex/sandbox-state/update", params: state(readOnly) }, z.object({}).passthrough());
      expect(reply).toEqual({});
      const inside = fresh(workspace);
      const result = await other.callTool({ name: "shell", arguments: { command: touch(inside), workdir: workspace, login: false } });
      expect(result.isError).toBeFalsy();
      expect(existsSync(inside)).toBe(false);
    } finally {
      await other.close();
    }
  });
});
