// `check`: the JSON of `codex execpolicy check`, for the given rules files or,
// without --rules, for the rules the server itself would load.
//   check [--rules|-r <file>]... [--pretty] [--resolve-host-executables] [--] <command>...
// Options end at the first word that is not one, so the command may contain
// hyphen-leading words (`check -r x.rules rm -rf /`, `check -r x.rules ls -h`),
// as in the reference. main.ts hands `check` its raw arguments before citty
// sees them: citty would parse options (and `-h`) anywhere in the command.
import { defineCommand } from "citty";
import { defaultRulesFiles, loadPolicyFromFiles, renderCheckOutput, RulesLoadError } from "../policy/index.ts";

interface CheckOptions {
  rules: string[];
  pretty: boolean;
  resolveHostExecutables: boolean;
  command: string[];
}

const USAGE = `Evaluate a command against .rules files and print the JSON of \`codex execpolicy check\`.

Usage: check [--rules|-r <FILE>]... [--pretty] [--resolve-host-executables] [--] <COMMAND>...

  -r, --rules <FILE>            A rules file (repeatable); default: /etc/codex/rules and $CODEX_HOME/rules
      --pretty                  Pretty-print the JSON
      --resolve-host-executables
                                Let an absolute program path match rules for its basename
  -h, --help                    This text (only before the command)
`;

class CheckUsageError extends Error {
  override name = "CheckUsageError";
}

/** The parsed options, or "help" when -h/--help comes before the command. */
function parseCheckArgs(rawArgs: readonly string[]): CheckOptions | "help" {
  const options: CheckOptions = { rules: [], pretty: false, resolveHostExecutables: false, command: [] };
  let i = 0;
  for (; i < rawArgs.length; i++) {
    const arg = rawArgs[i] ?? "";
    if (arg === "--") {
      i++;
      break;
    }
    if (arg === "-h" || arg === "--help") return "help";
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

export interface CheckIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const PROCESS_IO: CheckIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `check`; returns the process exit code: 0 with the JSON on stdout,
 * 1 when the rules cannot be loaded, 2 for a usage error. Never throws: any
 * failure is one message on stderr, without a stack trace.
 */
export function runCheck(rawArgs: readonly string[], env: NodeJS.ProcessEnv, io: CheckIo = PROCESS_IO): number {
  let options: CheckOptions | "help";
  try {
    options = parseCheckArgs(rawArgs);
  } catch (error) {
    io.stderr(`Error: ${describe(error)}\n`);
    return 2;
  }
  if (options === "help") {
    io.stdout(USAGE);
    return 0;
  }
  try {
    const files = options.rules.length > 0 ? options.rules : defaultRulesFiles(env);
    const policy = loadPolicyFromFiles(files, { onWarning: (message) => io.stderr(`Warning: ${message}\n`) });
    const matches = policy.matchesForCommand(options.command, undefined, { resolveHostExecutables: options.resolveHostExecutables });
    io.stdout(`${renderCheckOutput(matches, { pretty: options.pretty })}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof RulesLoadError)) {
      io.stderr(`Error: ${describe(error)}\n`);
      return 1;
    }
    // The reference's anyhow chain: a headline naming the file, then the cause.
    const what = error.message.startsWith("failed to read") ? "read" : "parse";
    const headline = error.path === undefined ? "failed to load rules" : `failed to ${what} policy at ${error.path}`;
    io.stderr(`Error: ${headline}\n\nCaused by:\n    ${error.message}\n`);
    return 1;
  }
}

/** Listed in the top-level help; main.ts runs `check` itself, before citty parses anything. */
export const checkCommand = defineCommand({
  meta: {
    name: "check",
    description:
      "Evaluate a command against .rules files and print the JSON of `codex execpolicy check` (default rules: /etc/codex/rules and $CODEX_HOME/rules)",
  },
  run({ rawArgs }) {
    process.exitCode = runCheck(rawArgs, process.env);
  },
});
