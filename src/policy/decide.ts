// The server's decision for one intercepted exec: rules and heuristics
// (evaluate.ts), a human's answer when they say `prompt`, and escalation
// safety: a program the sandboxed side could have written or swapped never
// runs outside the sandbox.
import { realpathSync } from "node:fs";
import type { ExecRequest } from "../escalate/protocol.ts";
import type { ExecDecider, ExecDecision } from "../escalate/server.ts";
import { alwaysAllowCovers, alwaysAllowOffer } from "./amend.ts";
import { evaluateExecPolicy } from "./evaluate.ts";
import { basename, type Policy } from "./policy.ts";
import { shlexTryJoin } from "./shlex.ts";

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
   * no sandbox (then escalating changes nothing and is always allowed).
   */
  sandboxWritableRoots: readonly string[] | "everything";
  /** `offer`: the prefix the human may allow from now on, when one is safe to offer. */
  ask: (message: string, offer: readonly string[] | null) => Promise<ApprovalAnswer>;
  log: (message: string) => void;
  alwaysAllow?: AlwaysAllowStore;
}

/** The text of an approval question, as the reference words it. */
export function approvalMessage(file: string, argv: readonly string[], workdir: string): string {
  const args = argv.slice(1);
  const rendered = args.length === 0 ? file : `${file} ${shlexTryJoin(args) ?? args.join(" ")}`;
  return `Allow agent to run \`${rendered}\` in \`${workdir}\`?`;
}

/** Writable roots as real paths (a root that does not exist yet stays as given). */
export function realRoots(roots: readonly string[]): string[] {
  return roots.map((root) => {
    try {
      return realpathSync(root);
    } catch {
      return root;
    }
  });
}

function isBeneath(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(`${root}/`);
}

/**
 * Where an escalation may run from: the program's real path when neither it
 * nor any directory above it is writable by the sandbox, else null with why.
 * Escalating the resolved path (not the request's) means a symlink swapped
 * after this check cannot redirect the escalation.
 */
export function safeEscalationTarget(file: string, writableRoots: readonly string[]): { path: string } | { refused: string } {
  let real: string;
  try {
    real = realpathSync(file);
  } catch (error) {
    return { refused: `cannot resolve ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  }
  const root = writableRoots.find((candidate) => isBeneath(real, candidate));
  return root === undefined ? { path: real } : { refused: `${real} is inside ${root}, which the sandbox can write` };
}

export function createExecDecider(context: DecisionContext): ExecDecider {
  return async (request: ExecRequest): Promise<ExecDecision> => {
    const outcome = evaluateExecPolicy(context.policy, {
      file: request.file,
      argv: request.argv,
      preserveProgramPaths: context.preserveProgramPaths,
    });
    if (outcome.decision === "forbidden") return { kind: "deny", reason: FORBIDDEN_REASON };
    if (outcome.decision === "prompt") {
      const command = [context.preserveProgramPaths ? request.file : basename(request.file), ...request.argv.slice(1)];
      // Only offered (and so only ever stored) for prefixes of commands that are not dangerous.
      const store = context.alwaysAllow;
      const offer = store === undefined ? null : alwaysAllowOffer(command);
      if (store === undefined || !alwaysAllowCovers(command, store.prefixes())) {
        const answer = await context.ask(approvalMessage(request.file, request.argv, request.workdir), offer);
        if (answer.kind === "decline") return { kind: "deny", reason: DECLINED_REASON };
        if (answer.kind === "cancel") return { kind: "deny", reason: CANCELLED_REASON };
        if (answer.kind === "unavailable") return { kind: "deny", reason: answer.reason };
        if (answer.alwaysAllow === true && offer !== null) store?.remember(offer);
      }
    }
    if (!outcome.requireEscalated) return { kind: "run" };
    if (context.sandboxWritableRoots === "everything") return { kind: "escalate", file: request.file };
    const target = safeEscalationTarget(request.file, context.sandboxWritableRoots);
    if ("path" in target) return { kind: "escalate", file: target.path };
    context.log(`not escalating ${request.file} (a rule allows it): ${target.refused}; it runs inside the sandbox`);
    return { kind: "run" };
  };
}
