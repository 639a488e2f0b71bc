// The MCP surface: one `shell` tool over stdio, the Codex sandbox-state
// extension, and approval questions as elicitations. Uses the SDK's low-level
// Server because the tool schema must match the reference key for key.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { ExecDecider } from "../escalate/server.ts";
import { SocketHub } from "../escalate/socket-hub.ts";
import { DEFAULT_TIMEOUT_MS, runShellCall, type ExecResult } from "../exec/run.ts";
import { LAUNCHER_FAILURE_EXIT_CODE } from "../sandbox/linux-launcher.ts";
import { planSandboxedCommand } from "../sandbox/launch.ts";
import { defaultSandboxState, parseSandboxState, SandboxStateError, type SandboxState } from "../sandbox/policy.ts";
import { parseShellArgs, SERVER_INSTRUCTIONS, SHELL_TOOL, SHELL_TOOL_NAME } from "./schema.ts";

export const SERVER_NAME = "codex-exec-mcp-server";
export const SERVER_VERSION = "0.1.0";

export interface ExecServerConfig {
  bashPath: string;
  wrapperPath: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Builds the decider for one call (rules, approvals, escalation safety). */
  deciderFor: (context: CallContext) => ExecDecider;
  /** Degraded mode: run unconfined (with a warning) where no sandbox is available. */
  allowUnsandboxed: boolean;
  outputLimit?: number;
  log: (message: string) => void;
}

export interface CallContext {
  workdir: string;
  sandbox: SandboxState;
  server: Server;
}

export const SANDBOX_STATE_METHOD = "codex/sandbox-state/update";
/** Newer Codex clients send the state with every call, under this `_meta` key. */
export const SANDBOX_STATE_META_KEY = "codex/sandbox-state-meta";

const SandboxStateRequest = z.object({ method: z.literal(SANDBOX_STATE_METHOD), params: z.unknown() });

/** A JSON-RPC error whose message reaches the client exactly as written. */
function rpcError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function toRpcError(error: unknown): Error {
  return error instanceof SandboxStateError ? rpcError(ErrorCode.InvalidParams, error.message) : (error as Error);
}

/** The launcher refused to run the command unconfined: that is a failed call, not a result. */
function launcherFailure(result: ExecResult): string | null {
  const line = result.output.split("\n", 1)[0] ?? "";
  return result.exit_code === LAUNCHER_FAILURE_EXIT_CODE && line.startsWith("codex-linux-sandbox: ") ? line : null;
}

function errorResult(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

export function createExecServer(config: ExecServerConfig): Server {
  const server = new Server(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: {
        tools: {},
        experimental: {
          "codex/sandbox-state": { version: "1.0.0" },
          "codex/sandbox-state-meta": { version: "1.0.0" },
        },
      },
      instructions: SERVER_INSTRUCTIONS,
    },
  );
  const hub = new SocketHub();
  let sandboxState: SandboxState | null = null;

  server.setRequestHandler(SandboxStateRequest, (request) => {
    try {
      sandboxState = parseSandboxState(request.params);
    } catch (error) {
      throw toRpcError(error);
    }
    return {};
  });

  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [SHELL_TOOL] }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    if (request.params.name !== SHELL_TOOL_NAME) {
      return errorResult(`unknown tool \`${request.params.name}\`: this server has only \`${SHELL_TOOL_NAME}\``);
    }
    const parsed = parseShellArgs(request.params.arguments);
    if (!parsed.ok) return errorResult(parsed.error);
    const { command, workdir, timeout_ms, login } = parsed.args;
    let sandbox: SandboxState;
    try {
      const fromMeta = request.params._meta?.[SANDBOX_STATE_META_KEY];
      sandbox = fromMeta !== undefined ? parseSandboxState(fromMeta) : (sandboxState ?? defaultSandboxState(workdir));
    } catch (error) {
      return errorResult(`invalid ${SANDBOX_STATE_META_KEY}: ${(error as Error).message}`);
    }
    try {
      const result = await runShellCall({
        command,
        workdir,
        login: login ?? true,
        timeoutMs: timeout_ms ?? DEFAULT_TIMEOUT_MS,
        bashPath: config.bashPath,
        wrapperPath: config.wrapperPath,
        env: config.env,
        decide: config.deciderFor({ workdir, sandbox, server }),
        hub,
        launch: (bashArgv, env) =>
          planSandboxedCommand({
            state: sandbox,
            bashArgv,
            selfExecutable: process.execPath,
            env,
            platform: process.platform,
            allowUnsandboxed: config.allowUnsandboxed,
          }),
        signal: extra.signal,
        outputLimit: config.outputLimit,
        log: config.log,
      });
      const refusal = launcherFailure(result);
      if (refusal !== null) return errorResult(`the sandbox could not be applied: ${refusal}`);
      return { content: [{ type: "text", text: JSON.stringify(result) }], isError: false };
    } catch (error) {
      return errorResult(`failed to run the command: ${(error as Error).message}`);
    }
  });

  return server;
}

/** Serves on stdin/stdout until the client goes away. */
export async function serveStdio(config: ExecServerConfig): Promise<void> {
  const server = createExecServer(config);
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
  });
  await server.connect(new StdioServerTransport());
  process.stdin.on("end", () => void server.close());
  await closed;
}
