// `doctor`: checks everything the server needs on this machine and prints a
// verdict per item. Exits non-zero when something blocks serving.
import { defineCommand } from "citty";
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ESCALATE_SOCKET_ENV } from "../escalate/protocol.ts";
import { cacheRoot, resolveBash } from "../exec/bash.ts";
import { ESCALATE_SOCKET_CHILD_FD } from "../exec/run.ts";
import { landlockAbiVersion } from "../ffi/landlock.ts";
import { closeFd, socketPair, SOCK_SEQPACKET } from "../ffi/socket.ts";
import { LINUX_SANDBOX_ARGV0 } from "../sandbox/launcher-args.ts";
import { detectExecMediation, LOST_WITHOUT_EXEC_MEDIATION } from "../sandbox/exec-mediation-support.ts";
import { detectLinuxSandbox, LOST_WITHOUT_NAMESPACES } from "../sandbox/namespaces.ts";
import { describeRulesSource, rulesSources } from "./rules-sources.ts";
import { resolveWrapperPath, WRAPPER_NAME } from "./wrapper-path.ts";

type Verdict = "ok" | "warn" | "FAIL";

interface Finding {
  item: string;
  verdict: Verdict;
  detail: string;
}

function attempt(item: string, check: () => Finding["detail"], onError: Verdict = "FAIL"): Finding {
  try {
    return { item, verdict: "ok", detail: check() };
  } catch (error) {
    return { item, verdict: onError, detail: (error as Error).message };
  }
}

/**
 * A patched Bash runs $BASH_EXEC_WRAPPER instead of the program: with
 * /bin/echo as the wrapper it prints the call. It is given an escalation
 * socket whose server end is closed: our Bash, which asks the server itself,
 * cannot, and falls back to the wrapper (the reference's Bash always uses it).
 */
function checkPatchedBash(bash: string): string {
  const [serverEnd, clientEnd] = socketPair(SOCK_SEQPACKET);
  closeFd(serverEnd);
  let probe: ReturnType<typeof Bun.spawnSync>;
  try {
    const unused = Array.from({ length: ESCALATE_SOCKET_CHILD_FD - 3 }, () => "ignore" as const);
    probe = Bun.spawnSync([bash, "-c", "/bin/true probe"], {
      env: { PATH: "/usr/bin:/bin", BASH_EXEC_WRAPPER: "/bin/echo", EXEC_WRAPPER: "/bin/echo", [ESCALATE_SOCKET_ENV]: String(ESCALATE_SOCKET_CHILD_FD) },
      stdio: ["ignore", "pipe", "pipe", ...unused, clientEnd],
    });
  } finally {
    closeFd(clientEnd);
  }
  const printed = probe.stdout?.toString().trim() ?? "";
  if (printed !== "/bin/true /bin/true probe") {
    throw new Error(`${bash} runs, but does not intercept exec (it is not the patched Bash): got ${JSON.stringify(printed)}`);
  }
  return `${bash} (intercepts every exec)`;
}

/** Runs our own launcher read-only: it must start a program and refuse a write. */
function checkLinuxSandbox(probeDir: string): string {
  const target = join(probeDir, "sandbox-probe");
  const run = Bun.spawnSync(
    [process.execPath, "--", "/bin/sh", "-c", 'touch "$1" 2>/dev/null && echo WRITABLE; grep -q "^Seccomp:[[:space:]]*2" /proc/self/status && echo SECCOMP; echo ran', "_", target],
    { argv0: LINUX_SANDBOX_ARGV0, stderr: "pipe" } as Parameters<typeof Bun.spawnSync>[1] & { argv0: string },
  );
  const out = run.stdout?.toString() ?? "";
  if (run.exitCode !== 0 || !out.includes("ran")) throw new Error(`the launcher failed: ${run.stderr?.toString().trim() || `exit ${run.exitCode}`}`);
  if (out.includes("WRITABLE")) throw new Error("the launcher ran, but a read-only sandbox could still write");
  if (!out.includes("SECCOMP")) throw new Error("the launcher ran, but no seccomp filter was active");
  return "Landlock and seccomp applied by our launcher; a read-only probe could not write";
}

