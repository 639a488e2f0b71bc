// Whether confined calls get exec mediation (every execve/execveat judged by
// the server through seccomp user notification, launcher-args.ts), decided
// once at start. Without it only Bash's own execs are checked by the rules.
import { execMediationUnsupported } from "../ffi/seccomp-notify.ts";

/**
 * Test and benchmark switch, not a feature: `1` in the server's environment at
 * start turns exec mediation off, as on a kernel without it.
 */
export const DISABLE_EXEC_MEDIATION_ENV_VAR = "CODEX_EXEC_DISABLE_EXEC_MEDIATION";

export type ExecMediationSupport = { available: true } | { available: false; reason: string };

/** What is lost without it (said once at start and by `doctor`). */
export const LOST_WITHOUT_EXEC_MEDIATION = "rules only bind the programs Bash starts itself, not those started by env, xargs, find -exec, make, scripts...";

/** The warning, said once, when calls run without exec mediation. */
export function noExecMediationWarning(reason: string): string {
  return `no exec mediation (${reason}): ${LOST_WITHOUT_EXEC_MEDIATION}`;
}

export function detectExecMediation(env: Readonly<Record<string, string | undefined>>, platform: NodeJS.Platform = process.platform): ExecMediationSupport {
  if (platform !== "linux") return { available: false, reason: "not Linux" };
  if (env[DISABLE_EXEC_MEDIATION_ENV_VAR] === "1") return { available: false, reason: `${DISABLE_EXEC_MEDIATION_ENV_VAR}=1` };
  const unsupported = execMediationUnsupported();
  return unsupported === null ? { available: true } : { available: false, reason: unsupported };
}
