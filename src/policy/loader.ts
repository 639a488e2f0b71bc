/**
 * Finding and loading rules files the way the 0.97 exec-server does
 * (policy.md section 2). This is the only module of the policy code that does I/O.
 */

import { type Dirent, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { Policy } from "./policy.ts";
import { applyRulesSource, rustDebugString } from "./rules.ts";
import { StarlarkError } from "./starlark.ts";

/** The system layer's rules directory, always scanned on Unix. */
export const SYSTEM_RULES_DIR = "/etc/codex/rules";

export type Environment = Readonly<Record<string, string | undefined>>;

/** Any failure to locate, read or parse rules; `path`, `line` and `col` are set when known. */
export class RulesLoadError extends Error {
  override readonly name = "RulesLoadError";
  readonly path: string | undefined;
  readonly line: number | undefined;
  readonly col: number | undefined;

  constructor(message: string, location: { path?: string; line?: number; col?: number } = {}) {
    super(message);
    this.path = location.path;
    this.line = location.line;
    this.col = location.col;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

/**
 * `$CODEX_HOME` (which must exist and be a directory, and is canonicalized)
 * or `<home>/.codex` (not checked), as Codex's `find_codex_home`.
 */
export function resolveCodexHome(env: Environment): string {
  const configured = env.CODEX_HOME;
  if (configured !== undefined && configured !== "") {
    const quoted = rustDebugString(configured);
    let isDirectory: boolean;
    try {
      isDirectory = statSync(configured).isDirectory();
    } catch (error) {
      if (errorCode(error) === "ENOENT") throw new RulesLoadError(`CODEX_HOME points to ${quoted}, but that path does not exist`);
      throw new RulesLoadError(`failed to read CODEX_HOME ${quoted}: ${describeError(error)}`);
    }
    if (!isDirectory) throw new RulesLoadError(`CODEX_HOME points to ${quoted}, but that path is not a directory`);
    try {
      return realpathSync(configured);
    } catch (error) {
      throw new RulesLoadError(`failed to canonicalize CODEX_HOME ${quoted}: ${describeError(error)}`);
    }
  }
  return join(homeDirectory(env), ".codex");
}

/** `$HOME`, else the password database, like Rust's `dirs::home_dir`. */
function homeDirectory(env: Environment): string {
  if (env.HOME !== undefined && env.HOME !== "") return env.HOME;
  try {
    const home = userInfo().homedir;
    if (home !== "") return home;
  } catch {
    // Falls through to the reference's error: there is no passwd entry for this user.
  }
  throw new RulesLoadError("Could not find home directory");
}

/**
 * The `*.rules` files of one directory, sorted. Only regular files count (the
 * entry type is not followed, so symlinks are skipped); a missing directory has none.
 */
export function listRulesFiles(directory: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch (error) {
    if (errorCode(error) === "ENOENT") return [];
    throw new RulesLoadError(`failed to read rules files from ${directory}: ${describeError(error)}`, { path: directory });
  }
  return (
    entries
      // Rust's `extension() == "rules"`: the name must have something before the last dot.
      .filter((entry) => entry.isFile() && entry.name.endsWith(".rules") && entry.name.length > ".rules".length)
      .map((entry) => join(directory, entry.name))
      // Rust orders paths by their bytes, which UTF-16 comparison does not always agree with.
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  );
}

/** The files the exec-server loads: `<system dir>/*.rules`, then `$CODEX_HOME/rules/*.rules`. */
export function defaultRulesFiles(env: Environment, systemRulesDir: string = SYSTEM_RULES_DIR): string[] {
  let codexHome: string;
  try {
    codexHome = resolveCodexHome(env);
  } catch (error) {
    throw new RulesLoadError(`failed to resolve codex_home for execpolicy: ${describeError(error)}`);
  }
  return [...listRulesFiles(systemRulesDir), ...listRulesFiles(join(codexHome, "rules"))];
}

export interface LoadOptions {
  /** Told about what loads but is not enforced: once per file that has `network_rule(...)` calls. */
  readonly onWarning?: (message: string) => void;
}

/**
 * Loads files in order into one policy, so rules accumulate and the last
 * `host_executable` definition wins. Any failure aborts the whole load.
 */
export function loadPolicyFromFiles(paths: readonly string[], options: LoadOptions = {}): Policy {
  const policy = new Policy();
  // A byte-order mark is kept, so that it is refused as Codex refuses it.
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  for (const path of paths) {
    let source: string;
    try {
      // Like Rust's read_to_string, invalid UTF-8 is a read error rather than replacement characters.
      source = decoder.decode(readFileSync(path));
    } catch (error) {
      throw new RulesLoadError(`failed to read rules file ${path}: ${describeError(error)}`, { path });
    }
    try {
      const { networkRules } = applyRulesSource(policy, path, source);
      if (networkRules > 0) {
        options.onWarning?.(
          `${path}: ${networkRules} network_rule(...) call(s) checked but not enforced: this server does not filter network traffic by host`,
        );
      }
    } catch (error) {
      if (!(error instanceof StarlarkError)) throw error;
      const { line, col } = error.location;
      throw new RulesLoadError(`failed to parse rules file ${path}: ${error.message}`, { path, line, col });
    }
  }
  return policy;
}

/** What the exec-server does at startup: find the default rules files and load them. */
export function loadDefaultPolicy(env: Environment, systemRulesDir: string = SYSTEM_RULES_DIR, options: LoadOptions = {}): Policy {
  return loadPolicyFromFiles(defaultRulesFiles(env, systemRulesDir), options);
}
