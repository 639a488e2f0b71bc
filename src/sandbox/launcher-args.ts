// The contract between the server and the two processes that confine one
// call on Linux, defined once: the server writes these arguments
// (launch.ts), the launchers read them (linux-launcher.ts here; the namespace
// stage in scripts/bash/codex-namespace.c, whose format is written down here
// and tested end to end).
//
// The chain for a confined call:
//   <patched bash as codex-linux-namespace> <stage args> --
//     <our binary> codex-linux-sandbox <launcher args> -- <bash> -c <command>
// or, without namespaces, the launcher alone. Either one that refuses writes
// one line to the report descriptor and exits with LAUNCHER_FAILURE_EXIT_CODE;
// the server reads that descriptor, never the command's output.
//
// Launcher arguments:
//   codex-linux-sandbox [--writable-root <abs path>]... [--allow-network]
//                       [--allow-unsandboxed] [--report-fd <n>] [--keep-fd <n>]
//                       [--exec-listener-fd <n>] -- <program> [<arg>...]
// - --writable-root: all Landlock rights beneath that path but making device
//   nodes (repeatable; none means read-only);
// - --allow-network: no seccomp network filter;
// - --allow-unsandboxed: degraded mode; if Landlock is unavailable, run
//   unconfined with a warning on stderr instead of failing;
// - --report-fd: where a refusal goes (else stderr); closed before the program runs;
// - --keep-fd: a descriptor the program inherits (the escalation socket). Bun
//   marks every inherited descriptor above 3 close-on-exec when it starts, so
//   the launcher clears that flag on this one again;
// - --exec-listener-fd: a connected seqpacket socket to the server. The
//   launcher installs the exec mediation filter (every execve/execveat of the
//   program and its descendants waits for the server's verdict), sends the
//   filter's listener descriptor on it in one EXEC_LISTENER_MESSAGE with
//   SCM_RIGHTS, and closes it: the program never holds either. The first exec
//   the server is asked about is then the launcher's own, of <program>. Where
//   another listener already watches this process (a container runtime that
//   mediates syscalls itself: EBUSY), it sends EXEC_MEDIATION_UNAVAILABLE
//   followed by the reason instead, without a descriptor, and the program
//   runs with Bash's own interception only;
// - <program>: a path, or a name looked up on the PATH of the environment.
// The `--` may be left out: options end at the first argument that is not one
// (`bun script.ts -- ...` swallows the first `--`, so the fixture needs this).

export const LINUX_SANDBOX_ARGV0 = "codex-linux-sandbox";
/** The name under which our patched Bash runs its namespace stage instead of Bash. */
export const NAMESPACE_STAGE_ARGV0 = "codex-linux-namespace";

/** Set in the sandboxed environment whenever the policy takes the network away. */
export const NETWORK_DISABLED_ENV_VAR = "CODEX_SANDBOX_NETWORK_DISABLED";

/** Exit status of either launcher when it refused or failed to start the program. */
export const LAUNCHER_FAILURE_EXIT_CODE = 121;

const WRITABLE_ROOT_FLAG = "--writable-root";
const ALLOW_NETWORK_FLAG = "--allow-network";
const ALLOW_UNSANDBOXED_FLAG = "--allow-unsandboxed";
const REPORT_FD_FLAG = "--report-fd";
const KEEP_FD_FLAG = "--keep-fd";
const EXEC_LISTENER_FD_FLAG = "--exec-listener-fd";

/** The bytes that carry the listener descriptor (--exec-listener-fd). */
export const EXEC_LISTENER_MESSAGE = "exec-listener";
/** The start of the message that says there is no listener, and why (--exec-listener-fd). */
export const EXEC_MEDIATION_UNAVAILABLE = "exec-mediation-unavailable: ";

