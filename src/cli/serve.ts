// `serve`: the MCP server on stdio.
import { defineCommand } from "citty";
import { consola } from "consola";
import { BashNotFoundError, resolveBash } from "../exec/bash.ts";
import { serveStdio } from "../mcp/server.ts";
import { resolveWrapperPath } from "./wrapper-path.ts";

export const serveCommand = defineCommand({
  meta: { name: "serve", description: "Serve the shell tool over MCP on stdin/stdout (the default)" },
  args: {
    bash: { type: "string", description: "Path to the patched Bash (default: $CODEX_BASH_PATH, else the embedded one)" },
    execve: { type: "string", description: "Path to codex-execve-wrapper (default: beside this binary, else a cached symlink to it)" },
    "preserve-program-paths": { type: "boolean", description: "Match rules on the full program path instead of its basename" },
    "allow-unsandboxed": {
      type: "boolean",
      description: "Degraded mode: where no sandbox can be applied (no Landlock), run commands unconfined and say so in every result, instead of failing",
    },
  },
  async run({ args }) {
    // stdout is the JSON-RPC channel: every log line goes to stderr.
    consola.options.stdout = process.stderr;
    let bashPath: string;
    try {
      bashPath = await resolveBash({ flag: args.bash, env: process.env });
    } catch (error) {
      if (!(error instanceof BashNotFoundError)) throw error;
      consola.error(error.message);
      process.exit(2);
    }
    const wrapperPath = resolveWrapperPath(args.execve, process.env);
    consola.debug(`bash: ${bashPath}; wrapper: ${wrapperPath}`);
    await serveStdio({
      bashPath,
      wrapperPath,
      env: process.env,
      deciderFor: () => async () => ({ kind: "run" }),
      allowUnsandboxed: args["allow-unsandboxed"] === true,
      log: (message) => consola.info(message),
    });
  },
});
