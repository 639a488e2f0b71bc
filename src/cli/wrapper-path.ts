// Where the exec wrapper is: `--execve`, else `codex-execve-wrapper` beside the
// running binary, else a symlink to ourselves that we keep in the cache, so a
// lone downloaded binary works with no set-up at all.
import { existsSync, mkdirSync, readlinkSync, renameSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { cacheRoot } from "../exec/bash.ts";

export const WRAPPER_NAME = "codex-execve-wrapper";

export function resolveWrapperPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined && flag !== "") return flag;
  const sibling = join(dirname(process.execPath), WRAPPER_NAME);
  if (existsSync(sibling)) return sibling;
  const dir = join(cacheRoot(env), "bin");
  const link = join(dir, WRAPPER_NAME);
  try {
    if (readlinkSync(link) === process.execPath) return link;
  } catch {
    // Missing or not a link: (re)create it below.
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temporary = `${link}.${process.pid}`;
  symlinkSync(process.execPath, temporary);
  renameSync(temporary, link);
  return link;
}
