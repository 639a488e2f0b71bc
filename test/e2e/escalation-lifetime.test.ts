// Escalated programs end with the server that started them, even when that
// server is killed with SIGKILL and can clean nothing up: judged from
// outside, by the escalated process's own pid.
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { connect, isolatedEnv, SERVER_BINARY, setSandbox, shell, tempDir } from "../support.ts";

if (process.platform !== "linux") throw new Error("these tests read /proc");

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close().catch(() => {})));
});

function cmdline(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  } catch {
    return [];
  }
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, ...]; null once gone. */
function stat(pid: string): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

async function waitFor<T>(what: string, probe: () => T | null | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== null && value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

test("an escalated program dies with the server when the server is killed with SIGKILL", async () => {
  const env = isolatedEnv();
  mkdirSync(join(env.CODEX_HOME!, "rules"));
  writeFileSync(join(env.CODEX_HOME!, "rules", "test.rules"), 'prefix_rule(pattern=["sleep"], decision="allow")\n');
  const client = await connect({ env });
  clients.push(client);
  await setSandbox(client, { type: "read-only" }, tempDir());
  // A duration no other process on the machine uses.
  const duration = (600 + Math.random() * 1000).toFixed(3);
  const call = shell(client, { command: `sleep ${duration}`, timeout_ms: 600_000 }).catch((error: unknown) => error);

  const sleeper = await waitFor("the escalated sleep", () =>
    readdirSync("/proc").find((pid) => {
      const args = cmdline(pid);
      return args.length === 2 && args[0] === "sleep" && args[1] === duration;
    }),
  );
  // Escalated: started by the server itself, outside the sandbox.
  const serverPid = stat(sleeper)![1]!;
  expect(realpathSync(readlinkSync(`/proc/${serverPid}/exe`))).toBe(realpathSync(SERVER_BINARY));

  process.kill(Number(serverPid), "SIGKILL");
  await waitFor("the escalated sleep to die", () => {
    const fields = stat(sleeper);
    return fields === null || fields[0] === "Z" ? true : null;
  });
  expect(await call).toBeInstanceOf(Error);
});
