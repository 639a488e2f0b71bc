// Which file an intercepted exec would run, worked out the way the kernel
// walks a path (component by component, every symbolic link followed), and
// held open from then on. The decision is made about this file, the human is
// asked about it, and the escalation executes this very descriptor: a link
// swapped during the question cannot redirect it.
import { fstatSync, lstatSync, readlinkSync, type Stats } from "node:fs";
import { resolve } from "node:path";
import { closeFd } from "../ffi/socket.ts";
import { openPathNoFollow } from "../ffi/file.ts";

/** Symbolic links followed in one path at most, as Linux allows (MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;
/** Longest path execve accepts (PATH_MAX, NUL included). */
const MAX_PATH_BYTES = 4096;
/**
 * Components looked at in one walk at most: far more than any real path
 * needs, and a bound on the lstat calls a hostile request (40 links of 4 KiB
 * of `a/../`) can make the server do.
 */
const MAX_WALK_STEPS = 4096;

export interface ResolvedProgram {
  /** The request's `file` made absolute against its workdir (lexically): the path the rules match. */
  requested: string;
  /**
   * Every symbolic link followed on the way, in order, each named by the real
   * directory holding it (a link to a directory counts as much as the last one).
   */
  links: string[];
  /** The regular file the walk ended on (no symbolic link in it), or null when there is none. */
  real: string | null;
  /** Why `real` is null. */
  unresolved: string | null;
}

/** A resolved program and, when it could be held, a descriptor for it (the caller closes it). */
export interface HeldProgram {
  program: ResolvedProgram;
  fd: number | null;
}

function components(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

function parentOf(dir: string): string {
  const cut = dir.lastIndexOf("/");
  return cut <= 0 ? "/" : dir.slice(0, cut);
}

function joinReal(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === "string" ? code : String(error);
}

type Walk = { links: string[]; real: string; stats: Stats } | { links: string[]; unresolved: string };

/** Walks `path` as path resolution does, never trusting a string we did not check with lstat. */
function walk(path: string): Walk {
  const links: string[] = [];
  let pending = components(path);
  let dir = "/";
  let stats = lstatSync("/");
  for (let steps = 0; pending.length > 0; steps++) {
    if (steps >= MAX_WALK_STEPS) return { links, unresolved: `${path}: more than ${MAX_WALK_STEPS} path components` };
    const name = pending.shift()!;
    if (name === "..") {
      dir = parentOf(dir);
      stats = lstatSync(dir);
      continue;
    }
    const candidate = joinReal(dir, name);
    try {
      stats = lstatSync(candidate);
      if (stats.isSymbolicLink()) {
        if (links.length >= MAX_LINK_HOPS) return { links, unresolved: `${path}: more than ${MAX_LINK_HOPS} symbolic links (ELOOP)` };
        links.push(candidate);
        const target = readlinkSync(candidate);
        if (target.startsWith("/")) dir = "/";
        pending = [...components(target), ...pending];
        continue;
      }
    } catch (error) {
      return { links, unresolved: `${candidate}: ${errorCode(error)}` };
    }
    if (pending.length > 0 && !stats.isDirectory()) return { links, unresolved: `${candidate}: not a directory (ENOTDIR)` };
    dir = candidate;
  }
  return { links, real: dir, stats };
}

/**
 * Resolves `file` (relative ones against `workdir`) and holds the file it
 * names open (O_PATH, Linux), checking that the descriptor is the file the
 * walk found. Never throws: what cannot be resolved comes back with why.
 */
export function holdProgram(workdir: string, file: string): HeldProgram {
  const requested = resolve(workdir, file);
  const path = file.startsWith("/") ? file : `${workdir}/${file}`;
  if (Buffer.byteLength(path) >= MAX_PATH_BYTES) return { program: { requested, links: [], real: null, unresolved: `${file}: path too long (ENAMETOOLONG)` }, fd: null };
  let walked: Walk;
  try {
    walked = walk(path);
  } catch (error) {
    walked = { links: [], unresolved: `${workdir}: ${errorCode(error)}` };
  }
  if (!("real" in walked)) return { program: { requested, links: walked.links, real: null, unresolved: walked.unresolved }, fd: null };
  const unresolved = (why: string): HeldProgram => ({ program: { requested, links: walked.links, real: null, unresolved: why }, fd: null });
  if (!walked.stats.isFile()) return unresolved(`${walked.real} is not a regular file`);
  const program: ResolvedProgram = { requested, links: walked.links, real: walked.real, unresolved: null };
  if (process.platform !== "linux") return { program, fd: null };
  let fd: number;
  try {
    fd = openPathNoFollow(walked.real);
  } catch (error) {
    return unresolved(`cannot open ${walked.real}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let held: Stats;
  try {
    held = fstatSync(fd);
  } catch (error) {
    closeFd(fd);
    return unresolved(`cannot stat ${walked.real}: ${errorCode(error)}`);
  }
  if (held.dev !== walked.stats.dev || held.ino !== walked.stats.ino || !held.isFile()) {
    closeFd(fd);
    return unresolved(`${walked.real} changed while it was being resolved`);
  }
  return { program, fd };
}
