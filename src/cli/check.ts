// `check`: the JSON of `codex execpolicy check`, for the given rules files or,
// without --rules, for the rules the server itself would load.
//   check [--rules|-r <file>]... [--pretty] [--resolve-host-executables] [--] <command>...
// Options end at the first word that is not one, so the command may contain
// hyphen-leading words (`check -r x.rules rm -rf /`), as in the reference.
import { defineCommand } from "citty";
import { defaultRulesFiles, loadPolicyFromFiles, renderCheckOutput, RulesLoadError } from "../policy/index.ts";

interface CheckOptions {
  rules: string[];
  pretty: boolean;
  resolveHostExecutables: boolean;
  command: string[];
}

export class CheckUsageError extends Error {
  override name = "CheckUsageError";
}

export function parseCheckArgs(rawArgs: readonly string[]): CheckOptions {
  const options: CheckOptions = { rules: [], pretty: false, resolveHostExecutables: false, command: [] };
  let i = 0;
  for (; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (arg === "--rules" || arg === "-r") {
      const path = rawArgs[++i];
      if (path === undefined) throw new CheckUsageError(`${arg} needs a file`);
      options.rules.push(path);
    } else if (arg.startsWith("--rules=")) {
      options.rules.push(arg.slice("--rules=".length));
    } else if (arg === "--pretty") {
      options.pretty = true;
    } else if (arg === "--resolve-host-executables") {
      options.resolveHostExecutables = true;
    } else {
      break;
    }
  }
  options.command = rawArgs.slice(i);
  if (options.command.length === 0) throw new CheckUsageError("no command given: check [--rules FILE]... [--pretty] <command>...");
  return options;
}

/** Runs `check`; returns the process exit code. */
export function runCheck(rawArgs: readonly string[], env: NodeJS.ProcessEnv): number {
  let options: CheckOptions;
  try {
    options = parseCheckArgs(rawArgs);
  } catch (error) {
    process.stderr.write(`Error: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    const files = options.rules.length > 0 ? options.rules : defaultRulesFiles(env);
    const policy = loadPolicyFromFiles(files);
    const matches = policy.matchesForCommand(options.command, undefined, { resolveHostExecutables: options.resolveHostExecutables });
    process.stdout.write(`${renderCheckOutput(matches, { pretty: options.pretty })}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof RulesLoadError)) throw error;
    // The reference's anyhow chain: a headline naming the file, then the cause.
    const what = error.message.startsWith("failed to read") ? "read" : "parse";
    const headline = error.path === undefined ? "failed to load rules" : `failed to ${what} policy at ${error.path}`;
    process.stderr.write(`Error: ${headline}\n\nCaused by:\n    ${error.message}\n`);
    return 1;
  }
}

export const checkCommand = defineCommand({
  meta: {
    name: "check",
    description:
      "Evaluate a command against .rules files and print the JSON of `codex execpolicy check` (default rules: /etc/codex/rules and $CODEX_HOME/rules)",
  },
  args: {
    rules: { type: "string", alias: "r", description: "A rules file (repeatable); default: the rules the server loads" },
    pretty: { type: "boolean", description: "Pretty-print the JSON" },
    "resolve-host-executables": { type: "boolean", description: "Let an absolute program path match rules for its basename" },
  },
  run({ rawArgs }) {
    process.exitCode = runCheck(rawArgs, process.env);
  },
});
