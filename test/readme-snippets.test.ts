// The README's client configurations are copied as written: every TOML and
// JSON snippet must parse and say what the text promises.
import { expect, test } from "bun:test";
import { readmeSnippets, SERVER_PATH_PLACEHOLDER, shellCommands, snippet } from "../scripts/clients/readme-snippets.ts";

test("every TOML and JSON snippet of the Client configuration section parses", () => {
  const snippets = readmeSnippets();
  const parsed = snippets.filter((s) => s.language === "toml" || s.language === "json");
  expect(parsed.length).toBeGreaterThanOrEqual(6);
  for (const s of parsed) {
    const parse = () => (s.language === "toml" ? Bun.TOML.parse(s.text) : JSON.parse(s.text));
    expect(parse, `${s.client} (${s.language})`).not.toThrow();
  }
});

test("Codex: shell tool off, our server approved without asking, CODEX_HOME passed on", () => {
  const config = Bun.TOML.parse(snippet("Codex", "toml")) as {
    features: { shell_tool: boolean };
    mcp_servers: { shell: { command: string; default_tools_approval_mode: string; env_vars: string[] } };
  };
  expect(config.features.shell_tool).toBe(false);
  expect(config.mcp_servers.shell).toEqual({ command: SERVER_PATH_PLACEHOLDER, default_tools_approval_mode: "approve", env_vars: ["CODEX_HOME"] });
});

test("Claude Code: user scope, Bash denied, our tool allowed, an accepting Elicitation hook for the shell server", () => {
  expect(shellCommands(snippet("Claude Code", "sh"))).toEqual([`claude mcp add --scope user shell -- ${SERVER_PATH_PLACEHOLDER}`]);
  expect(JSON.parse(snippet("Claude Code", "json"))).toEqual({ permissions: { allow: ["mcp__shell__shell"], deny: ["Bash"] } });
  const hooks = JSON.parse(snippet("Claude Code, headless approvals", "json")) as {
    hooks: { Elicitation: { matcher: string; hooks: { type: string; command: string }[] }[] };
  };
  const hook = hooks.hooks.Elicitation[0];
  expect(hook?.matcher).toBe("shell");
  // What the hook prints is the JSON Claude Code reads.
  const printed = Bun.spawnSync(["sh", "-c", hook?.hooks[0]?.command ?? "false"]).stdout.toString();
  expect(JSON.parse(printed)).toEqual({ hookSpecificOutput: { hookEventName: "Elicitation", action: "accept", content: {} } });
});

test("Gemini CLI: user scope and trusted; run_shell_command denied by a policy rule", () => {
  expect(shellCommands(snippet("Gemini CLI", "sh"))).toEqual([`gemini mcp add --scope user --trust shell ${SERVER_PATH_PLACEHOLDER}`]);
  const policy = Bun.TOML.parse(snippet("Gemini CLI", "toml")) as { rule: { toolName: string; decision: string }[] };
  expect(policy.rule).toEqual([expect.objectContaining({ toolName: "run_shell_command", decision: "deny" })]);
});

test("Cursor and VS Code name the binary", () => {
  expect(JSON.parse(snippet("Cursor", "json"))).toEqual({ mcpServers: { shell: { command: SERVER_PATH_PLACEHOLDER } } });
  expect(JSON.parse(snippet("VS Code", "json"))).toEqual({ servers: { shell: { type: "stdio", command: SERVER_PATH_PLACEHOLDER } } });
});
