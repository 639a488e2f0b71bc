// `serve`: the MCP server on stdio.
import { defineCommand } from "citty";
import { consola } from "consola";
import { BashNotFoundError, resolveBash } from "../exec/bash.ts";
import { DEFAULT_OUTPUT_LIMIT_BYTES } from "../exec/output.ts";
import { DEFAULT_APPROVAL_TIMEOUT_MS } from "../mcp/approval.ts";
import { serveStdio } from "../mcp/server.ts";
import { isVariableName } from "../policy/escalation-env.ts";
import { loadDefaultPolicy, RulesLoadError, type Policy } from "../policy/index.ts";
import type { LinuxSandboxMode } from "../sandbox/launch.ts";
import { detectExecMediation, noExecMediationWarning } from "../sandbox/exec-mediation-support.ts";
import { detectLinuxSandbox, LOST_WITHOUT_NAMESPACES } from "../sandbox/namespaces.ts";
import { configureLogging, LOG_LEVEL_ARG } from "./logging.ts";
import { describeRulesSource, rulesSources } from "./rules-sources.ts";
import { resolveWrapperPath } from "./wrapper-path.ts";

export const serveCommand = defineCommand({
  meta: { name: "serve", description: "Serve the shell tool over MCP on stdin/stdout (the default)" },
  args: {
    bash: { type: "string", description: "Path to the patched Bash (default: $CODEX_BASH_PATH, else the embedded one)" },
    execve: { type: "string", description: "Path to codex-execve-wrapper (default: beside this binary, else a cached symlink to it)" },
    "preserve-program-paths": { type: "boolean", description: "Match rules on the full program path instead of its basename" },
    "approval-timeout": {
      type: "string",
      description: `Seconds an approval question may stay unanswered before it counts as a denial (default ${DEFAULT_APPROVAL_TIMEOUT_MS / 1000})`,
    },
    "output-limit": {
      type: "string",
      description: `Bytes of output kept per call, head and tail (default ${DEFAULT_OUTPUT_LIMIT_BYTES}); the middle is replaced by one marker line`,
    },
    "allow-unsandboxed": {
      type: "boolean",
      description: "Degraded mode: where no sandbox can be applied (no Landlock), run commands unconfined and say so in every result, instead of failing",
    },
    "escalation-env": {
      type: "string",
      description:
        "Pass this variable from the command's environment to programs run outside the sandbox, as it is (repeatable). They otherwise get the server's environment and only locale, terminal and time zone variables",
    },
    "log-level": LOG_LEVEL_ARG,
  },
  async run({ args, rawArgs }) {
    const logError = configureLogging(args["log-level"], process.env);
    if (logError !== null) {
      consola.error(logError);
      process.exit(2);
    }
    const approvalTimeoutMs = parsePositive("--approval-timeout", args["approval-timeout"], DEFAULT_APPROVAL_TIMEOUT_MS / 1000) * 1000;
    const outputLimit = Math.floor(parsePositive("--output-limit", args["output-limit"], DEFAULT_OUTPUT_LIMIT_BYTES));
    const escalationEnv = repeatedValues(rawArgs, "--escalation-env");
    const badName = escalationEnv.find((name) => !isVariableName(name));
    if (badName !== undefined) {
      consola.error(`--escalation-env needs a variable name, got ${JSON.stringify(badName)}`);
      process.exit(2);
    }
    let policy: Policy;
    try {
      // Loaded once: a broken rules file stops the server here, naming file:line:col.
      policy = loadDefaultPolicy(process.env, undefined, { onWarning: (message) => consola.warn(message) });
      for (const source of rulesSources(process.env)) consola.info(`rules: ${describeRulesSource(source)}`);
    } catch (error) {
      if (!(error instanceof RulesLoadError)) throw error;
      consola.error(error.message);
      process.exit(1);
    }
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
    const linuxSandbox = linuxSandboxMode(bashPath);
    const mediation = detectExecMediation(process.env);
    if (!mediation.available && process.platform === "linux") consola.warn(noExecMediationWarning(mediation.reason));
    await serveStdio({
      bashPath,
      wrapperPath,
      // A copy: escalated programs get the environment the server started with.
      env: { ...process.env },
      policy,
      preserveProgramPaths: args["preserve-program-paths"] === true,
      approvalTimeoutMs,
      outputLimit,
      allowUnsandboxed: args["allow-unsandboxed"] === true,
      escalationEnv,
      linuxSandbox,
      mediateExecs: mediation.available,
      log: (message) => consola.info(message),
      warn: (message) => consola.warn(message),
    });
    // Idle workers and timers must not keep a server without a client alive.
    process.exit(0);
  },
});

/** Every value of a repeatable `flag` (citty keeps only the last): `--flag v` and `--flag=v`. */
function repeatedValues(rawArgs: readonly string[], flag: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (arg === flag && rawArgs[i + 1] !== undefined) values.push(rawArgs[++i]!);
    else if (arg.startsWith(`${flag}=`)) values.push(arg.slice(flag.length + 1));
  }
  return values;
}

/** The namespace sandbox where this machine allows it; else the fallback, said once and loudly. */
function linuxSandboxMode(bashPath: string): LinuxSandboxMode {
  if (process.platform !== "linux") return { kind: "landlock-only", reason: "not Linux" };
  const mode = detectLinuxSandbox(bashPath, process.env);
  if (mode.kind === "landlock-only") {
    consola.warn(
      `no namespace sandbox (${mode.reason}): commands run under Landlock + seccomp only, so:\n` +
        LOST_WITHOUT_NAMESPACES.map((lost) => `  - ${lost}`).join("\n"),
    );
  }
  return mode;
}

function parsePositive(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    consola.error(`${flag} must be a positive number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}
