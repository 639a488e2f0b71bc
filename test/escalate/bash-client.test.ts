// Our Bash speaks the escalation protocol itself. Its request frames must be
// byte for byte those our Bun wrapper sends for the same exec (the server,
// and the reference's server, cannot tell them apart), over a datagram or a
// seqpacket socket. A Python stand-in server records the raw frames.
import { describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { closeFd, socketPair, SOCK_DGRAM } from "../../src/ffi/socket.ts";
import { OUR_BASH, ROOT, tempDir, WRAPPER_BINARY } from "../support.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const PYTHON = Bun.spawnSync(["python3", "-c", "import sys; print(sys.executable)"]).stdout.toString().trim();

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== "BASH_ENV") env[key] = value;
  return env;
}

/** Bash-quoted `$'...'` form of arbitrary bytes. */
function ansiC(bytes: number[]): string {
  return `$'${bytes.map((byte) => `\\x${byte.toString(16).padStart(2, "0")}`).join("")}'`;
}

/**
 * The frame our Bash sent for the last exec of `setup; <python> --dump ... args`,
 * and the frame our wrapper sent for that same exec.
 */
function framePair(setup: string, args: string[], cwd?: string): { bash: Buffer; wrapper: Buffer } {
  const out = tempDir("codex-frames-");
  const dump = `${PYTHON} ${join(FIXTURES, "frame_pair.py")} --dump ${join(out, "program")} ${args.join(" ")}`;
  const script = [setup, cwd === undefined ? "" : `cd ${cwd}`, dump].filter(Boolean).join("\n");
  const run = Bun.spawnSync(["python3", join(FIXTURES, "frame_pair.py"), out, OUR_BASH, WRAPPER_BINARY, script], {
    env: cleanEnv(),
    stderr: "pipe",
    stdout: "pipe",
  });
  if (run.exitCode !== 0) throw new Error(`frame_pair.py failed: ${run.stderr.toString()}${run.stdout.toString()}`);
  return { bash: readFileSync(join(out, "bash.frame")), wrapper: readFileSync(join(out, "wrapper.frame")) };
}

describe("request frames: our Bash and our Bun wrapper send the same bytes", () => {
  const cases: [string, string, string[], string?][] = [
    ["plain arguments", "", ["a", "b"]],
    ["empty arguments", "", ["''", "''", "x", "''"]],
    [
      "non-UTF-8 bytes in argv (invalid, truncated, overlong, surrogates, beyond U+10FFFF)",
      "",
      [ansiC([0x61, 0xff, 0x62]), ansiC([0xe2, 0x82]), ansiC([0xc0, 0xaf]), ansiC([0xed, 0xa0, 0x80]), ansiC([0xf4, 0x90, 0x80, 0x80]), ansiC([0xf0, 0x9f, 0x98, 0x80])],
    ],
    ["JSON escapes: controls, quotes, backslashes, DEL, U+2028", "", [ansiC([0x01, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x1f, 0x22, 0x5c, 0x2f, 0x7f, 0xe2, 0x80, 0xa8])]],
    [
      "non-UTF-8 bytes in environment values (names: see frame_pair.py)",
      `export BAD=${ansiC([0x78, 0xff, 0xfe, 0x79])} CTRL=${ansiC([0x0a, 0x22, 0x01])}`,
      ["x"],
    ],
    ["a 100 000-byte argument", "big=$(head -c 100000 /dev/zero | tr '\\0' a)", ['"$big"', "tail"]],
    ["1000 environment entries", "for i in $(seq 1000); do export V$i=value-$i; done", ["x"]],
    ["interception variables unset by the script", "unset CODEX_ESCALATE_SOCKET BASH_EXEC_WRAPPER EXEC_WRAPPER", ["x"]],
  ];
  for (const [name, setup, args] of cases) {
    test(name, () => {
      const { bash, wrapper } = framePair(setup, args);
      expect(bash.byteLength).toBeGreaterThan(4);
      expect(bash.readUInt32LE(0)).toBe(bash.byteLength - 4);
      expect(bash.equals(wrapper)).toBe(true);
    });
  }

  test("a working directory whose name is not UTF-8", () => {
    const parent = tempDir("codex-frames-cwd-");
    const made = Bun.spawnSync(["bash", "-c", `mkdir ${ansiC([0x64, 0xff, 0xe2, 0x82, 0x78])}`], { cwd: parent });
    expect(made.exitCode).toBe(0);
    const { bash, wrapper } = framePair("", ["x"], `${parent}/d*x`);
    expect(bash.toString("latin1")).toContain(`"workdir":"${parent}/d\u00ef\u00bf\u00bd\u00ef\u00bf\u00bdx"`);
    expect(bash.equals(wrapper)).toBe(true);
  });

  test("the 100 000-byte argument and the 1000 entries are really in the frame", () => {
    const { bash } = framePair("big=$(head -c 100000 /dev/zero | tr '\\0' a); for i in $(seq 1000); do export V$i=value-$i; done", ['"$big"']);
    const request = JSON.parse(bash.subarray(4).toString("utf8")) as { argv: string[]; env: Record<string, string> };
    expect(request.argv.at(-1)).toBe("a".repeat(100_000));
    expect(request.env.V1000).toBe("value-1000");
    expect(Object.keys(request.env).filter((key) => /^V\d+$/.test(key))).toHaveLength(1000);
    expect(request.env.CODEX_ESCALATE_SOCKET).toBeUndefined();
    // The names frame_pair.py passes through Bash: array indices first, in
    // numeric order; a name that is not UTF-8 left out, as Bun leaves it out.
    expect(Object.keys(request.env).slice(0, 3)).toEqual(["0", "9", "10"]);
    expect(request.env["A-B"]).toBe("dash");
    expect(request.env["\u00e9t\u00e9"]).toBe("valid name");
    expect(request.env.DUP).toBe("x\ufffdy");
    expect(Object.values(request.env)).not.toContain("invalid name");
  });
});

