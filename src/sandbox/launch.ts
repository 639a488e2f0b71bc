// What the server spawns for one shell call under a sandbox state. The
// call's sandbox is computed once (callSandbox): the same writable roots go to
// the launcher and to the escalation check. The launchers' argument format is
// in launcher-args.ts.
import {
  LINUX_SANDBOX_ARGV0,
  NAMESPACE_STAGE_ARGV0,
  NETWORK_DISABLED_ENV_VAR,
  launcherArgs,
  namespaceStageArgs,
} from "./launcher-args.ts";
import {
  type Environment,
  type SandboxState,
  hasFullDiskWriteAccess,
  networkAllowed,
  protectedSubpaths,
  realPath,
  writableRoots,
} from "./policy.ts";
import { SANDBOX_EXEC_PATH, seatbeltArgs } from "./seatbelt.ts";

/** One call's sandbox, computed once from the state. */
export interface CallSandbox {
  /** Real paths the sandboxed side may write beneath; "everything" without a platform sandbox. */
  writableRoots: readonly string[] | "everything";
  /** Real paths kept read-only beneath the writable roots (protected subpaths and the client's). */
  readOnlyPaths: readonly string[];
  allowNetwork: boolean;
}

export function callSandbox(state: SandboxState, env: Environment): CallSandbox {
  const policy = state.sandboxPolicy;
  if (hasFullDiskWriteAccess(policy)) return { writableRoots: "everything", readOnlyPaths: [], allowNetwork: networkAllowed(policy) };
  const roots = [...new Set(writableRoots(policy, state.sandboxCwd, env).map(realPath))];
  const readOnly = [...roots.flatMap(protectedSubpaths), ...state.readOnlyPaths].map(realPath);
  return { writableRoots: roots, readOnlyPaths: [...new Set(readOnly)], allowNetwork: networkAllowed(policy) };
}

/**
 * How Linux calls are confined on this machine, decided once at start
 * (namespaces.ts): the namespace stage of `stage` (our patched Bash) under
 * the Landlock + seccomp launcher, or the launcher alone.
 */
export type LinuxSandboxMode = { kind: "namespaces"; stage: string } | { kind: "landlock-only"; reason: string };

export class SandboxUnavailableError extends Error {
  constructor(platform: string) {
    super(`no sandbox is available on platform ${platform}; refusing to run unconfined`);
    this.name = "SandboxUnavailableError";
  }
}

export interface PlanInput {
  sandbox: CallSandbox;
  /** Bash and its arguments, e.g. [bashPath, "-lc", command]. */
  bashArgv: readonly string[];
  /** Our own binary, which acts as the Linux launcher when started as LINUX_SANDBOX_ARGV0. */
  selfExecutable: string;
  env: Environment;
  platform: NodeJS.Platform;
  linuxMode: LinuxSandboxMode;
  allowUnsandboxed: boolean;
  /** Descriptor numbers in the child: the pipe a launcher's refusal goes to, and the escalation socket. */
  childFds: ChildFds;
  /**
   * Every exec of a confined call is judged by the server (seccomp user
   * notification), not only Bash's: false where the kernel cannot, or when
   * switched off. Calls without a launcher (no sandbox) are never mediated.
   */
  mediateExecs: boolean;
}

/** Descriptors the call's child gets beyond 0-2, by number. */
export interface ChildFds {
  reportFd: number;
  socketFd: number;
  /** The socket the launcher sends the exec mediation listener on. */
  execListenerFd: number;
}

export interface SandboxedCommand {
  file: string;
  argv0: string;
  args: string[];
  env: Record<string, string>;
  /** Which mechanism confines the command. */
  sandbox: "namespaces" | "landlock" | "seatbelt" | "none";
  /** Where the launcher reports a refusal (the input's reportFd); null when Bash starts without a launcher of ours. */
  reportFd: number | null;
  /** Where the launcher sends the exec mediation listener (the input's execListenerFd); null: execs are not mediated. */
  execListenerFd: number | null;
  /**
   * The policy asked for confinement and this plan runs without it (only on a
   * platform with no sandbox, in degraded mode). On Linux the launcher decides
   * at run time and prints a warning line instead.
   */
  degraded: boolean;
}

export function planSandboxedCommand(input: PlanInput): SandboxedCommand {
  const { sandbox, bashArgv, env, platform } = input;
  const bash = bashArgv[0];
  if (bash === undefined) throw new Error("planSandboxedCommand: empty bash argv");
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) childEnv[key] = value;
  // Like the reference, set whatever the platform: tools and tests use it to
  // know the network is off even when someone else's sandbox enforces it.
  if (!sandbox.allowNetwork) childEnv[NETWORK_DISABLED_ENV_VAR] = "1";

  const direct = (degraded: boolean): SandboxedCommand => ({
    file: bash,
    argv0: bash,
    args: bashArgv.slice(1),
    env: childEnv,
    sandbox: "none",
    reportFd: null,
    execListenerFd: null,
    degraded,
  });
  if (sandbox.writableRoots === "everything") return direct(false);
  if (platform === "linux") {
    const execListenerFd = input.mediateExecs ? input.childFds.execListenerFd : null;
    const launcher = launcherArgs({
      writableRoots: [...sandbox.writableRoots],
      allowNetwork: sandbox.allowNetwork,
      allowUnsandboxed: input.allowUnsandboxed,
      reportFd: input.childFds.reportFd,
      keepFd: input.childFds.socketFd,
      execListenerFd,
    });
    const launched = { env: childEnv, reportFd: input.childFds.reportFd, execListenerFd, degraded: false };
    if (input.linuxMode.kind === "landlock-only") {
      return { file: input.selfExecutable, argv0: LINUX_SANDBOX_ARGV0, args: [...launcher, "--", ...bashArgv], sandbox: "landlock", ...launched };
    }
    const stage = namespaceStageArgs({
      writableRoots: [...sandbox.writableRoots],
      readOnlyPaths: [...sandbox.readOnlyPaths],
      unshareNetwork: !sandbox.allowNetwork,
      reportFd: input.childFds.reportFd,
    });
    return {
      file: input.linuxMode.stage,
      argv0: NAMESPACE_STAGE_ARGV0,
      args: [...stage, input.selfExecutable, LINUX_SANDBOX_ARGV0, ...launcher, "--", ...bashArgv],
      sandbox: "namespaces",
      ...launched,
    };
  }
  if (platform === "darwin") {
    childEnv.CODEX_SANDBOX = "seatbelt";
    return {
      file: SANDBOX_EXEC_PATH,
      argv0: SANDBOX_EXEC_PATH,
      args: seatbeltArgs({ writableRoots: sandbox.writableRoots, readOnlyPaths: sandbox.readOnlyPaths, allowNetwork: sandbox.allowNetwork }, bashArgv),
      env: childEnv,
      sandbox: "seatbelt",
      reportFd: null,
      execListenerFd: null,
      degraded: false,
    };
  }
  if (input.allowUnsandboxed) return direct(true);
  throw new SandboxUnavailableError(platform);
}
