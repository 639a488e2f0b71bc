// Resolving the program an exec names the way the kernel walks a path, and
// holding it open: real files and links built in a temporary directory.
import { afterEach, expect, test } from "bun:test";
import { fstatSync, lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { holdProgram, type HeldProgram } from "../../src/escalate/program.ts";
import { closeFd } from "../../src/ffi/socket.ts";
import { tempDir } from "../support.ts";

const held: HeldProgram[] = [];
afterEach(() => {
  for (const { fd } of held.splice(0)) if (fd !== null) closeFd(fd);
});

function hold(workdir: string, file: string): HeldProgram {
  const result = holdProgram(workdir, file);
  held.push(result);
  return result;
}

test("a plain file: no links, held open as that very file", () => {
  const { program, fd } = hold("/", "/usr/bin/env");
  expect(program).toEqual({ requested: "/usr/bin/env", links: [], real: "/usr/bin/env", unresolved: null });
  expect(fd).not.toBeNull();
  expect(fstatSync(fd!).ino).toBe(statSync("/usr/bin/env").ino);
});

test("a relative file is resolved against the request's workdir", () => {
  const dir = tempDir();
  writeFileSync(join(dir, "tool"), "");
  expect(hold(dir, "./tool").program).toMatchObject({ requested: join(dir, "tool"), links: [], real: join(dir, "tool") });
});

test("every link on the way is listed where it sits, the last one and a directory's alike", () => {
  const dir = tempDir();
  symlinkSync("/usr", join(dir, "usr-link"));
  symlinkSync(join(dir, "usr-link/bin/env"), join(dir, "a"));
  symlinkSync("a", join(dir, "b"));
  const { program, fd } = hold(dir, "b");
  expect(program.links).toEqual([join(dir, "b"), join(dir, "a"), join(dir, "usr-link")]);
  expect(program.real).toBe("/usr/bin/env");
  expect(fd).not.toBeNull();
});

test("`..` after a link to a directory goes up from the link's target, as the kernel does", () => {
  const dir = tempDir();
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin", "env"), "a decoy the lexical path names");
  symlinkSync("/usr/bin", join(dir, "link"));
  const { program } = hold(dir, "link/../bin/env");
  expect(program.requested).toBe(join(dir, "bin/env"));
  expect(program.real).toBe("/usr/bin/env");
});

test.skipIf(!lstatSync("/usr/bin/python3", { throwIfNoEntry: false })?.isSymbolicLink())("a root-owned link such as /usr/bin/python3 -> python3.11 resolves to its target", () => {
  const { program } = hold("/", "/usr/bin/python3");
  expect(program.links).toEqual(["/usr/bin/python3"]);
  expect(program.real).toMatch(/^\/usr\/bin\/python3\.\d+$/);
});

test("what cannot be resolved says why and holds nothing: a loop, a missing file, a directory", () => {
  const dir = tempDir();
  symlinkSync("loop-b", join(dir, "loop-a"));
  symlinkSync("loop-a", join(dir, "loop-b"));
  mkdirSync(join(dir, "sub"));
  const loop = hold(dir, "loop-a");
  expect(loop.fd).toBeNull();
  expect(loop.program.real).toBeNull();
  expect(loop.program.unresolved).toContain("ELOOP");
  expect(loop.program.links).toHaveLength(40);
  expect(hold(dir, "missing").program.unresolved).toContain("ENOENT");
  expect(hold(dir, "sub").program.unresolved).toContain("not a regular file");
  expect(hold(dir, "/usr/bin/env/x").program.unresolved).toContain("ENOTDIR");
});

test("hostile sizes are refused before much work: a path over PATH_MAX, links that expand to thousands of components", () => {
  const dir = tempDir();
  expect(hold(dir, `${"a/".repeat(2100)}x`).program.unresolved).toContain("ENAMETOOLONG");
  mkdirSync(join(dir, "a"));
  symlinkSync("a/..".concat("/a/..".repeat(800)), join(dir, "l0"));
  for (let i = 1; i < 10; i++) symlinkSync(`l${i - 1}/l${i - 1}`, join(dir, `l${i}`));
  const started = performance.now();
  expect(hold(dir, "l9").program.unresolved).toContain("path components");
  expect(performance.now() - started).toBeLessThan(1_000);
});