/** The namespace sandbox, as the server would decide it at start; its absence is a warning, naming what is lost. */
export function checkNamespaces(bashPath: string, env: NodeJS.ProcessEnv): Finding {
  const mode = detectLinuxSandbox(bashPath, env);
  if (mode.kind === "namespaces") {
    return {
      item: "namespaces",
      verdict: "ok",
      detail: "user, mount, PID, IPC and network namespaces: / read-only, writable roots bound back, .git/.codex/.agents read-only",
    };
  }
  return {
    item: "namespaces",
    verdict: "warn",
    detail: `unavailable (${mode.reason}); Landlock + seccomp only, so: ${LOST_WITHOUT_NAMESPACES.join("; ")}`,
  };
}

/** Exec mediation, as the server would decide it at start; its absence is a warning. */
export function checkExecMediation(env: NodeJS.ProcessEnv): Finding {
  const support = detectExecMediation(env);
  if (support.available) {
    return { item: "exec-mediation", verdict: "ok", detail: "every execve/execveat of a confined call is judged by the rules (seccomp user notification)" };
  }
  return { item: "exec-mediation", verdict: "warn", detail: `unavailable (${support.reason}): ${LOST_WITHOUT_EXEC_MEDIATION}` };
}

export function runDoctor(args: { bash?: string; execve?: string; allowUnsandboxed: boolean }, env: NodeJS.ProcessEnv): Finding[] {
  const findings: Finding[] = [];
  const cache = cacheRoot(env);
  findings.push(
    attempt("cache directory", () => {
      mkdirSync(cache, { recursive: true, mode: 0o700 });
      accessSync(cache, constants.W_OK);
      const probe = join(cache, `.doctor-${process.pid}`);
      writeFileSync(probe, "");
      rmSync(probe);
      return `${cache} is writable`;
    }),
  );
  findings.push(attempt("wrapper", () => `${resolveWrapperPath(args.execve, env)} (${WRAPPER_NAME})`));
  findings.push(
    attempt("rules", () => {
      const sources = rulesSources(env);
      const summary = sources.map(describeRulesSource).join("; ");
      return sources.every((source) => source.files.length === 0)
        ? `${summary} (every exec runs in the sandbox; dangerous ones prompt)`
        : summary;
    }),
  );
  if (process.platform === "linux") {
    const sandboxVerdict: Verdict = args.allowUnsandboxed ? "warn" : "FAIL";
    findings.push(attempt("landlock", () => `ABI ${landlockAbiVersion()}`, sandboxVerdict));
    findings.push(attempt("sandbox launch", () => checkLinuxSandbox(cache), sandboxVerdict));
    findings.push(checkExecMediation(env));
  } else if (process.platform === "darwin") {
    findings.push(attempt("seatbelt", () => (accessSync("/usr/bin/sandbox-exec", constants.X_OK), "/usr/bin/sandbox-exec present")));
  }
  return findings;
}

export const doctorCommand = defineCommand({
  meta: { name: "doctor", description: "Check the Bash, the sandbox, the cache and the rules on this machine" },
  args: {
    bash: { type: "string", description: "Patched Bash to check (default: as the server would find it)" },
    execve: { type: "string", description: "Wrapper to check (default: as the server would find it)" },
    "allow-unsandboxed": { type: "boolean", description: "Treat a missing sandbox as a warning (degraded mode)" },
  },
  async run({ args }) {
    const findings = runDoctor({ bash: args.bash, execve: args.execve, allowUnsandboxed: args["allow-unsandboxed"] === true }, process.env);
    let bashPath = "";
    try {
      bashPath = await resolveBash({ flag: args.bash, env: process.env });
      findings.unshift(attempt("bash", () => checkPatchedBash(bashPath)));
      if (process.platform === "linux") findings.push(checkNamespaces(bashPath, process.env));
    } catch (error) {
      findings.unshift({ item: "bash", verdict: "FAIL", detail: (error as Error).message });
    }
    const width = Math.max(...findings.map((finding) => finding.item.length));
    for (const { item, verdict, detail } of findings) console.log(`${verdict.padEnd(4)}  ${item.padEnd(width)}  ${detail}`);
    const blocked = findings.some((finding) => finding.verdict === "FAIL");
    console.log(blocked ? "\nverdict: something blocks the server (FAIL above)" : "\nverdict: ready to serve");
    process.exitCode = blocked ? 1 : 0;
  },
});
