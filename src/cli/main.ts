// Command line of the server role (citty): `serve` (the default), and more
// subcommands as they land.
import { defineCommand, runMain } from "citty";
import { SERVER_NAME, SERVER_VERSION } from "../mcp/server.ts";
import { serveCommand } from "./serve.ts";

const main = defineCommand({
  meta: {
    name: SERVER_NAME,
    version: SERVER_VERSION,
    description: "MCP server with a `shell` tool whose every exec is checked against Codex .rules files",
  },
  args: serveCommand.args,
  subCommands: { serve: serveCommand },
  run: serveCommand.run,
});

export async function runCli(args: string[]): Promise<void> {
  await runMain(main, { rawArgs: args });
}
