// The MCP escalation policy, the server's decision for one intercepted exec:
// rules and heuristics (policy/), a human's answer when they say `prompt`
// (an elicitation, approval.ts), and escalation
// safety: a program the sandboxed side could have written, swapped or
// configured never runs outside the sandbox, and one that does runs with
// the argv[0] the rules matched and a trusted environment. The same rules and
// questions judge execs by any other program of a confined call (exec
// mediation), which always stay inside.
import { realpathSync } from "node:fs";
import type { ExecMediator, MediatedExec, MediationVerdict } from "../escalate/exec-mediation.ts";
import type { ExecRequest } from "../escalate/protocol.ts";
import type { ResolvedProgram } from "../escalate/program.ts";
import type { ExecDecider, ExecDecision } from "../escalate/server.ts";
import { alwaysAllowCovers, alwaysAllowOffer } from "../policy/amend.ts";
import { escalationEnvironment } from "../policy/escalation-env.ts";
import { evaluateExecPolicy } from "../policy/evaluate.ts";
import { basename, type Policy } from "../policy/policy.ts";
import { preconditionRefusal } from "../policy/preconditions.ts";
import { type SandboxWrites, writableBecause } from "../policy/sandbox-writes.ts";
import { renderCommand } from "../policy/shlex.ts";


export const FORBIDDEN_REASON = "Execution forbidden by policy";
export const DECLINED_REASON = "User declined execution";
export const CANCELLED_REASON = "User cancelled execution";

/** What a human said to an approval question. `unavailable` carries why nobody could be asked. */
export type ApprovalAnswer =
  | { kind: "accept"; alwaysAllow?: boolean }
  | { kind: "decline" }
  | { kind: "cancel" }
  | { kind: "unavailable"; reason: string };

/** "Always allow": prefixes a human approved for good, persisted by the caller. */
export interface AlwaysAllowStore {
  /** The prefixes approved so far (re-read each time: other servers may add some). */
  prefixes(): readonly (readonly string[])[];
  /** Persists `prefix`; a failure is logged by the caller, the approval still counts once. */
  remember(prefix: readonly string[]): void;
}

export interface DecisionContext {
  policy: Policy;
  preserveProgramPaths: boolean;
  /**
   * Real paths the sandboxed side can write, or "everything" when the call has
   * no sandbox (then there is nothing to escalate out of: allowed programs run
   * in place, with the command's own environment).
   */
  sandboxWritableRoots: readonly string[] | "everything";
  /**
   * Real paths beneath the writable roots that the sandbox enforces as
   * read-only (e.g. `.git` bound read-only in its mount namespace). Empty
   * when nothing is enforced (Landlock alone): see SandboxWrites.
   */
  readOnlyEnforced?: readonly string[];
  /** The server's environment as captured at its start: the base of every escalated program's. */
  serverEnv: Readonly<Record<string, string | undefined>>;
  /** Variables passed from the request to escalated programs as they are, by the user's choice (`--escalation-env`). */
  escalationEnvNames?: readonly string[];
  /** `offer`: the prefix the human may allow from now on, when one is safe to offer. */
  ask: (message: string, offer: readonly string[] | null) => Promise<ApprovalAnswer>;
  log: (message: string) => void;
  alwaysAllow?: AlwaysAllowStore;
}

/** The text of an approval question, as the reference words it. */
export function approvalMessage(file: string, argv: readonly string[], workdir: string): string {
  return `Allow agent to run \`${renderCommand(file, argv)}\` in \`${workdir}\`?`;
}

/**
 * Why `program` must not run outside the sandbox, or null: it did not resolve
 * to a file, or the sandbox could write (and so replace) the requested path,
 * a symbolic link followed on the way, or the file it ends on.
 */
export function programRefusal(program: ResolvedProgram, writes: SandboxWrites): string | null {
  if (program.real === null) return `cannot resolve ${program.requested}: ${program.unresolved ?? "unknown"}`;
  for (const path of [...program.links, program.real]) {
    const why = writableBecause(writes, path);
    if (why !== null) return why;
  }
  return null;
}

/** The rules' verdict on one command (with the human's, when they say `prompt`), before where it runs. */
type Judgement = { kind: "refused"; reason: string } | { kind: "allowed"; requireEscalated: boolean };

