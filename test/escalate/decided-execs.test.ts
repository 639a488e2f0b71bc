import { expect, test } from "bun:test";
import { DecidedExecs } from "../../src/escalate/exec-mediation.ts";

test("a decided exec is taken once, by the same process, for exactly the same file and argv", () => {
  const decided = new DecidedExecs();
  decided.record(42, "/usr/bin/git", ["git", "status"]);
  expect(decided.take(43, "/usr/bin/git", ["git", "status"])).toBe(false);
  expect(decided.take(42, "/usr/bin/git", ["git", "status", "--short"])).toBe(false);
  expect(decided.take(42, "/tmp/git", ["git", "status"])).toBe(false);
  expect(decided.take(42, "/usr/bin/git", ["git", "status"])).toBe(true);
  expect(decided.take(42, "/usr/bin/git", ["git", "status"])).toBe(false);
});

test("it stays bounded: a process that asks without exec'ing cannot make it grow without end", () => {
  const decided = new DecidedExecs();
  for (let i = 0; i < 5000; i++) decided.record(1, `/bin/p${i}`, [`p${i}`]);
  expect(decided.take(1, "/bin/p0", ["p0"])).toBe(false);
  expect(decided.take(1, "/bin/p4999", ["p4999"])).toBe(true);
});
