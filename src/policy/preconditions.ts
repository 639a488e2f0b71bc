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
import { existsSync, lstatSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
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

/**
 * A git directory's config and hooks, then those of its common directory (a
 * linked worktree's). Files are read only once the sandbox is known not to
 * have written them: one it wrote could be a FIFO that never answers.
 */
function gitDirRefusal(writes: SandboxWrites, gitDir: string): string | null {
  const own = firstRefusal(writes, gitDirParts(gitDir));
  if (own !== null) return own;
  let common: string;
  try {
    common = resolve(gitDir, readFileSync(join(gitDir, "commondir"), "utf8").trim());
  } catch {
    return null; // Not a linked worktree.
  }
  return firstRefusal(writes, [join(gitDir, "commondir"), ...gitDirParts(common)]);
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
function discoveredRepositoryRefusal(writes: SandboxWrites, start: string): string | null {
  for (let dir = start; ; dir = dirname(dir)) {
    const dotGit = join(dir, ".git");
    if (lexists(dotGit)) {
      const entry = writableEitherWay(writes, dotGit);
      if (entry !== null) return entry;
      if (!lstatSync(dotGit).isFile()) return gitDirRefusal(writes, realpathSync(dotGit));
      const pointed = GITDIR_LINE.exec(readFileSync(dotGit, "utf8"))?.[1];
      if (pointed === undefined) return `${dotGit} has no gitdir: line`;
      return gitDirRefusal(writes, resolve(dir, pointed));
    }
    if (existsSync(join(dir, "HEAD")) && existsSync(join(dir, "objects")) && existsSync(join(dir, "refs"))) return gitDirRefusal(writes, dir);
    // Nothing here now, but the sandbox could put a repository here before git looks.
    const plantable = writableBecause(writes, dir);
    if (plantable !== null) return `no protected repository between ${start} and ${dir}, and ${plantable}`;
    if (dir === "/") return null;
  }
}

function gitRefusal({ argv, workdir, env, writes }: PreconditionInput): string | null {
  const globals = firstRefusal(writes, gitGlobalConfigs(env));
  if (globals !== null) return globals;
  const { cwd, gitDir } = gitStart(argv, workdir, env);
  if (gitDir !== undefined) return gitDirRefusal(writes, gitDir);
  let start: string;
  try {
    start = realpathSync(cwd);
  } catch {
    return `cannot resolve git's working directory ${cwd}`;
  }
  try {
    return discoveredRepositoryRefusal(writes, start);
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
