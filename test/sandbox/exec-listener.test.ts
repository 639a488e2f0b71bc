// The exec mediation filter on this machine's kernel, with this test as the
// server: the real launcher (from source) hands its listener over, and every
// exec of the program waits for the test's answer.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { readNotifiedExec, type NotifiedExec } from "../../src/escalate/exec-target.ts";
import { pollReadable } from "../../src/ffi/poll.ts";
import { seccompArch } from "../../src/ffi/seccomp.ts";
import { answerNotification, receiveNotification, type NotificationVerdict } from "../../src/ffi/seccomp-notify.ts";
import { closeFd, receiveWithFds, socketPair, SOCK_SEQPACKET } from "../../src/ffi/socket.ts";
import { EXEC_LISTENER_MESSAGE, LAUNCHER_FAILURE_EXIT_CODE } from "../../src/sandbox/launcher-args.ts";

const FIXTURE = join(import.meta.dir, "fixtures", "launcher.ts");
const dir = mkdtempSync("/tmp/exec-listener-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** Long enough for a loaded machine; a wait that ends sooner means the test failed. */
const WAIT_MS = 30_000;

/** `passed`: one more descriptor the program inherits, at 4. */
function started(script: string, passed: number | null = null) {
  const [testEnd, launcherEnd] = socketPair(SOCK_SEQPACKET);
  const keep = passed === null ? [] : ["--keep-fd", "4"];
  const child = Bun.spawn([process.execPath, FIXTURE, "--writable-root", dir, ...keep, "--exec-listener-fd", "3", "--", "/bin/bash", "-c", script], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe", launcherEnd, ...(passed === null ? [] : [passed])],
  });
  closeFd(launcherEnd);
  expect(pollReadable([testEnd], WAIT_MS)).not.toEqual([]);
  const message = receiveWithFds(testEnd, 64, 4, true);
  closeFd(testEnd);
  expect(new TextDecoder().decode(message?.data)).toBe(EXEC_LISTENER_MESSAGE);
  expect(message?.fds.length).toBe(1);
  const listener = message!.fds[0]!;
  const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { listener, output };
}

/** The next exec the program asks about. */
function nextExec(listener: number): Extract<NotifiedExec, { file: string }> {
  for (;;) {
    expect(pollReadable([listener], WAIT_MS)).not.toEqual([]);
    const notification = receiveNotification(listener);
    if (notification === null) continue;
    const exec = readNotifiedExec(listener, notification, seccompArch());
    if (exec === null) continue;
    if (!("file" in exec)) throw new Error(`not an exec to judge: ${JSON.stringify(exec, (_, value: unknown) => (typeof value === "bigint" ? String(value) : value))}`);
    return exec;
  }
}

function answer(listener: number, exec: NotifiedExec, verdict: NotificationVerdict): void {
  expect(answerNotification(listener, exec.notificationId, verdict)).toBe(true);
}

