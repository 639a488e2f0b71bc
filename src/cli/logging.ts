// Logging for the server roles: consola, always on stderr (stdout carries
// JSON-RPC), level from --log-level or CODEX_EXEC_LOG_LEVEL.
import { consola } from "consola";

export const LOG_LEVEL_ENV = "CODEX_EXEC_LOG_LEVEL";

const LEVELS: Record<string, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

export const LOG_LEVEL_ARG = {
  type: "string",
  description: `Log level on stderr: ${Object.keys(LEVELS).join(", ")} (default info; env ${LOG_LEVEL_ENV})`,
} as const;

/** Applies the level; returns an error message for an unknown level name. */
export function configureLogging(flag: string | undefined, env: NodeJS.ProcessEnv): string | null {
  consola.options.stdout = process.stderr;
  consola.options.stderr = process.stderr;
  const name = (flag ?? env[LOG_LEVEL_ENV] ?? "info").toLowerCase();
  const level = LEVELS[name];
  if (level === undefined) return `unknown log level ${JSON.stringify(name)}; use one of ${Object.keys(LEVELS).join(", ")}`;
  consola.level = level;
  return null;
}
