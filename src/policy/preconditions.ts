// Per-program conditions for escalating, for what the kernel sandbox cannot
// cover: a program run outside reads configuration, and some configuration
// runs code (git's core.fsmonitor, hooks, aliases). If the sandboxed side can
// write that configuration, escalating the program hands it the keys; the
// program then runs inside the sandbox instead.
//
// To add a program: one entry below, with the names it is run by and a
// function returning why it must not run outside now (or null). The input is
// what will run: the argv with the argv[0] we chose, the environment we give
// it (never the request's), the workdir, and what the sandbox can write.
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { gitlinkPaths } from "./git-index.ts";
import { type SandboxWrites, writableBecause } from "./sandbox-writes.ts";

export interface PreconditionInput {
  argv: readonly string[];
  workdir: string;
  env: Readonly<Record<string, string>>;
  writes: SandboxWrites;
}

export interface EscalationPrecondition {
  /** Program names (the last path component, of the requested path or of the file it resolves to). */
  programs: readonly string[];
  /** Why the program must run inside the sandbox this time, or null. */
  refusal: (input: PreconditionInput) => string | null;
}

/** `path`, or the file it names once symbolic links are followed, writable by the sandbox: why; else null. */
function writableEitherWay(writes: SandboxWrites, path: string): string | null {
  const direct = writableBecause(writes, path);
  if (direct !== null) return direct;
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return null; // Missing, in a directory the sandbox cannot write: it cannot appear.
  }
  return real === path ? null : writableBecause(writes, real);
}

function firstRefusal(writes: SandboxWrites, paths: readonly string[]): string | null {
  for (const path of paths) {
    const why = writableEitherWay(writes, path);
    if (why !== null) return why;
  }
  return null;
}

// Git options that come before the subcommand and take the next argument.
const GIT_OPTIONS_WITH_VALUE = new Set(["-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix"]);

/** Where git starts its search (`-C` applied) and the git directory it was told to use, if any. */
function gitStart(argv: readonly string[], workdir: string, env: Readonly<Record<string, string>>): { cwd: string; gitDir: string | undefined } {
  let cwd = workdir;
  let gitDir = env.GIT_DIR;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith("--git-dir=")) gitDir = arg.slice("--git-dir=".length);
    else if (!arg.startsWith("-")) break;
    else if (GIT_OPTIONS_WITH_VALUE.has(arg)) {
      const value = argv[++i];
      if (arg === "-C" && value !== undefined && value !== "") cwd = resolve(cwd, value);
      if (arg === "--git-dir" && value !== undefined) gitDir = value;
    }
  }
  return { cwd, gitDir: gitDir === undefined ? undefined : resolve(cwd, gitDir) };
}

/** Configuration files git reads besides the repository's own, as the environment we give it names them. */
function gitGlobalConfigs(env: Readonly<Record<string, string>>): string[] {
  const files: string[] = [];
  if (env.GIT_CONFIG_GLOBAL !== undefined) files.push(env.GIT_CONFIG_GLOBAL);
  else {
    const configHome = env.XDG_CONFIG_HOME || (env.HOME ? join(env.HOME, ".config") : undefined);
    if (configHome !== undefined) files.push(join(configHome, "git/config"));
    if (env.HOME) files.push(join(env.HOME, ".gitconfig"));
  }
  if (env.GIT_CONFIG_NOSYSTEM === undefined) files.push(env.GIT_CONFIG_SYSTEM ?? "/etc/gitconfig");
  return files.filter((file) => file.startsWith("/"));
}

/** The parts of a git directory that decide what runs. */
function gitDirParts(dir: string): string[] {
  return [dir, join(dir, "config"), join(dir, "config.worktree"), join(dir, "hooks")];
}

/** What the git checks share: what the sandbox writes, the environment git gets, its global configuration files. */
interface GitCheck {
  writes: SandboxWrites;
  env: Readonly<Record<string, string>>;
  globalConfigs: readonly string[];
}

