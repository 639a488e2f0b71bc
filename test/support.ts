// Shared by the integration tests: where the real parts are (our compiled
// binary, the reference's binaries and patched Bash from npm), and an MCP
// client that drives a server over stdio as a user's client would.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { beforeEach } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { ensurePatchedBash } from "../scripts/build-bash.ts";

export const ROOT = resolve(import.meta.dir, "..");
export const SERVER_BINARY = join(ROOT, "dist/codex-exec-mcp-server");
export const WRAPPER_BINARY = join(ROOT, "dist/codex-execve-wrapper");

const REFERENCE_TRIPLE = process.arch === "arm64" ? "aarch64-unknown-linux-musl" : "x86_64-unknown-linux-musl";
const REFERENCE_VENDOR = join(ROOT, "node_modules/@openai/codex-shell-tool-mcp/vendor", REFERENCE_TRIPLE);
export const REFERENCE_SERVER = join(REFERENCE_VENDOR, "codex-exec-mcp-server");
export const REFERENCE_WRAPPER = join(REFERENCE_VENDOR, "codex-execve-wrapper");
/** The reference's patched Bash for this machine (Debian 12 here), for wire-compatibility tests. */
export const PATCHED_BASH = join(REFERENCE_VENDOR, "bash/debian-12/bash");
/** Our own patched Bash, as the build embeds it (built and cached by scripts/build-bash.ts). */
export const OUR_BASH = await ensurePatchedBash(process.arch === "arm64" ? "arm64" : "x64");

if (!existsSync(SERVER_BINARY)) throw new Error(`${SERVER_BINARY} is missing: run \`npm test\` (it builds first)`);

export function tempDir(prefix = "codex-exec-test-"): string {
  // Real path: the sandbox and the rules see resolved paths.
  return realpathSync(mkdtempSync(join(tmpdir(), prefix)));
}

export interface ExecResultJson {
  exit_code: number;
  output: string;
  duration: { secs: number; nanos: number };
  timed_out: boolean;
}

export interface ServerOptions {
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  elicitation?: boolean;
  /** Sees every JSON-RPC message from the server as it arrived, before the SDK parses it. */
  onServerMessage?: (message: JSONRPCMessage) => void;
  /** Sees the server's stderr (its logs) as it arrives. */
  onStderr?: (text: string) => void;
}

/** Baseline environment for servers under test: no user rules, a private cache. */
export function isolatedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  const home = tempDir("codex-exec-home-");
  // A login shell must not pick up the machine's profile noise (pyenv shims...).
  delete env.BASH_ENV;
  return { ...env, CODEX_HOME: home, XDG_CACHE_HOME: join(ROOT, "dist/.test-cache"), ...extra };
}

export async function connect(options: ServerOptions = {}): Promise<Client> {
  const transport = new StdioClientTransport({
    command: options.command ?? SERVER_BINARY,
    args: options.args ?? [],
    env: options.env ?? isolatedEnv(),
    stderr: "pipe",
  });
  const client = new Client(
    { name: "codex-exec-tests", version: "1.0.0" },
    { capabilities: options.elicitation === false ? {} : { elicitation: {} } },
  );
  const { onStderr } = options;
  if (onStderr !== undefined) transport.stderr?.on("data", (chunk: Buffer) => onStderr(chunk.toString()));
  await client.connect(transport);
  const { onServerMessage } = options;
  const deliver = transport.onmessage;
  if (onServerMessage !== undefined && deliver !== undefined) {
    transport.onmessage = (message) => {
      onServerMessage(message);
      deliver(message);
    };
  }
  return client;
}

export async function shell(
  client: Client,
  args: { command: string; workdir?: string; login?: boolean; timeout_ms?: number },
): Promise<ExecResultJson> {
  const result = await client.callTool({ name: "shell", arguments: { workdir: "/tmp", login: false, ...args } });
  const content = result.content as { type: string; text: string }[];
  if (result.isError) throw new Error(`tool error: ${content[0]?.text}`);
  return JSON.parse(content[0]!.text) as ExecResultJson;
}

/** Sends the Codex sandbox-state request (the reference's own extension). */
export async function setSandbox(client: Client, sandboxPolicy: Record<string, unknown>, sandboxCwd = "/tmp"): Promise<void> {
  await client.request(
    { method: "codex/sandbox-state/update", params: { sandboxPolicy, sandboxCwd, codexLinuxSandboxExe: null } },
    z.object({}).passthrough(),
  );
}

/**
 * Keeps a shared server usable after a test lost it. When a test times out,
 * Bun kills every child process, the server shared by the file's tests
 * included, and each later test would fail with "Not connected": one failure
 * must stay one failure. Before each test, if the client `current` returns
 * has lost its server, `restart` connects a new one and repeats the set-up.
 */
export function restartIfLost(current: () => Client | undefined, restart: () => Promise<void>): void {
  beforeEach(async () => {
    const client = current();
    if (client !== undefined && client.transport === undefined) await restart();
  });
}

/** Pids of live processes whose command line contains `marker` (zombies have none). */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(marker)) found.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

/** Polls `condition` until it holds or `timeoutMs` passes; whether it held. */
export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await Bun.sleep(20);
  }
  return true;
}

/**
 * A TCP listener on the loopback, outside every sandbox: it counts the
 * connections that reach it, greets each with `hello`, and closes it.
 */
export function countingListener(): { port: number; readonly accepted: number; stop: () => void } {
  let accepted = 0;
  const listener = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        accepted++;
        socket.write("hello\n");
        socket.end();
      },
      data() {},
    },
  });
  return {
    port: listener.port,
    get accepted() {
      return accepted;
    },
    stop: () => listener.stop(true),
  };
}
