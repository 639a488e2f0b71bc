// macOS Seatbelt profile for the confined policies, run as
// `/usr/bin/sandbox-exec -p <profile> -D<KEY>=<path>... -- <command>`.
// Paths travel as -D parameters, never inside the profile text, so no quoting
// of user paths into SBPL is needed. Not executed on the Linux machines this
// project is tested on: only the text and the arguments are unit-tested.

/** What a confined call may do: the call's sandbox, computed once (launch.ts callSandbox), paths resolved. */
export interface SeatbeltSandbox {
  writableRoots: readonly string[];
  /** Kept read-only beneath the writable roots. */
  readOnlyPaths: readonly string[];
  allowNetwork: boolean;
}

function isBeneath(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

/** Only this copy: one earlier on PATH could be anything. */
export const SANDBOX_EXEC_PATH = "/usr/bin/sandbox-exec";

const BASE_PROFILE = `(version 1)

; Nothing is allowed unless granted below.
(deny default)

; Commands start commands; children inherit this profile.
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))

; Preferences, user lookups (getpwuid) and POSIX semaphores (Python multiprocessing).
(allow user-preference-read)
(allow mach-lookup (global-name "com.apple.system.opendirectoryd.libinfo"))
(allow ipc-posix-sem)

; Hardware and OS facts that runtimes query at start-up.
(allow sysctl-read
  (sysctl-name-prefix "hw.")
  (sysctl-name "machdep.cpu.brand_string")
  (sysctl-name "kern.argmax")
  (sysctl-name "kern.hostname")
  (sysctl-name "kern.maxfilesperproc")
  (sysctl-name "kern.maxproc")
  (sysctl-name "kern.osproductversion")
  (sysctl-name "kern.osrelease")
  (sysctl-name "kern.ostype")
  (sysctl-name "kern.osvariant_status")
  (sysctl-name "kern.osversion")
  (sysctl-name "kern.secure_kernel")
  (sysctl-name "kern.usrstack64")
  (sysctl-name "kern.version")
  (sysctl-name "sysctl.proc_cputype")
  (sysctl-name "vm.loadavg")
  (sysctl-name-prefix "kern.proc.pgrp.")
  (sysctl-name-prefix "kern.proc.pid."))

; Discarding output is always fine.
(allow file-write-data (require-all (literal "/dev/null") (vnode-type CHARACTER-DEVICE)))

; Pseudo-terminals for programs that open one.
(allow pseudo-tty)
(allow file-read* file-write* file-ioctl (literal "/dev/ptmx"))

; The whole filesystem is readable.
(allow file-read*)
`;

const NETWORK_PROFILE = `
; Network enabled by the policy.
(allow network-outbound)
(allow network-inbound)
(allow system-socket)
(allow mach-lookup
  (global-name "com.apple.bsd.dirhelper")
  (global-name "com.apple.system.opendirectoryd.membership")
  (global-name "com.apple.SecurityServer")
  (global-name "com.apple.networkd")
  (global-name "com.apple.ocspd")
  (global-name "com.apple.trustd.agent")
  (global-name "com.apple.SystemConfiguration.DNSConfiguration")
  (global-name "com.apple.SystemConfiguration.configd"))
(allow sysctl-read (sysctl-name-regex #"^net.routetable"))
`;

export interface SeatbeltProfile {
  profile: string;
  /** `-D` parameters, in order: WRITABLE_ROOT_<n> and its WRITABLE_ROOT_<n>_RO_<m>. */
  params: Array<[string, string]>;
}

// Seatbelt matches resolved paths (/tmp is /private/tmp, /var is /private/var):
// the call's sandbox holds real paths already.
export function seatbeltProfile(sandbox: SeatbeltSandbox): SeatbeltProfile {
  const params: Array<[string, string]> = [];
  const writeRules = sandbox.writableRoots.map((root, index) => {
    const rootKey = `WRITABLE_ROOT_${index}`;
    params.push([rootKey, root]);
    const exclusions = sandbox.readOnlyPaths.filter((path) => isBeneath(path, root)).map((subpath, subIndex) => {
      const key = `${rootKey}_RO_${subIndex}`;
      params.push([key, subpath]);
      return ` (require-not (subpath (param "${key}")))`;
    });
    const beneathRoot = `(subpath (param "${rootKey}"))`;
    return exclusions.length === 0 ? beneathRoot : `(require-all ${beneathRoot}${exclusions.join("")})`;
  });
  let profile = BASE_PROFILE;
  if (writeRules.length > 0) {
    // .git and .codex stay read-only under each root (the reference's protected subpaths).
    profile += `\n; Writable roots, minus protected subpaths.\n(allow file-write*\n  ${writeRules.join("\n  ")})\n`;
  }
  if (sandbox.allowNetwork) profile += NETWORK_PROFILE;
  return { profile, params };
}

/** The arguments for SANDBOX_EXEC_PATH running `command` in `sandbox`. */
export function seatbeltArgs(sandbox: SeatbeltSandbox, command: readonly string[]): string[] {
  const { profile, params } = seatbeltProfile(sandbox);
  return ["-p", profile, ...params.map(([key, value]) => `-D${key}=${value}`), "--", ...command];
}
