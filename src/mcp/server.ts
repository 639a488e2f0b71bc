// The MCP surface: one `shell` tool over stdio, the Codex sandbox-state
// extension, and approval questions as elicitations. Uses the SDK's low-level
// Server because the tool schema must match the reference key for key.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { SocketHub } from "../escalate/socket-hub.ts";
import type { Deadline } from "../exec/deadline.ts";
import { DEFAULT_TIMEOUT_MS, runShellCall } from "../exec/run.ts";
import { createExecDecider, createExecMediator, type DecisionContext } from "./escalation-policy.ts";
import type { Policy } from "../policy/index.ts";
import { callSandbox, planSandboxedCommand, type LinuxSandboxMode } from "../sandbox/launch.ts";
import { noExecMediationWarning } from "../sandbox/exec-mediation-support.ts";
import { LaunchRefusedError } from "../sandbox/launcher-args.ts";
import { parseAnySandboxState, readOnlyPathsNotice } from "../sandbox/permission-profile.ts";
import { defaultSandboxState, SandboxStateError, type SandboxState } from "../sandbox/policy.ts";
import { AlwaysAllow, alwaysAllowRulesPath } from "./always-allow.ts";
import { askApproval } from "./approval.ts";
import { startProgress } from "./progress.ts";
import { parseShellArgs, SERVER_INSTRUCTIONS, SHELL_TOOL, SHELL_TOOL_NAME } from "./schema.ts";

export const SERVER_NAME = "codex-exec-mcp-server";
export const SERVER_VERSION = "0.1.0";

export interface ExecServerConfig {
  bashPath: string;
  wrapperPath: string;
  env: Readonly<Record<string, string | undefined>>;
  policy: Policy;
  preserveProgramPaths: boolean;
  /** How long an approval question may stay unanswered before it counts as a denial. */
  approvalTimeoutMs: number;
  /** Degraded mode: run unconfined (with a warning) where no sandbox is available. */
  allowUnsandboxed: boolean;
  /** How Linux calls are confined here (namespaces.ts decides it at start). */
  linuxSandbox: LinuxSandboxMode;
  /** Every exec of a confined Linux call is judged, not only Bash's (exec-mediation-support.ts decides it at start). */
  mediateExecs: boolean;
  outputLimit?: number;
  /** Request variables passed to escalated programs as they are, by the user's choice (`--escalation-env`). */
  escalationEnv?: readonly string[];
  log: (message: string) => void;
  /** For what the user must know about (said once). */
  warn: (message: string) => void;
}

export const SANDBOX_STATE_METHOD = "codex/sandbox-state/update";
/** Newer Codex clients send the state with every call, under this `_meta` key... */
export const SANDBOX_STATE_META_KEY = "codex/sandbox-state-meta";
/** ...and current ones under this one as well (same object). */
export const SANDBOX_STATE_LEGACY_META_KEY = "codex/sandbox-state";

const SandboxStateRequest = z.object({ method: z.literal(SANDBOX_STATE_METHOD), params: z.unknown().optional() });

/** A JSON-RPC error whose message reaches the client exactly as written. */
function rpcError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function toRpcError(error: unknown): Error {
  return error instanceof SandboxStateError ? rpcError(ErrorCode.InvalidParams, error.message) : (error as Error);
}

