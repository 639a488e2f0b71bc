import { expect, test } from "bun:test";
import { BoundedMemory, DecidedExecs } from "../../src/escalate/exec-mediation.ts";

test("a decided exec is taken once, by the same process, for exactly the same file and argv", () => {
  const decided = new DecidedExecs();
  decided.record(42, "/usr/bin/git", ["git", "status"]);
  expect(decided.take(43, "/usr/bin/git", ["git", "status"])).toBe(false);
  expect(decided.take(42, "/usr/bin/git", ["git", "status", "--short"])).toBe(false);
  expect(decided.take(42, "/tmp/git", ["git", "status"])).toBe(false);
  expect(decided.take(42, "/usr/bin/git", ["git", "status"])).toBe(true);
  expect(decided.take(42, "/usr/bin/git", ["git", "status"])).toBe(false);
});

test("only execs that will be judged are remembered", () => {
  const decided = new DecidedExecs((file) => file !== "/bin/true");
  decided.record(1, "/bin/true", ["true"]);
  decided.record(1, "/usr/bin/git", ["git"]);
  expect(decided.take(1, "/bin/true", ["true"])).toBe(false);
  expect(decided.take(1, "/usr/bin/git", ["git"])).toBe(true);
});

test("it stays bounded in entries and in bytes: a process that asks without exec'ing cannot fill the server", () => {
  const decided = new DecidedExecs();
  for (let i = 0; i < 5000; i++) decided.record(1, `/bin/p${i}`, [`p${i}`]);
  expect(decided.take(1, "/bin/p0", ["p0"])).toBe(false);
  expect(decided.take(1, "/bin/p4999", ["p4999"])).toBe(true);
  const big = "x".repeat(1024 * 1024);
  for (let i = 0; i < 10; i++) decided.record(2, "/bin/big", [`${i}`, big]);
  expect(decided.take(2, "/bin/big", ["0", big])).toBe(false);
  expect(decided.take(2, "/bin/big", ["9", big])).toBe(true);
  decided.record(3, "/bin/huge", ["x".repeat(5 * 1024 * 1024)]);
  expect(decided.take(3, "/bin/huge", ["x".repeat(5 * 1024 * 1024)])).toBe(false);
});

test("BoundedMemory forgets the oldest keys past 1024 entries or 4 MiB of keys", () => {
  const memory = new BoundedMemory<number>();
  for (let i = 0; i < 2000; i++) memory.set(`k${i}`, i);
  expect(memory.get("k0")).toBeUndefined();
  expect(memory.get("k1999")).toBe(1999);
  const big = "y".repeat(1024 * 1024);
  for (let i = 0; i < 6; i++) memory.set(`${i}${big}`, i);
  expect(memory.get(`0${big}`)).toBeUndefined();
  expect(memory.get(`5${big}`)).toBe(5);
});
