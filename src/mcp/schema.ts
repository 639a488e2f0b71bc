// The `shell` tool: its advertised definition (byte-compatible with the
// reference, whose clients compare it verbatim) and the validation of its
// arguments. Both live here so they cannot drift apart.
import { existsSync, statSync } from "node:fs";
import { isAbsolute } from "node:path";
import { z } from "zod";

export const SERVER_INSTRUCTIONS = "This server provides a tool to execute shell commands and return their output.";
export const SHELL_TOOL_NAME = "shell";

export const SHELL_TOOL = {
  name: SHELL_TOOL_NAME,
  description: "Runs a shell command and returns its output. You MUST provide the workdir as an absolute path.",
  inputSchema: {
    type: "object",
    properties: {
      command: { description: "The bash string to execute.", type: "string" },
      workdir: { description: "The working directory to execute the command in. Must be an absolute path.", type: "string" },
      timeout_ms: {
        description: "The timeout for the command in milliseconds.",
        type: "integer",
        format: "uint64",
        minimum: 0,
        nullable: true,
      },
      login: { description: "Launch Bash with -lc instead of -c: defaults to true.", type: "boolean", nullable: true },
    },
    required: ["command", "workdir"],
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "ExecParams",
  },
} as const;

/** Linux refuses a single execve argument longer than this (MAX_ARG_STRLEN). */
export const MAX_COMMAND_BYTES = 128 * 1024 - 1;
/** One day: anything longer is a mistake, and timers cannot represent u64 anyway. */
export const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

function workdirProblem(path: string): string | null {
  if (!isAbsolute(path)) return "`workdir` must be an absolute path";
  if (!existsSync(path)) return `\`workdir\` ${path} does not exist`;
  if (!statSync(path).isDirectory()) return `\`workdir\` ${path} is not a directory`;
  return null;
}

export const ShellArgs = z.object({
  command: z
    .string({ error: "`command` must be a string" })
    .refine((command) => Buffer.byteLength(command) <= MAX_COMMAND_BYTES, {
      error: `\`command\` is longer than ${MAX_COMMAND_BYTES} bytes, the most Linux passes to a program`,
    }),
  workdir: z.string({ error: "`workdir` must be a string" }).superRefine((path, context) => {
    const problem = workdirProblem(path);
    if (problem !== null) context.addIssue({ code: "custom", message: problem });
  }),
  timeout_ms: z
    .number({ error: "`timeout_ms` must be a number of milliseconds" })
    .int({ error: "`timeout_ms` must be a whole number of milliseconds" })
    .min(0, { error: "`timeout_ms` must not be negative" })
    .max(MAX_TIMEOUT_MS, { error: `\`timeout_ms\` must be at most ${MAX_TIMEOUT_MS} (one day)` })
    .nullish(),
  login: z.boolean({ error: "`login` must be true or false" }).nullish(),
});

export type ShellArgs = z.infer<typeof ShellArgs>;

/** Parses tool arguments, or returns one readable sentence naming every problem. */
export function parseShellArgs(raw: unknown): { ok: true; args: ShellArgs } | { ok: false; error: string } {
  const given: Record<string, unknown> = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>) : {};
  const result = ShellArgs.safeParse(given);
  if (result.success) return { ok: true, args: result.data };
  const problems = result.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? "");
    return issue.code === "invalid_type" && given[field] === undefined ? `missing required argument \`${field}\`` : issue.message;
  });
  return { ok: false, error: `invalid arguments for shell: ${problems.join("; ")}` };
}