function errorResult(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

export interface ExecServer {
  server: Server;
  /** Kills every running call (its process group and escalated programs). */
  abortAll(): void;
  /** Calls still running. */
  readonly activeCalls: number;
}

export function createExecServer(config: ExecServerConfig): ExecServer {
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
  const alwaysAllow = new AlwaysAllow(alwaysAllowRulesPath(config.env), config.policy, config.log);
  const running = new Set<AbortController>();
  let mediationUnavailableSaid = false;
  const mediationUnavailable = (why: string) => {
    if (mediationUnavailableSaid) return;
    mediationUnavailableSaid = true;
    config.warn(noExecMediationWarning(why));
  };
  // The last state sent with codex/sandbox-state/update, kept as sent: a
  // profile's `skip` entries are resolved when each call starts.
  let updatedState: unknown = null;

  server.setRequestHandler(SandboxStateRequest, (request) => {
    try {
      parseAnySandboxState(request.params, config.env);
    } catch (error) {
      throw toRpcError(error);
    }
    updatedState = request.params;
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
    const meta = request.params._meta;
    const metaKey = [SANDBOX_STATE_META_KEY, SANDBOX_STATE_LEGACY_META_KEY].find((key) => meta?.[key] !== undefined);
    try {
      const sent = metaKey !== undefined ? meta?.[metaKey] : updatedState;
      sandbox = sent === null ? defaultSandboxState(workdir) : parseAnySandboxState(sent, config.env);
    } catch (error) {
      return errorResult(`invalid ${metaKey ?? SANDBOX_STATE_METHOD}: ${(error as Error).message}`);
    }
    // Read-only paths beneath writable roots hold where the platform enforces
    // them (Seatbelt; Linux's namespace sandbox re-binds them read-only), not
    // under Landlock alone: then the result says so.
    const readOnlyHolds = process.platform === "darwin" || config.linuxSandbox.kind === "namespaces";
    const notice = readOnlyHolds ? null : readOnlyPathsNotice(sandbox);
    // Cancelled by the client (notifications/cancelled) or by our shutdown.
    const abort = new AbortController();
    const forwardCancel = () => abort.abort();
    extra.signal.addEventListener("abort", forwardCancel, { once: true });
    if (extra.signal.aborted) abort.abort();
    running.add(abort);
    // Set once the call starts; approval questions stop its clock.
    let deadline: Deadline | undefined;
    // Computed once: the launcher confines exactly what the escalation check assumes.
    const confinement = callSandbox(sandbox, config.env);
    const decisions: DecisionContext = {
      policy: config.policy,
      preserveProgramPaths: config.preserveProgramPaths,
      sandboxWritableRoots: confinement.writableRoots,
      readOnlyEnforced: readOnlyHolds ? confinement.readOnlyPaths : [],
      serverEnv: config.env,
      escalationEnvNames: config.escalationEnv,
      alwaysAllow: alwaysAllow.forCall(confinement.writableRoots),
      ask: async (message, offer) => {
        deadline?.pause();
        try {
          return await askApproval(message, offer, { server, timeoutMs: config.approvalTimeoutMs, signal: abort.signal });
        } finally {
          deadline?.resume();
        }
      },
      log: config.log,
    };
    const progress = startProgress(request.params._meta?.progressToken, extra.sendNotification);
    try {
      const result = await runShellCall({
        command,
        workdir,
        login: login ?? true,
        timeoutMs: timeout_ms ?? DEFAULT_TIMEOUT_MS,
        bashPath: config.bashPath,
        wrapperPath: config.wrapperPath,
        env: config.env,
        decide: createExecDecider(decisions),
        mediate: createExecMediator(decisions),
        onMediationUnavailable: mediationUnavailable,
        onDeadline: (started) => {
          deadline = started;
        },
        hub,
        launch: (bashArgv, env, childFds) =>
          planSandboxedCommand({
            sandbox: confinement,
            bashArgv,
            selfExecutable: process.execPath,
            env,
            platform: process.platform,
            linuxMode: config.linuxSandbox,
            allowUnsandboxed: config.allowUnsandboxed,
            childFds,
            mediateExecs: config.mediateExecs,
          }),
        signal: abort.signal,
        onOutput: progress?.onOutput,
        outputLimit: config.outputLimit,
        log: config.log,
      });
      const reported = notice === null ? result : { ...result, output: `${notice}\n${result.output}` };
      return { content: [{ type: "text", text: JSON.stringify(reported) }], isError: false };
    } catch (error) {
      if (error instanceof LaunchRefusedError) return errorResult(error.message);
      return errorResult(`failed to run the command: ${(error as Error).message}`);
    } finally {
      progress?.stop();
      running.delete(abort);
      extra.signal.removeEventListener("abort", forwardCancel);
    }
  });

  return {
    server,
    abortAll: () => running.forEach((controller) => controller.abort()),
    get activeCalls() {
      return running.size;
    },
  };
}

/** Serves on stdin/stdout until the client goes away. */
/** How long running calls get to wind down (kill, collect) when the client goes away. */
const SHUTDOWN_GRACE_MS = 1_000;

/**
 * Serves on stdin/stdout until the client goes away (stdin closes, SIGTERM,
 * SIGINT); then every running call is killed and the returned promise
 * resolves, so the caller can exit with nothing left behind.
 */
export async function serveStdio(config: ExecServerConfig): Promise<void> {
  const exec = createExecServer(config);
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  exec.server.onclose = () => stop();
  process.stdin.on("end", () => stop());
  process.once("SIGTERM", () => stop());
  process.once("SIGINT", () => stop());
  await exec.server.connect(new StdioServerTransport());
  await stopped;
  exec.abortAll();
  const deadline = Date.now() + SHUTDOWN_GRACE_MS;
  while (exec.activeCalls > 0 && Date.now() < deadline) await Bun.sleep(10);
}
