// The codex-escalate-exec argument contract: what the server writes, the role reads back unchanged.
import { expect, test } from "bun:test";
import { ExecLauncherUsageError, formatEscalatedExec, parseEscalatedExec } from "../../src/escalate/exec-launcher-args.ts";

test("round trip, whatever the values hold: '=' in a value, an empty value, arguments that look like options", () => {
  const exec = {
    serverPid: 4242,
    programFd: 3,
    keepFds: [0, 1, 2, 7],
    env: { A: "x=y", EMPTY: "", PATH: "/usr/bin" },
    argv: ["git", "--", "-c", "5", ""],
  };
  expect(parseEscalatedExec(formatEscalatedExec(exec))).toEqual(exec);
  expect(parseEscalatedExec(formatEscalatedExec({ ...exec, keepFds: [], env: {} }))).toEqual({ ...exec, keepFds: [], env: {} });
});

test("malformed arguments are refused with the part that is wrong", () => {
  expect(() => parseEscalatedExec(["1", "3", "0,1,2", "2", "A=1"])).toThrow(ExecLauncherUsageError);
  expect(() => parseEscalatedExec(["1", "3", "0,1,2", "1", "=x", "true"])).toThrow("environment entry without a name");
  expect(() => parseEscalatedExec(["1", "-3", "", "0", "true"])).toThrow("program fd must be a whole number");
  expect(() => parseEscalatedExec(["x", "3", "", "0", "true"])).toThrow("server pid must be a whole number");
  expect(() => parseEscalatedExec(["1", "3", "0,a", "0", "true"])).toThrow("kept fd must be a whole number");
});
