// Which rules directories the server reads and what is in them, for the
// startup log and `doctor`. Codex does not pass CODEX_HOME on to MCP servers
// unless its config says `env_vars = ["CODEX_HOME"]`, so saying which
// directory was read (and why) is how a user finds rules that were missed.
import { join } from "node:path";
import { listRulesFiles, loadPolicyFromFiles, resolveCodexHome, SYSTEM_RULES_DIR, type Environment } from "../policy/index.ts";

export interface RulesSource {
  directory: string;
  /** Why this directory: the system layer, $CODEX_HOME, or the ~/.codex default. */
  origin: string;
  files: string[];
  rules: number;
}

/** The directories the server loads rules from, in load order. Throws RulesLoadError like the loader. */
export function rulesSources(env: Environment, systemRulesDir: string = SYSTEM_RULES_DIR): RulesSource[] {
  const codexHomeSet = env.CODEX_HOME !== undefined && env.CODEX_HOME !== "";
  const sources = [
    { directory: systemRulesDir, origin: "system" },
    { directory: join(resolveCodexHome(env), "rules"), origin: codexHomeSet ? "$CODEX_HOME" : "~/.codex (CODEX_HOME is not set)" },
  ];
  return sources.map(({ directory, origin }) => {
    const files = listRulesFiles(directory);
    return { directory, origin, files, rules: loadPolicyFromFiles(files).ruleCount };
  });
}

/** One line per directory: `<dir> (<origin>): N rules in M files` or `... : no .rules files`. */
export function describeRulesSource(source: RulesSource): string {
  const content = source.files.length === 0 ? "no .rules files" : `${source.rules} rule(s) in ${source.files.length} file(s)`;
  return `${source.directory} (${source.origin}): ${content}`;
}
