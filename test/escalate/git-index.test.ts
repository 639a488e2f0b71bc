// Submodule paths read from real index files that git wrote, in every index
// version and both object formats.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GitIndexError, gitlinkPaths } from "../../src/policy/git-index.ts";
import { tempDir } from "../support.ts";

function git(cwd: string, ...args: string[]): void {
  const result = Bun.spawnSync(["git", ...args], { cwd, stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(result.stderr.toString());
}

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const COMMIT_256 = "0123456789abcdef".repeat(4);

/** A repository with files, an intent-to-add entry (version 3's extended flags) and two gitlinks. */
function repository(format: "sha1" | "sha256", version: number): { dir: string; hashBytes: number } {
  const dir = tempDir();
  git(dir, "init", "-q", `--object-format=${format}`);
  for (const name of ["a", "deep/er/file", "deep/er/file2", "z"]) {
    Bun.spawnSync(["mkdir", "-p", join(dir, name, "..")]);
    writeFileSync(join(dir, name), name);
  }
  git(dir, "add", "a", "deep", "z");
  const oid = format === "sha1" ? COMMIT : COMMIT_256;
  git(dir, "update-index", "--add", "--cacheinfo", `160000,${oid},deep/er/sub`);
  git(dir, "update-index", "--add", "--cacheinfo", `160000,${oid},vendor/lib`);
  writeFileSync(join(dir, "new"), "");
  git(dir, "add", "-N", "new");
  git(dir, "update-index", "--index-version", String(version));
  return { dir, hashBytes: format === "sha1" ? 20 : 32 };
}

describe("gitlinks in a git index", () => {
  for (const format of ["sha1", "sha256"] as const) {
    for (const version of [2, 3, 4]) {
      test(`${format}, version ${version}`, () => {
        const { dir, hashBytes } = repository(format, version);
        expect(gitlinkPaths(readFileSync(join(dir, ".git/index")), hashBytes)).toEqual(["deep/er/sub", "vendor/lib"]);
      });
    }
  }

  test("an index without submodules has none; a damaged one is an error, not an answer", () => {
    const dir = tempDir();
    git(dir, "init", "-q");
    writeFileSync(join(dir, "a"), "");
    git(dir, "add", "a");
    const index = readFileSync(join(dir, ".git/index"));
    expect(gitlinkPaths(index, 20)).toEqual([]);
    expect(() => gitlinkPaths(index.subarray(0, 40), 20)).toThrow(GitIndexError);
    expect(() => gitlinkPaths(new TextEncoder().encode("not an index at all"), 20)).toThrow(GitIndexError);
  });
});