/** What the Landlock + seccomp launcher enforces before it executes the program. */
export interface LauncherContract {
  writableRoots: string[];
  allowNetwork: boolean;
  allowUnsandboxed: boolean;
  /** Descriptor for a refusal; null: stderr. */
  reportFd: number | null;
  /** Descriptor the program inherits; null: none. */
  keepFd: number | null;
  /** Where the exec mediation listener goes; null: no mediation. */
  execListenerFd: number | null;
}

export interface LauncherInvocation extends LauncherContract {
  program: string;
  programArgs: string[];
}

export class LauncherUsageError extends Error {
  constructor(detail: string) {
    super(`invalid arguments: ${detail}`);
    this.name = "LauncherUsageError";
  }
}

/**
 * The launcher refused or failed to confine the command, so nothing ran: a
 * failed call, never a result. `reason` is the launcher's own line.
 */
export class LaunchRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`the sandbox could not be applied: ${reason}`);
    this.name = "LaunchRefusedError";
  }
}

/** The launcher's options (everything before `--`). */
export function launcherArgs(contract: LauncherContract): string[] {
  const args = contract.writableRoots.flatMap((root) => [WRITABLE_ROOT_FLAG, root]);
  if (contract.allowNetwork) args.push(ALLOW_NETWORK_FLAG);
  if (contract.allowUnsandboxed) args.push(ALLOW_UNSANDBOXED_FLAG);
  if (contract.reportFd !== null) args.push(REPORT_FD_FLAG, String(contract.reportFd));
  if (contract.keepFd !== null) args.push(KEEP_FD_FLAG, String(contract.keepFd));
  if (contract.execListenerFd !== null) args.push(EXEC_LISTENER_FD_FLAG, String(contract.execListenerFd));
  return args;
}

export function parseLauncherArgs(args: readonly string[]): LauncherInvocation {
  const options: LauncherInvocation = { writableRoots: [], allowNetwork: false, allowUnsandboxed: false, reportFd: null, keepFd: null, execListenerFd: null, program: "", programArgs: [] };
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
    } else if (arg === REPORT_FD_FLAG || arg === KEEP_FD_FLAG || arg === EXEC_LISTENER_FD_FLAG) {
      const fd = Number(args[++i]);
      if (!Number.isInteger(fd) || fd < 0) throw new LauncherUsageError(`${arg} needs a descriptor number`);
      if (arg === REPORT_FD_FLAG) options.reportFd = fd;
      else if (arg === KEEP_FD_FLAG) options.keepFd = fd;
      else options.execListenerFd = fd;
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

/** What the namespace stage sets up before it starts the launcher. */
export interface NamespaceStageContract {
  /** Bound back read-write after `/` is made read-only; real paths. */
  writableRoots: string[];
  /** Bound read-only on top of the writable roots; real paths. */
  readOnlyPaths: string[];
  /** A network namespace of its own (loopback only). */
  unshareNetwork: boolean;
  reportFd: number | null;
}

/** Parents before children: a bind must land on top of the one above it. */
function parentsFirst(paths: readonly string[]): string[] {
  return [...new Set(paths)].sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b));
}

/**
 * The namespace stage's arguments up to and including `--`; the program
 * (file, argv0, args) follows. Format (see scripts/bash/codex-namespace.c):
 *   [--report-fd N] [--unshare-net] [--probe] [--rw PATH]... [--ro PATH]... --
 */
export function namespaceStageArgs(contract: NamespaceStageContract): string[] {
  const args: string[] = [];
  if (contract.reportFd !== null) args.push("--report-fd", String(contract.reportFd));
  if (contract.unshareNetwork) args.push("--unshare-net");
  for (const root of parentsFirst(contract.writableRoots)) args.push("--rw", root);
  for (const path of parentsFirst(contract.readOnlyPaths)) args.push("--ro", path);
  args.push("--");
  return args;
}

/** Arguments that make the stage only check that every namespace and mount step works here. */
export const NAMESPACE_PROBE_ARGS = ["--unshare-net", "--probe"];