const SECTION_LINE = /^\s*\[\s*([A-Za-z0-9.-]+)\s*(?:"[^"]*")?\s*\]\s*(.*)$/;
const HOOKS_PATH_LINE = /^\s*hookspath\s*=\s*(.*?)\s*$/i;

/**
 * Every `core.hooksPath` set in `text` (a git config file), unquoted. A
 * simple reading: `include` directives are not followed.
 */
function hooksPaths(text: string): string[] {
  const found: string[] = [];
  let section = "";
  for (let line of text.split("\n")) {
    const header = SECTION_LINE.exec(line);
    if (header !== null) {
      section = header[1]!.toLowerCase();
      line = header[2] ?? "";
    }
    const value = section === "core" ? HOOKS_PATH_LINE.exec(line)?.[1] : undefined;
    if (value !== undefined && value !== "") found.push(value.replace(/^"(.*)"$/, "$1"));
  }
  return found;
}

/**
 * The hook directories the configuration names (`core.hooksPath`, e.g. a
 * husky `.husky/_` in the work tree): git runs what is there. Relative ones
 * are taken from the work tree's top level, as git runs hooks there.
 */
function hooksPathRefusal(check: GitCheck, configs: readonly string[], topLevel: string): string | null {
  for (const config of configs) {
    let text: string;
    try {
      text = readFileSync(config, "utf8");
    } catch {
      continue;
    }
    for (const raw of hooksPaths(text)) {
      const path = raw.startsWith("~/") && check.env.HOME ? join(check.env.HOME, raw.slice(2)) : resolve(topLevel, raw);
      const why = writableEitherWay(check.writes, path);
      if (why !== null) return `core.hooksPath in ${config} names ${path}: ${why}`;
    }
  }
  return null;
}

/**
 * A git directory's config and hooks, then those of its common directory (a
 * linked worktree's), then the hook directories the configuration names.
 * Files are read only once the sandbox is known not to have written them:
 * one it wrote could be a FIFO that never answers.
 */
function gitDirRefusal(check: GitCheck, gitDir: string, topLevel: string): string | null {
  const own = firstRefusal(check.writes, gitDirParts(gitDir));
  if (own !== null) return own;
  const dirs = [gitDir];
  try {
    dirs.push(resolve(gitDir, readFileSync(join(gitDir, "commondir"), "utf8").trim()));
  } catch {
    // Not a linked worktree.
  }
  const common = dirs[1];
  if (common !== undefined) {
    const commonRefused = firstRefusal(check.writes, [join(gitDir, "commondir"), ...gitDirParts(common)]);
    if (commonRefused !== null) return commonRefused;
  }
  const configs = [...dirs.flatMap((dir) => [join(dir, "config"), join(dir, "config.worktree")]), ...check.globalConfigs];
  return hooksPathRefusal(check, configs, topLevel) ?? submoduleRefusal(check, gitDir, common ?? gitDir, topLevel);
}

const SHA256_FORMAT_LINE = /^\s*objectformat\s*=\s*"?sha256"?\s*$/im;

/**
 * Submodules (gitlinks in the index, the shared index of a split one
 * included) whose `.git` the sandbox could replace in the work tree: git
 * recurses into them and obeys the git directory found there.
 */
function submoduleRefusal(check: GitCheck, gitDir: string, commonDir: string, topLevel: string): string | null {
  let hashBytes = 20;
  try {
    if (SHA256_FORMAT_LINE.test(readFileSync(join(commonDir, "config"), "utf8"))) hashBytes = 32;
  } catch {
    // No config: the default format.
  }
  const indexes = ["index", ...readdirSync(gitDir).filter((name) => name.startsWith("sharedindex."))];
  for (const name of indexes) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(join(gitDir, name));
    } catch {
      continue; // No index yet: no submodules.
    }
    for (const path of gitlinkPaths(bytes, hashBytes)) {
      const why = writableEitherWay(check.writes, join(topLevel, path, ".git"));
      if (why !== null) return `submodule ${path}: ${why}, and git would obey the git directory found there`;
    }
  }
  return null;
}

const GITDIR_LINE = /^gitdir:\s*(.+?)\s*$/m;

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What git finds from `start` upward, checked; null when nothing the sandbox wrote could be used. */
function discoveredRepositoryRefusal(check: GitCheck, start: string): string | null {
  for (let dir = start; ; dir = dirname(dir)) {
    const dotGit = join(dir, ".git");
    if (lexists(dotGit)) {
      const entry = writableEitherWay(check.writes, dotGit);
      if (entry !== null) return entry;
      if (!lstatSync(dotGit).isFile()) return gitDirRefusal(check, realpathSync(dotGit), dir);
      const pointed = GITDIR_LINE.exec(readFileSync(dotGit, "utf8"))?.[1];
      if (pointed === undefined) return `${dotGit} has no gitdir: line`;
      return gitDirRefusal(check, resolve(dir, pointed), dir);
    }
    if (existsSync(join(dir, "HEAD")) && existsSync(join(dir, "objects")) && existsSync(join(dir, "refs"))) return gitDirRefusal(check, dir, dir);
    // Nothing here now, but the sandbox could put a repository here before git looks.
    const plantable = writableBecause(check.writes, dir);
    if (plantable !== null) return `no protected repository between ${start} and ${dir}, and ${plantable}`;
    if (dir === "/") return null;
  }
}

function gitRefusal({ argv, workdir, env, writes }: PreconditionInput): string | null {
  const check: GitCheck = { writes, env, globalConfigs: gitGlobalConfigs(env) };
  const globals = firstRefusal(writes, check.globalConfigs);
  if (globals !== null) return globals;
  const { cwd, gitDir } = gitStart(argv, workdir, env);
  let start: string;
  try {
    start = realpathSync(cwd);
  } catch {
    return `cannot resolve git's working directory ${cwd}`;
  }
  try {
    return gitDir !== undefined ? gitDirRefusal(check, gitDir, start) : discoveredRepositoryRefusal(check, start);
  } catch (error) {
    return `cannot inspect the repository above ${start}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
}

export const ESCALATION_PRECONDITIONS: readonly EscalationPrecondition[] = [{ programs: ["git"], refusal: gitRefusal }];

/** The first precondition refusal for a program known by `names`, or null. */
export function preconditionRefusal(names: readonly string[], input: PreconditionInput): string | null {
  for (const precondition of ESCALATION_PRECONDITIONS) {
    if (!precondition.programs.some((program) => names.includes(program))) continue;
    const why = precondition.refusal(input);
    if (why !== null) return why;
  }
  return null;
}
