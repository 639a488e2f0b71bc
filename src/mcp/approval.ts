// Asking the human through an MCP elicitation. The reference crashed when the
// client could not ask; we deny with a reason instead, and a question nobody
// answers ends after a time limit.
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { ElicitResultSchema } from "@modelcontextprotocol/sdk/types.js";
import type { ApprovalAnswer } from "./escalation-policy.ts";

export const DEFAULT_APPROVAL_TIMEOUT_MS = 5 * 60 * 1000;

/** Exactly the schema the reference sends... */
const REQUESTED_SCHEMA = {
  type: "object",
  title: "Execution Permission Request",
  properties: {
    reason: { type: "string", description: "Optional reason for allowing or denying execution" },
  },
} as const;

/** ...plus, when a prefix may be allowed for good, this optional field (a client that ignores it loses nothing). */
export const ALWAYS_ALLOW_FIELD = "always_allow";

function requestedSchema(offer: readonly string[] | null) {
  if (offer === null) return REQUESTED_SCHEMA;
  const prefix = offer.join(" ");
  return {
    ...REQUESTED_SCHEMA,
    properties: {
      ...REQUESTED_SCHEMA.properties,
      [ALWAYS_ALLOW_FIELD]: {
        type: "boolean",
        title: `Always allow \`${prefix}\``,
        description: `Also allow commands starting with \`${prefix}\` from now on, without asking (saved to $CODEX_HOME/rules/default.rules)`,
        default: false,
      },
    },
  };
}

export interface ApprovalOptions {
  server: Server;
  timeoutMs: number;
  /** The tool call's cancellation: an open question is withdrawn with it. */
  signal: AbortSignal;
}

export async function askApproval(
  message: string,
  offer: readonly string[] | null,
  { server, timeoutMs, signal }: ApprovalOptions,
): Promise<ApprovalAnswer> {
  if (server.getClientCapabilities()?.elicitation === undefined) {
    return {
      kind: "unavailable",
      reason: "approval required by policy, but this MCP client does not support elicitation, so nobody can be asked",
    };
  }
  try {
    // A plain request, so the schema goes out exactly as the reference's.
    const result = await server.request(
      { method: "elicitation/create", params: { message, requestedSchema: requestedSchema(offer) } },
      ElicitResultSchema,
      { timeout: timeoutMs, signal },
    );
    if (result.action === "accept") return { kind: "accept", alwaysAllow: result.content?.[ALWAYS_ALLOW_FIELD] === true };
    return { kind: result.action === "decline" ? "decline" : "cancel" };
  } catch (error) {
    const detail = signal.aborted ? "the tool call was cancelled" : (error as Error).message;
    return { kind: "unavailable", reason: `approval request failed: ${detail}` };
  }
}
