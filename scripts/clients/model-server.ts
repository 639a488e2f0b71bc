// A scripted model on 127.0.0.1 that speaks just enough of three vendors' HTTP
// APIs to drive their real CLIs without a model service: the first answer of a
// conversation calls our MCP `shell` tool with a fixed command, the next one
// (when the tool's result comes back) ends the turn. Every tool result the CLI
// sends back is recorded, so a driver can check what reached "the model".
//
// - OpenAI Responses (Codex, `wire_api = "responses"`): POST .../responses, SSE.
// - Anthropic Messages (Claude Code, ANTHROPIC_BASE_URL): POST /v1/messages, SSE.
// - Gemini (Gemini CLI, GOOGLE_GEMINI_BASE_URL): POST .../models/<m>:streamGenerateContent, SSE.
// Anything else (token counting, telemetry, model lists) gets a small valid
// answer or a 404, never a hang.

export interface ScriptedModel {
  readonly url: string;
  /** Tool results the CLIs sent back, in arrival order (text as the model saw it). */
  readonly toolResults: string[];
  /** Names of the tools the CLI offered, from the last model request. */
  readonly offeredTools: string[];
  /** Every request, as `METHOD path`. */
  readonly requestLog: string[];
  /** Requests that asked for the model, by API. */
  readonly modelRequests: { api: "openai" | "anthropic" | "gemini"; path: string }[];
  stop(): void;
}

/** Which offered tool is our server's `shell`: the MCP one, however the CLI qualifies its name. */
export function pickShellTool(names: readonly string[]): string | undefined {
  return (
    names.find((name) => /^mcp__shell__shell$/.test(name)) ??
    names.find((name) => /mcp/i.test(name) && /shell/i.test(name)) ??
    names.find((name) => name === "shell__shell" || name === "shell")
  );
}

