// What the server spawns for one shell call under a sandbox state, and the
// argument format of our binary's `codex-linux-sandbox` role (defined here
// once: sandboxLaunchArgs writes it, parseLauncherArgs reads it).
//
// Launcher arguments:
//   codex-linux-sandbox [--writable-root <abs path>]... [--allow-network]
//                       [--allow-unsandboxed] -- <program> [<arg>...]
// - --writable-root: all Landlock rights beneath that path (repeatable; none
//   means read-only). The server resolves the roots (writableRoots) so the
//   launcher and the rules engine's escalation check agree on them.
// - --allow-network: no seccomp network filter.
// - --allow-unsandboxed: degraded mode; if Landlock is unavailable, run
//   unconfined with a warning on stderr instead of failing.
// - <program>: a path, or a name looked up on the PATH of the environment.
// The `--` may be left out: options end at the first argument that is not one
// (`bun script.ts -- ...` swallows the first `--`, so the fixture needs this).
import {
  type Environment,
  type SandboxState,
  hasFullDiskWriteAccess,
  networkAllowed,
  writableRoots,
} from "./policy.ts";
import { SANDBOX_EXEC_PATH, seatbeltArgs } from "./seatbelt.ts";

export const LINUX_SANDBOX_ARGV0 = "codex-linux-sandbox";

const WRITABLE_ROOT_FLAG = "--writable-root";
const ALLOW_NETWORK_FLAG = "--allow-network";
const ALLOW_UNSANDBOXED_FLAG = "--allow-unsandboxed";

/** Set in the sandboxed environment whenever the policy takes the network away. */
export const NETWORK_DISABLED_ENV_VAR = "CODEX_SANDBOX_NETWORK_DISABLED";

export interface LauncherOptions {
  writableRoots: string[];
  allowNetwork: boolean;
  allowUnsandboxed: boolean;
  program: string;
  programArgs: string[];
}

export class LauncherUsageError extends Error {
  constructor(detail: string) {
    super(`invalid arguments: ${detail}`);
    this.name = "LauncherUsageError";
  }
}

/** The launcher options (everything before `--`) for `state`. */
export function sandboxLaunchArgs(state: SandboxState, env: Environment, options: { allowUnsandboxed?: boolean } = {}): string[] {
  const args = writableRoots(state.sandboxPolicy, state.sandboxCwd, env).flatMap((root) => [WRITABLE_ROOT_FLAG, root]);
  if (networkAllowed(state.sandboxPolicy)) args.push(ALLOW_NETWORK_FLAG);
  if (options.allowUnsandboxed === true) args.push(ALLOW_UNSANDBOXED_FLAG);
  return args;
}

export function parseLauncherArgs(args: readonly string[]): LauncherOptions {
  const options: LauncherOptions = { writableRoots: [], allowNetwork: false, allowUnsandboxed: false, program: "", programArgs: [] };
  let i = 0;
  for (; i < args.length && args[i]?.startsWith("--") === true; i++) {
    const arg = args[i];
    if (arg === "--") {
      i++;
      break;
    }
    if (arg === WRITABLE_ROOT_FLAG) {
      const root = args[++i];
      if (root === undefined || !root.startsWith("/")) throw new LauncherUsageError(`${WRITABLE_ROOT_FLAG} needs an absolute path`);
      options.writableRoots.push(root);
    } else if (arg === ALLOW_NETWORK_FLAG) {
      options.allowNetwork = true;
    } else if (arg === ALLOW_UNSANDBOXED_FLAG) {
      options.allowUnsandboxed = true;
    } else {
      throw new LauncherUsageError(`unknown option ${JSON.stringify(arg)}`);
    }
  }
  const program = args[i];
  if (program === undefined || program === "") throw new LauncherUsageError("expected -- <program> [args...]");
  options.program = program;
  options.programArgs = args.slice(i + 1);
  return options;
}

export class SandboxUnavailableError extends Error {
  constructor(platform: string) {
    super(`no sandbox is available on platform ${platform}; refusing to run unconfined`);
    this.name = "SandboxUnavailableError";
  }
}

export interface PlanInput {
  state: SandboxState;
  /** Bash and its arguments, e.g. [bashPath, "-lc", command]. */
  bashArgv: readonly string[];
  /** Our own binary, which acts as the Linux launcher when started as LINUX_SANDBOX_ARGV0. */
  selfExecutable: string;
  env: Environment;
  platform: NodeJS.Platform;
  allowUnsandboxed: boolean;
}

export interface SandboxedCommand {
  file: string;
  argv0: string;
  args: string[];
  env: Record<string, string>;
  /** Which mechanism confines the command. */
  sandbox: "landlock" | "seatbelt" | "none";
  /**
   * The policy asked for confinement and this plan runs without it (only on a
   * platform with no sandbox, in degraded mode). On Linux the launcher decides
   * at run time and prints a warning line instead.
   */
  degraded: boolean;
}

export function planSandboxedCommand(input: PlanInput): SandboxedCommand {
  const { state, bashArgv, env, platform } = input;
  const bash = bashArgv[0];
  if (bash === undefined) throw new Error("planSandboxedCommand: empty bash argv");
  const policy = state.sandboxPolicy;
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) childEnv[key] = value;
  // Like the reference, set whatever the platform: tools and tests use it to
  // know the network is off even when someone else's sandbox enforces it.
  if (!networkAllowed(policy)) childEnv[NETWORK_DISABLED_ENV_VAR] = "1";

  const direct = (degraded: boolean): SandboxedCommand => ({
    file: bash,
    argv0: bash,
    args: bashArgv.slice(1),
    env: childEnv,
    sandbox: "none",
    degraded,
  });
  if (hasFullDiskWriteAccess(policy)) return direct(false);
  if (platform === "linux") {
    return {
      file: input.selfExecutable,
      argv0: LINUX_SANDBOX_ARGV0,
      args: [...sandboxLaunchArgs(state, env, { allowUnsandboxed: input.allowUnsandboxed }), "--", ...bashArgv],
      env: childEnv,
      sandbox: "landlock",
      degraded: false,
    };
  }
  if (platform === "darwin") {
    childEnv.CODEX_SANDBOX = "seatbelt";
    return {
      file: SANDBOX_EXEC_PATH,
      argv0: SANDBOX_EXEC_PATH,
      args: seatbeltArgs(policy, state.sandboxCwd, env, bashArgv),
      env: childEnv,
      sandbox: "seatbelt",
      degraded: false,
    };
  }
  if (input.allowUnsandboxed) return direct(true);
  throw new SandboxUnavailableError(platform);
}