/** `shownFile`: the program as the human is shown it (the file that would run). */
async function judge(context: DecisionContext, request: { file: string; argv: readonly string[]; workdir: string }, shownFile: string): Promise<Judgement> {
  const outcome = evaluateExecPolicy(context.policy, {
    file: request.file,
    argv: request.argv,
    preserveProgramPaths: context.preserveProgramPaths,
  });
  if (outcome.decision === "forbidden") return { kind: "refused", reason: FORBIDDEN_REASON };
  if (outcome.decision === "prompt") {
    const command = [context.preserveProgramPaths ? request.file : basename(request.file), ...request.argv.slice(1)];
    // Only offered (and so only ever stored) for prefixes of commands that are not dangerous.
    const store = context.alwaysAllow;
    const offer = store === undefined ? null : alwaysAllowOffer(command);
    if (store === undefined || !alwaysAllowCovers(command, store.prefixes())) {
      const answer = await context.ask(approvalMessage(shownFile, request.argv, request.workdir), offer);
      if (answer.kind === "decline") return { kind: "refused", reason: DECLINED_REASON };
      if (answer.kind === "cancel") return { kind: "refused", reason: CANCELLED_REASON };
      if (answer.kind === "unavailable") return { kind: "refused", reason: answer.reason };
      if (answer.alwaysAllow === true && offer !== null) store?.remember(offer);
    }
  }
  return { kind: "allowed", requireEscalated: outcome.requireEscalated };
}

/**
 * The verdict on an exec by any program of a confined call (exec mediation):
 * the same rules, heuristics and questions as for Bash's execs, but it always
 * runs where it is, in the sandbox: escalation stays Bash's path, whose
 * request the server holds whole, where this exec's arguments stay in the
 * process's memory.
 */
export function createExecMediator(context: DecisionContext): ExecMediator {
  return async (exec: MediatedExec): Promise<MediationVerdict> => {
    const judged = await judge(context, exec, exec.real);
    return judged.kind === "refused" ? { kind: "refuse", reason: judged.reason } : { kind: "continue" };
  };
}

export function createExecDecider(context: DecisionContext): ExecDecider {
  const writes: SandboxWrites = { roots: context.sandboxWritableRoots, readOnlyEnforced: context.readOnlyEnforced ?? [] };

  /** How the program runs outside, or why it runs inside instead. */
  const escalation = (request: ExecRequest, program: ResolvedProgram): ExecDecision | { refused: string } => {
    const programRefused = programRefusal(program, writes);
    if (programRefused !== null) return { refused: programRefused };
    // Checked and run as a real path: a link in the request's path swapped later changes nothing.
    let workdir: string;
    try {
      workdir = realpathSync(request.workdir);
    } catch (error) {
      return { refused: `cannot resolve the working directory ${request.workdir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
    }
    // The name the rules matched: the sandbox's argv[0] (`exec -a git-clone git`) never reaches the program.
    const argv0 = context.preserveProgramPaths ? request.file : basename(request.file);
    const env = escalationEnvironment({
      serverEnv: context.serverEnv,
      requestEnv: request.env,
      passedByUser: context.escalationEnvNames ?? [],
      workdir,
    });
    const names = [basename(request.file), basename(program.real ?? request.file)];
    const refused = preconditionRefusal(names, { argv: [argv0, ...request.argv.slice(1)], workdir, env, writes });
    return refused === null ? { kind: "escalate", argv0, env, workdir } : { refused };
  };

  return async (request: ExecRequest, program: ResolvedProgram): Promise<ExecDecision> => {
    // The human is shown the file that would run, not the name it was asked for by.
    const judged = await judge(context, request, program.real ?? request.file);
    if (judged.kind === "refused") return { kind: "deny", reason: judged.reason };
    if (!judged.requireEscalated || writes.roots === "everything") return { kind: "run" };
    // Checked after the answer, as close as possible to the start.
    const decided = escalation(request, program);
    if (!("refused" in decided)) return decided;
    context.log(`not escalating ${request.file} (a rule allows it): ${decided.refused}; it runs inside the sandbox`);
    return { kind: "run" };
  };
}