const sse = (events: [string | null, unknown][]): Response =>
  new Response(events.map(([event, data]) => `${event === null ? "" : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`).join(""), {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Text of a tool result in any of the three APIs' shapes. */
function resultText(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(resultText).join("");
  if (isRecord(value)) {
    if (typeof value.text === "string") return value.text;
    if ("content" in value) return resultText(value.content);
    if ("output" in value) return resultText(value.output);
    return JSON.stringify(value);
  }
  return String(value);
}

let counter = 0;
const nextId = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${++counter}`;

export function startScriptedModel(options: { command: string; workdir: string }): ScriptedModel {
  const toolResults: string[] = [];
  const offeredTools: string[] = [];
  const modelRequests: ScriptedModel["modelRequests"] = [];
  const requestLog: string[] = [];
  const shellArgs = { command: options.command, workdir: options.workdir, timeout_ms: 20_000 };

  /** Claude: the tool_use ids of our shell calls, and whether ToolSearch was asked already. */
  const shellCallIds = new Set<string>();
  let searched = false;
  const setOffered = (names: string[]) => {
    offeredTools.splice(0, offeredTools.length, ...names);
  };

  function openai(body: Record<string, unknown>, path: string): Response {
    modelRequests.push({ api: "openai", path });
    const names: string[] = [];
    for (const tool of asArray(body.tools)) {
      if (!isRecord(tool) || typeof tool.name !== "string") continue;
      // Newer Codex groups a server's tools in a namespace.
      if (tool.type === "namespace") for (const inner of asArray(tool.tools)) if (isRecord(inner) && typeof inner.name === "string") names.push(`${tool.name}${inner.name}`);
      names.push(tool.name);
    }
    setOffered(names);
    const outputs = asArray(body.input).filter((item) => isRecord(item) && item.type === "function_call_output");
    const responseId = nextId("resp");
    const created: [string, unknown] = ["response.created", { type: "response.created", response: { id: responseId } }];
    const completed: [string, unknown] = [
      "response.completed",
      { type: "response.completed", response: { id: responseId, usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } } },
    ];
    if (outputs.length > 0) {
      for (const output of outputs) if (isRecord(output)) toolResults.push(resultText(output.output));
      const message = { type: "message", role: "assistant", id: nextId("msg"), content: [{ type: "output_text", text: "done" }] };
      return sse([created, ["response.output_item.done", { type: "response.output_item.done", item: message }], completed]);
    }
    const tool = pickShellTool(names);
    if (tool === undefined) {
      const message = { type: "message", role: "assistant", id: nextId("msg"), content: [{ type: "output_text", text: `no shell tool offered: ${names.join(", ")}` }] };
      return sse([created, ["response.output_item.done", { type: "response.output_item.done", item: message }], completed]);
    }
    // A namespaced tool is called by namespace plus name.
    const namespace = asArray(body.tools).find((t) => isRecord(t) && t.type === "namespace" && typeof t.name === "string" && tool.startsWith(t.name) && tool !== t.name);
    const call =
      isRecord(namespace) && typeof namespace.name === "string"
        ? { type: "function_call", id: nextId("fc"), call_id: nextId("call"), namespace: namespace.name, name: tool.slice(namespace.name.length), arguments: JSON.stringify(shellArgs) }
        : { type: "function_call", id: nextId("fc"), call_id: nextId("call"), name: tool, arguments: JSON.stringify(shellArgs) };
    return sse([created, ["response.output_item.done", { type: "response.output_item.done", item: call }], completed]);
  }

  function anthropic(body: Record<string, unknown>): Response {
    modelRequests.push({ api: "anthropic", path: "/v1/messages" });
    const names = asArray(body.tools).flatMap((tool) => (isRecord(tool) && typeof tool.name === "string" ? [tool.name] : []));
    setOffered(names);
    const messages = asArray(body.messages);
    const last = messages[messages.length - 1];
    const results = isRecord(last) ? asArray(last.content).filter((block) => isRecord(block) && block.type === "tool_result") : [];
    const id = nextId("msg");
    const start: [string, unknown] = [
      "message_start",
      { type: "message_start", message: { id, type: "message", role: "assistant", model: body.model, content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 1 } } },
    ];
    const stop = (reason: string): [string, unknown][] => [
      ["message_delta", { type: "message_delta", delta: { stop_reason: reason, stop_sequence: null }, usage: { output_tokens: 1 } }],
      ["message_stop", { type: "message_stop" }],
    ];
    const tool = pickShellTool(names);
    const shellResults = results.filter((result) => isRecord(result) && shellCallIds.has(String(result.tool_use_id)));
    // Claude Code defers MCP tools behind its ToolSearch tool: ask it for ours first, as a model would.
    if (tool === undefined && shellResults.length === 0 && names.includes("ToolSearch") && !searched) {
      searched = true;
      return sse([
        start,
        ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: nextId("toolu"), name: "ToolSearch", input: {} } }],
        ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: JSON.stringify({ query: "select:mcp__shell__shell", max_results: 5 }) } }],
        ["content_block_stop", { type: "content_block_stop", index: 0 }],
        ...stop("tool_use"),
      ]);
    }
    if (shellResults.length > 0 || tool === undefined) {
      for (const result of shellResults) if (isRecord(result)) toolResults.push(resultText(result.content));
      const text = tool === undefined ? `no shell tool offered: ${names.join(", ")}` : "done";
      return sse([
        start,
        ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
        ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }],
        ["content_block_stop", { type: "content_block_stop", index: 0 }],
        ...stop("end_turn"),
      ]);
    }
    const callId = nextId("toolu");
    shellCallIds.add(callId);
    return sse([
      start,
      ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: callId, name: tool, input: {} } }],
      ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: JSON.stringify(shellArgs) } }],
      ["content_block_stop", { type: "content_block_stop", index: 0 }],
      ...stop("tool_use"),
    ]);
  }

  function gemini(body: Record<string, unknown>, path: string, stream: boolean): Response {
    modelRequests.push({ api: "gemini", path });
    const names = asArray(body.tools).flatMap((tool) =>
      isRecord(tool) ? asArray(tool.functionDeclarations).flatMap((fn) => (isRecord(fn) && typeof fn.name === "string" ? [fn.name] : [])) : [],
    );
    setOffered(names);
    const contents = asArray(body.contents);
    const last = contents[contents.length - 1];
    const responses = isRecord(last) ? asArray(last.parts).filter((part) => isRecord(part) && isRecord(part.functionResponse)) : [];
    const tool = pickShellTool(names);
    let parts: unknown[];
    if (responses.length > 0 || tool === undefined) {
      for (const part of responses) if (isRecord(part) && isRecord(part.functionResponse)) toolResults.push(resultText(part.functionResponse.response));
      parts = [{ text: tool === undefined ? `no shell tool offered: ${names.join(", ")}` : "done" }];
    } else {
      parts = [{ functionCall: { name: tool, args: shellArgs } }];
    }
    const chunk = {
      candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 },
      modelVersion: "scripted",
    };
    return stream ? sse([[null, chunk]]) : Response.json(chunk);
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 120,
    async fetch(request) {
      const url = new URL(request.url);
      const path = url.pathname;
      requestLog.push(`${request.method} ${path}${request.headers.get("upgrade") === null ? "" : ` (upgrade: ${request.headers.get("upgrade")})`}`);
      let body: Record<string, unknown> = {};
      if (request.method === "POST") {
        try {
          const parsed: unknown = await request.json();
          if (isRecord(parsed)) body = parsed;
        } catch {
          // Not JSON: the routes below answer what they can without a body.
        }
      }
      if (request.method === "POST" && path.endsWith("/responses")) return openai(body, path);
      if (request.method === "POST" && path.endsWith("/messages/count_tokens")) return Response.json({ input_tokens: 1 });
      if (request.method === "POST" && path.endsWith("/messages")) return anthropic(body);
      if (request.method === "POST" && path.includes(":streamGenerateContent")) return gemini(body, path, true);
      if (request.method === "POST" && path.includes(":generateContent")) return gemini(body, path, false);
      if (request.method === "POST" && path.includes(":countTokens")) return Response.json({ totalTokens: 1 });
      if (path.endsWith("/models")) return Response.json({ data: [], models: [], object: "list" });
      return new Response("not scripted", { status: 404 });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    toolResults,
    offeredTools,
    modelRequests,
    requestLog,
    stop: () => server.stop(true),
  };
}
