// Command line of the server role (citty): `serve` (the default), `check`, `doctor`.
import { defineCommand, runMain } from "citty";
import { SERVER_NAME, SERVER_VERSION } from "../mcp/server.ts";
import { checkCommand, runCheck } from "./check.ts";
import { doctorCommand } from "./doctor.ts";
import { serveCommand } from "./serve.ts";

const main = defineCommand({
  meta: {
    name: SERVER_NAME,
    version: SERVER_VERSION,
    description: "MCP server with a `shell` tool whose every exec is checked against Codex .rules files",
  },
  // Declared here too so that `--bash <path>` is not mistaken for a subcommand name.
  args: serveCommand.args,
  subCommands: { serve: serveCommand, check: checkCommand, doctor: doctorCommand },
  default: "serve",
});

export async function runCli(args: string[]): Promise<void> {
  // `check`'s command words are data: citty would read `-h`, `--x` or `-_` among them as options.
  if (args[0] === "check") {
    process.exitCode = runCheck(args.slice(1), process.env);
    return;
  }
  await runMain(main, { rawArgs: args });
}
