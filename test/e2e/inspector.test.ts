// A real third-party client: the MCP Inspector's CLI mode drives the compiled
// server, as a user trying it out would.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT, SERVER_BINARY, tempDir } from "../support.ts";

const INSPECTOR = join(ROOT, "node_modules/.bin/mcp-inspector");

async function inspector(args: string[]): Promise<unknown> {
  const cacheHome = tempDir();
  const child = Bun.spawn([INSPECTOR, "--cli", "-e", `XDG_CACHE_HOME=${join(ROOT, "dist/.test-cache")}`, "-e", `CODEX_HOME=${cacheHome}`, SERVER_BINARY, ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`inspector exited ${code}: ${stderr}`);
  return JSON.parse(stdout);
}

test("tools/list through the Inspector shows the shell tool", async () => {
  const listed = (await inspector(["--method", "tools/list"])) as { tools: { name: string; inputSchema: { required: string[] } }[] };
  expect(listed.tools.map((tool) => tool.name)).toEqual(["shell"]);
  expect(listed.tools[0]!.inputSchema.required).toEqual(["command", "workdir"]);
});

test("tools/call of shell through the Inspector runs the command", async () => {
  const workdir = tempDir();
  const called = (await inspector([
    "--method",
    "tools/call",
    "--tool-name",
    "shell",
    "--tool-arg",
    "command=pwd; /bin/echo from-inspector",
    "--tool-arg",
    `workdir=${workdir}`,
    "--tool-arg",
    "login=false",
  ])) as { content: { text: string }[]; isError: boolean };
  expect(called.isError).toBe(false);
  const result = JSON.parse(called.content[0]!.text);
  expect(result).toMatchObject({ exit_code: 0, output: `${workdir}\nfrom-inspector\n`, timed_out: false });
});
