// "Always allow" for the server: where approved prefixes are saved
// ($CODEX_HOME/rules/default.rules, in Codex's own line format, under flock so
// several servers can share it), and which saved prefixes a call may trust.
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { lockExclusive } from "../ffi/flock.ts";
import type { AlwaysAllowStore } from "./escalation-policy.ts";
import { appendAllowPrefixRule, type Policy, readAlwaysAllowPrefixes, resolveCodexHome } from "../policy/index.ts";

export const ALWAYS_ALLOW_RULES_FILE = "default.rules";

/** `$CODEX_HOME/rules/default.rules`, where Codex itself saves approved prefixes. */
export function alwaysAllowRulesPath(env: Readonly<Record<string, string | undefined>>): string {
  return join(resolveCodexHome(env), "rules", ALWAYS_ALLOW_RULES_FILE);
}

function isBeneath(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(`${root}/`);
}

/** The real path of `path`, or of its nearest existing ancestor joined with the rest. */
function realLocation(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realLocation(parent), path.slice(parent.length + 1));
  }
}

export class AlwaysAllow {
  /** Prefixes this server saved itself: trusted whatever can write the file. */
  private readonly remembered: string[][] = [];

  constructor(
    private readonly rulesPath: string,
    private readonly policy: Policy,
    private readonly log: (message: string) => void,
  ) {}

  /**
   * The store one call uses. The saved file is re-read at each question (other
   * servers append to it too), but only trusted when this call's sandbox cannot
   * write it: otherwise a command could approve its own next prompt.
   */
  forCall(sandboxWritableRoots: readonly string[] | "everything"): AlwaysAllowStore {
    return {
      prefixes: () => {
        const location = realLocation(this.rulesPath);
        const writable = sandboxWritableRoots === "everything" || sandboxWritableRoots.some((root) => isBeneath(location, root));
        return writable ? this.remembered : [...this.remembered, ...readAlwaysAllowPrefixes(this.rulesPath)];
      },
      remember: (prefix) => {
        this.remembered.push([...prefix]);
        this.policy.addPrefixRule(prefix, "allow");
        try {
          appendAllowPrefixRule(this.rulesPath, prefix, lockExclusive);
          this.log(`always allow: saved prefix_rule for \`${prefix.join(" ")}\` to ${this.rulesPath}`);
        } catch (error) {
          this.log(`always allow: \`${prefix.join(" ")}\` is allowed until the server stops, but could not be saved: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
    };
  }
}