/** Runs `bash -c script` against the stand-in server; returns its output and the recorded requests. */
function captured(socketType: "dgram" | "seqpacket", script: string, deny: string[] = []) {
  const out = tempDir("codex-capture-");
  const run = Bun.spawnSync(
    ["python3", join(FIXTURES, "capture_server.py"), out, socketType, "10", WRAPPER_BINARY, deny.join(","), "--", OUR_BASH, "-c", script],
    { env: cleanEnv(), stdout: "pipe", stderr: "pipe" },
  );
  const requests = readdirSync(out)
    .sort()
    .map((name) => JSON.parse(readFileSync(join(out, name)).subarray(4).toString("utf8")) as { file: string; argv: string[] });
  return { exitCode: run.exitCode, output: run.stdout.toString() + run.stderr.toString(), requests };
}

describe("our Bash asks the server itself", () => {
  for (const socketType of ["dgram", "seqpacket"] as const) {
    test(`over a ${socketType} socket: Run execs in place, Deny refuses with the reason`, () => {
      const dir = tempDir();
      const canary = join(dir, "canary");
      const result = captured(socketType, `/bin/echo ran; /usr/bin/touch ${canary}; echo status=$?`, ["touch"]);
      expect(result.output).toBe("ran\nstatus=1\nExecution denied: captured and denied\n");
      expect(existsSync(canary)).toBe(false);
      expect(result.requests.map((request) => request.file)).toEqual(["/bin/echo", "/usr/bin/touch"]);
    });
  }

  test("the Bun wrapper, run by our Bash, reaches the server too (the fallback path)", () => {
    const dir = tempDir();
    const canary = join(dir, "canary");
    const result = captured("seqpacket", `"$BASH_EXEC_WRAPPER" /usr/bin/touch touch ${canary}; echo status=$?`, ["touch"]);
    expect(result.output).toBe("status=1\nExecution denied: captured and denied\n");
    expect(existsSync(canary)).toBe(false);
    expect(result.requests.map((request) => request.file)).toEqual([WRAPPER_BINARY, "/usr/bin/touch"]);
  });

  test("a script without #! runs as a Bash script, its programs still asked about", () => {
    const dir = tempDir();
    const canary = join(dir, "canary");
    writeFileSync(join(dir, "s"), `echo "in script $0"\n/bin/echo ran\ntouch ${canary}\necho "status=$?"\n`, { mode: 0o755 });
    const result = captured("dgram", `cd ${dir} && ./s; echo "script=$?"`, ["touch"]);
    expect(result.output).toBe("in script ./s\nran\nstatus=1\nscript=0\nExecution denied: captured and denied\n");
    expect(existsSync(canary)).toBe(false);
    expect(result.requests.map((request) => request.file.split("/").at(-1))).toEqual(["s", "echo", "touch"]);
  });

  test("the Bun wrapper writes nothing to a descriptor that is not the socket: the program runs in place", () => {
    const file = join(tempDir(), "users-file");
    const fd = openSync(file, "w");
    try {
      const unused = Array.from({ length: 7 }, () => "ignore" as const);
      const run = Bun.spawnSync([WRAPPER_BINARY, "/bin/echo", "echo", "ran"], {
        env: { ...cleanEnv(), CODEX_ESCALATE_SOCKET: "10" },
        stdio: ["ignore", "pipe", "pipe", ...unused, fd],
      });
      expect(run.stdout.toString() + run.stderr.toString()).toBe("ran\n");
      expect(statSync(file).size).toBe(0);
    } finally {
      closeSync(fd);
    }
  });

  test("when it cannot speak the protocol (the server end is gone), our Bash hands the exec to the wrapper, never runs it unchecked", () => {
    const [serverEnd, clientEnd] = socketPair(SOCK_DGRAM);
    closeFd(serverEnd);
    const canary = join(tempDir(), "canary");
    try {
      const unused = Array.from({ length: 7 }, () => "ignore" as const);
      const run = Bun.spawnSync([OUR_BASH, "-c", `/usr/bin/touch ${canary}; echo "status=$?"`], {
        env: { ...cleanEnv(), CODEX_ESCALATE_SOCKET: "10", BASH_EXEC_WRAPPER: WRAPPER_BINARY, EXEC_WRAPPER: WRAPPER_BINARY },
        stdio: ["ignore", "pipe", "pipe", ...unused, clientEnd],
      });
      expect(run.stdout.toString()).toBe("status=126\n");
      expect(run.stderr.toString()).toMatch(/^codex-execve-wrapper: sendmsg failed: E(NOTCONN|CONNREFUSED)\n$/);
      expect(existsSync(canary)).toBe(false);
    } finally {
      closeFd(clientEnd);
    }
  });

  test("without the socket (a parent closed it), our Bash is plain Bash", () => {
    const run = Bun.spawnSync([OUR_BASH, "-c", "/bin/echo plain; ls -d /"], {
      env: { ...cleanEnv(), CODEX_ESCALATE_SOCKET: "10", BASH_EXEC_WRAPPER: WRAPPER_BINARY, EXEC_WRAPPER: WRAPPER_BINARY },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(run.stdout.toString() + run.stderr.toString()).toBe("plain\n/\n");
  });
});