describe("exec mediation filter", () => {
  test("the launcher's own exec comes first; each exec waits for its answer: continue runs it, refuse fails it with EACCES", async () => {
    const { listener, output } = started(`/bin/echo allowed "two words"; /bin/cat /dev/null; echo "cat=$?"`);
    const launch = nextExec(listener);
    expect({ file: launch.file, argv0: launch.argv[0], cwd: launch.cwd }).toEqual({ file: "/bin/bash", argv0: "/bin/bash", cwd: dir });
    answer(listener, launch, "continue");
    const echo = nextExec(listener);
    expect({ file: echo.file, argv: echo.argv }).toEqual({ file: "/bin/echo", argv: ["/bin/echo", "allowed", "two words"] });
    answer(listener, echo, "continue");
    const cat = nextExec(listener);
    expect(cat.argv).toEqual(["/bin/cat", "/dev/null"]);
    answer(listener, cat, "refuse");
    const [stdout, stderr, exitCode] = await output;
    closeFd(listener);
    expect(stdout).toBe("allowed two words\ncat=126\n");
    expect(stderr).toContain("/bin/cat: Permission denied");
    expect(exitCode).toBe(0);
  });

  test("relative paths resolve against the process's cwd, symlinks are followed for the real file", async () => {
    const link = join(dir, "true-link");
    symlinkSync("/usr/bin/true", link);
    const { listener, output } = started(`cd ${dir} && exec ./true-link`);
    answer(listener, nextExec(listener), "continue");
    const relative = nextExec(listener);
    expect({ file: relative.file, real: relative.real, cwd: relative.cwd }).toEqual({ file: link, real: "/usr/bin/true", cwd: dir });
    answer(listener, relative, "continue");
    expect((await output)[2]).toBe(0);
    closeFd(listener);
  });

  test("when the listener closes (the server died), the waiting exec and every later one fail: nothing runs unjudged", async () => {
    const first = join(dir, "first");
    const second = join(dir, "second");
    const { listener, output } = started(`/usr/bin/touch ${first}; echo "first=$?"; /usr/bin/touch ${second}; echo "second=$?"`);
    answer(listener, nextExec(listener), "continue");
    const waiting = nextExec(listener);
    expect(waiting.argv).toEqual(["/usr/bin/touch", first]);
    closeFd(listener);
    const [stdout, stderr] = await output;
    expect(stdout).toBe("first=126\nsecond=126\n");
    expect(stderr).toContain("Function not implemented");
    expect(existsSync(first)).toBe(false);
    expect(existsSync(second)).toBe(false);
  });

  test("a listener closed before the launcher's own exec: the launcher refuses, nothing starts", async () => {
    const canary = join(dir, "never");
    const { listener, output } = started(`/usr/bin/touch ${canary}`);
    nextExec(listener);
    closeFd(listener);
    const [, stderr, exitCode] = await output;
    expect(exitCode).toBe(LAUNCHER_FAILURE_EXIT_CODE);
    expect(stderr).toContain("codex-linux-sandbox:");
    expect(existsSync(canary)).toBe(false);
  });

  test("under a listener that already mediates (a runtime's own), a nested launcher says so, runs the program, and the outer listener still sees its execs", async () => {
    const [testEnd, innerEnd] = socketPair(SOCK_SEQPACKET);
    const { listener, output } = started(`exec ${process.execPath} ${FIXTURE} --exec-listener-fd 4 -- /bin/echo inner`, innerEnd);
    closeFd(innerEnd);
    answer(listener, nextExec(listener), "continue");
    const inner = nextExec(listener);
    expect(inner.argv.slice(1, 3)).toEqual([FIXTURE, "--exec-listener-fd"]);
    answer(listener, inner, "continue");
    expect(pollReadable([testEnd], WAIT_MS)).not.toEqual([]);
    const said = receiveWithFds(testEnd, 512, 4, true);
    closeFd(testEnd);
    expect(said?.fds).toEqual([]);
    expect(new TextDecoder().decode(said?.data)).toMatch(/^exec-mediation-unavailable: seccomp\(SECCOMP_SET_MODE_FILTER, NEW_LISTENER\) failed: EBUSY/);
    const echo = nextExec(listener);
    expect(echo.argv).toEqual(["/bin/echo", "inner"]);
    answer(listener, echo, "continue");
    const [stdout, , exitCode] = await output;
    closeFd(listener);
    expect({ stdout, exitCode }).toEqual({ stdout: "inner\n", exitCode: 0 });
  });

  test.each([
    ["/proc/self/fd/N (Bash)", `exec 3</usr/bin/true; exec /proc/self/fd/3 from-bash`, "from-bash"],
    ["fexecve, execveat with AT_EMPTY_PATH (Python)", `exec /usr/bin/python3 -c 'import os; os.execve(os.open("/usr/bin/true", os.O_RDONLY), ["true", "from-python"], {})'`, "from-python"],
  ])("a program executed through a descriptor, %s, is judged as the file it is", async (_, script, marker) => {
    const { listener, output } = started(script);
    for (;;) {
      const exec = nextExec(listener);
      if (exec.argv.at(-1) !== marker) {
        answer(listener, exec, "continue");
        continue;
      }
      expect({ file: exec.file, real: exec.real }).toEqual({ file: "/usr/bin/true", real: "/usr/bin/true" });
      answer(listener, exec, "refuse");
      break;
    }
    const [, stderr, exitCode] = await output;
    closeFd(listener);
    expect(exitCode).not.toBe(0);
    expect(stderr).toContain("Permission denied");
  });

  test("an exec let through on its name is not described further; one through a descriptor is always resolved first", async () => {
    const { listener, output } = started(`/bin/true; exec 3</usr/bin/true; exec /proc/self/fd/3 last`);
    answer(listener, nextExec(listener), "continue");
    const read = () => {
      expect(pollReadable([listener], WAIT_MS)).not.toEqual([]);
      const notification = receiveNotification(listener);
      if (notification === null) throw new Error("the process died");
      return readNotifiedExec(listener, notification, seccompArch(), (file) => file === "/bin/true" || file === "/proc/self/fd/3");
    };
    const plain = read();
    expect(plain).toMatchObject({ allowed: true });
    answerNotification(listener, plain!.notificationId, "continue");
    const throughDescriptor = read();
    expect(throughDescriptor).toMatchObject({ file: "/usr/bin/true", argv: ["/proc/self/fd/3", "last"] });
    answerNotification(listener, throughDescriptor!.notificationId, "continue");
    expect((await output)[2]).toBe(0);
    closeFd(listener);
  });
});
