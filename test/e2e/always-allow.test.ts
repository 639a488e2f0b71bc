// "Always allow" end to end: the compiled server asks with the optional field,
// saves Codex's line under flock, and the next call does not ask; two servers
// sharing CODEX_HOME keep both lines; a rules file the sandbox could write is
// not trusted.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lockExclusive } from "../../src/ffi/flock.ts";
import { loadPolicyFromFiles } from "../../src/policy/loader.ts";
import { connect, isolatedEnv, setSandbox, shell, tempDir } from "../support.ts";

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

const RULES = 'prefix_rule(pattern=["git", "status"], decision="prompt")\nprefix_rule(pattern=["git", "log"], decision="prompt")\n';

function codexHome(): string {
  const home = tempDir("codex-exec-always-");
  mkdirSync(join(home, "rules"));
  writeFileSync(join(home, "rules/prompts.rules"), RULES);
  return home;
}

/** A server whose human accepts every question, ticking "always allow" when `always` is true. */
async function server(home: string, always: boolean) {
  const asked: { message: string; requestedSchema: { properties: Record<string, unknown> } }[] = [];
  const client = await connect({
    env: isolatedEnv({ CODEX_HOME: home }),
    onServerMessage: (message) => {
      if ("method" in message && message.method === "elicitation/create") asked.push(message.params as (typeof asked)[number]);
    },
  });
  client.setRequestHandler(ElicitRequestSchema, () => ({ action: "accept", content: always ? { always_allow: true } : {} }));
  clients.push(client);
  return { client, asked };
}

const savedFile = (home: string) => join(home, "rules/default.rules");

describe("always allow", () => {
  test("offered in the same form; chosen, Codex's line is saved and the next call does not ask", async () => {
    const home = codexHome();
    const { client, asked } = await server(home, true);
    const workdir = tempDir();
    await shell(client, { command: "git status --short; echo ran=$?", workdir });
    expect(asked.length).toBe(1);
    expect(asked[0]?.message).toMatch(/^Allow agent to run `\S+\/git status --short` in `.+`\?$/);
    expect(asked[0]?.requestedSchema.properties).toEqual({
      reason: { type: "string", description: "Optional reason for allowing or denying execution" },
      always_allow: {
        type: "boolean",
        title: "Always allow `git status`",
        description: "Also allow commands starting with `git status` from now on, without asking (saved to $CODEX_HOME/rules/default.rules)",
        default: false,
      },
    });
    expect(readFileSync(savedFile(home), "utf8")).toBe('prefix_rule(pattern=["git", "status"], decision="allow")\n');
    // The same prefix with other arguments: not asked again.
    await shell(client, { command: "git status", workdir });
    expect(asked.length).toBe(1);
    // Another prompted prefix still asks.
    await shell(client, { command: "git log -1", workdir });
    expect(asked.length).toBe(2);
  });

  test("accepted without ticking it: nothing saved, the next call asks again", async () => {
    const home = codexHome();
    const { client, asked } = await server(home, false);
    await shell(client, { command: "git status", workdir: tempDir() });
    await shell(client, { command: "git status", workdir: tempDir() });
    expect(asked.length).toBe(2);
    expect(() => statSync(savedFile(home))).toThrow();
  });

  test("not offered for a dangerous command", async () => {
    const home = codexHome();
    const { client, asked } = await server(home, true);
    await shell(client, { command: "git reset --soft HEAD 2>/dev/null; true", workdir: tempDir() });
    expect(asked.length).toBe(1);
    expect(Object.keys(asked[0]?.requestedSchema.properties ?? {})).toEqual(["reason"]);
  });

  test("two servers sharing CODEX_HOME save concurrently: both lines kept, the file parses, neither asks again", async () => {
    const home = codexHome();
    const a = await server(home, true);
    const b = await server(home, true);
    await Promise.all([shell(a.client, { command: "git status", workdir: tempDir() }), shell(b.client, { command: "git log -1", workdir: tempDir() })]);
    const lines = readFileSync(savedFile(home), "utf8").split("\n").filter((line) => line !== "").sort();
    expect(lines).toEqual(['prefix_rule(pattern=["git", "log"], decision="allow")', 'prefix_rule(pattern=["git", "status"], decision="allow")']);
    expect(loadPolicyFromFiles([join(home, "rules/prompts.rules"), savedFile(home)]).ruleCount).toBe(4);
    // Each sees what the other saved (read-only sandbox: the file is not the sandbox's to write).
    await shell(a.client, { command: "git log -1", workdir: tempDir() });
    await shell(b.client, { command: "git status", workdir: tempDir() });
    expect(a.asked.length + b.asked.length).toBe(2);
  });

  test("the save waits for another holder of the lock (flock), then appends", async () => {
    const home = codexHome();
    const file = savedFile(home);
    writeFileSync(file, "");
    const fd = openSync(file, "r");
    lockExclusive(fd);
    const inode = statSync(file).ino;
    const { client, asked } = await server(home, true);
    let finished = false;
    const call = shell(client, { command: "git status", workdir: tempDir() }).then((result) => {
      finished = true;
      return result;
    });
    // Wait until the server is blocked on our lock: /proc/locks lists the waiter with "->".
    const waiting = () => readFileSync("/proc/locks", "utf8").split("\n").some((line) => line.includes("->") && line.includes("FLOCK") && line.includes(`:${inode} `));
    while (!waiting()) await Bun.sleep(10);
    expect(asked.length).toBe(1);
    expect(readFileSync(file, "utf8")).toBe("");
    expect(finished).toBe(false);
    closeSync(fd);
    await call;
    expect(readFileSync(file, "utf8")).toBe('prefix_rule(pattern=["git", "status"], decision="allow")\n');
  });

  test("a saved line the sandbox could have written is not trusted", async () => {
    // CODEX_HOME inside the workspace the sandbox writes: a planted line must not approve anything.
    const workspace = tempDir("codex-exec-ws-");
    const home = join(workspace, ".codex-home");
    mkdirSync(join(home, "rules"), { recursive: true });
    writeFileSync(join(home, "rules/prompts.rules"), RULES);
    writeFileSync(savedFile(home), 'prefix_rule(pattern=["git", "status"], decision="allow")\n');
    const { client, asked } = await server(home, false);
    await setSandbox(client, { type: "workspace-write", writable_roots: [], exclude_slash_tmp: true, exclude_tmpdir_env_var: true }, workspace);
    await shell(client, { command: "git status", workdir: workspace });
    expect(asked.length).toBe(1);
  });
});

