// The escalation socket and the command's own descriptors, end to end: the
// compiled server, our embedded Bash, the MCP client. Whatever a command does
// with descriptors 3-9 (and its own high ones), its programs still run
// correctly and are still asked about: a `forbidden` rule for `touch` keeps
// refusing, judged by a canary file outside any sandbox (danger-full-access:
// only interception stands between the command and the canary). And no byte
// of the protocol ever reaches the command's files or connections.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, isolatedEnv, PATCHED_BASH, setSandbox, shell, tempDir } from "../support.ts";

const FORBID_TOUCH = 'prefix_rule(pattern=["touch"], decision="forbidden")\n';
const DENIED = "Execution denied: ";

let client: Client;
beforeAll(async () => {
  const env = isolatedEnv();
  mkdirSync(join(env.CODEX_HOME!, "rules"));
  writeFileSync(join(env.CODEX_HOME!, "rules", "test.rules"), FORBID_TOUCH);
  client = await connect({ env });
  await setSandbox(client, { type: "danger-full-access" });
});
afterAll(async () => {
  await client.close();
});

/** Runs `command` then `touch <canary>`; the touch must be refused and the canary absent. */
async function stillIntercepted(command: string, workdir = tempDir()): Promise<{ output: string; workdir: string }> {
  const canary = join(workdir, "canary");
  const result = await shell(client, { command: `${command}\ntouch ${canary}; echo "touch=$?"`, workdir });
  expect(result.output).toContain(`${DENIED}`);
  expect(result.output).toContain("touch=1\n");
  expect(existsSync(canary)).toBe(false);
  return { output: result.output, workdir };
}

describe("redirections of descriptors 3-9 leave interception alone", () => {
  for (let fd = 3; fd <= 9; fd++) {
    test(`${fd}>file, ${fd}<&- and exec ${fd}>file`, async () => {
      const workdir = tempDir();
      const { output } = await stillIntercepted(
        [`/bin/echo one ${fd}>${workdir}/redirected`, `/bin/echo two ${fd}<&-`, `exec ${fd}>${workdir}/held`, "/bin/echo three", `/bin/echo four >&${fd}`].join("\n"),
        workdir,
      );
      expect(output).toStartWith("one\ntwo\nthree\n");
      // Nothing but the command's own bytes in its files: no handshake byte.
      expect(statSync(join(workdir, "redirected")).size).toBe(0);
      expect(readFileSync(join(workdir, "held"), "utf8")).toBe("four\n");
    });
  }

  test("{var}> allocations, and closing every descriptor the shell sees above 2", async () => {
    const workdir = tempDir();
    const { output } = await stillIntercepted(
      [
        `exec {a}>${workdir}/a {b}>${workdir}/b`,
        '/bin/echo "to a" >&$a; /bin/echo "to b" >&$b',
        'exec {a}>&- {b}>&-',
        // Every open descriptor, the socket's number included: it moves away.
        'for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done',
        "/bin/echo after-closing",
      ].join("\n"),
      workdir,
    );
    expect(readFileSync(join(workdir, "a"), "utf8")).toBe("to a\n");
    expect(readFileSync(join(workdir, "b"), "utf8")).toBe("to b\n");
    expect(output).toContain("after-closing\n");
  });

  test("the stdout/stderr swap idiom: ls / 3>&1 1>&2 2>&3", async () => {
    const { output } = await stillIntercepted("ls / 3>&1 1>&2 2>&3");
    expect(output).toContain("bin\n");
    expect(output).toContain("usr\n");
    expect(output).not.toContain("codex-execve-wrapper");
  });

  test("here-documents in a loop", async () => {
    const { output } = await stillIntercepted("for i in 1 2 3; do\n/bin/cat <<EOF\nline $i\nEOF\ndone");
    expect(output).toStartWith("line 1\nline 2\nline 3\n");
  });

  test("the socket's own number is not the command's: reading it fails, writing to it moves the socket", async () => {
    const workdir = tempDir();
    const { output } = await stillIntercepted(
      [
        'fd=$CODEX_ESCALATE_SOCKET; echo "fd=$fd"',
        'eval "/bin/echo read-it <&$fd"; echo "read=$?"',
        `eval "exec $fd>${workdir}/mine"`,
        'eval "/bin/echo mine >&$fd"',
      ].join("\n"),
      workdir,
    );
    expect(output).toMatch(/^fd=\d+\n/);
    expect(Number(/^fd=(\d+)/.exec(output)![1])).toBeGreaterThan(9);
    expect(output).toContain("read=1\n");
    expect(readFileSync(join(workdir, "mine"), "utf8")).toBe("mine\n");
  });
});

describe("a connection on descriptor 3 (network on)", () => {
  let listener: Bun.TCPSocketListener;
  const received: string[] = [];
  beforeAll(() => {
    listener = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(socket) {
          socket.write("hello from the listener\n");
        },
        data(_socket, data) {
          received.push(data.toString("latin1"));
        },
      },
    });
  });
  afterAll(() => listener.stop(true));

  test("exec 3<>/dev/tcp/127.0.0.1/$PORT && head -1 <&3: read, and nothing sent to the peer", async () => {
    const { output } = await stillIntercepted(`exec 3<>/dev/tcp/127.0.0.1/${listener.port} && head -1 <&3; /bin/echo "head=$?"`);
    expect(output).toStartWith("hello from the listener\nhead=0\n");
    expect(received.join("")).toBe("");
  });
});

describe("with the reference's Bash (--bash), the socket is at descriptor 10, clear of 3-9", () => {
  let referenceBash: Client;
  beforeAll(async () => {
    const env = isolatedEnv();
    mkdirSync(join(env.CODEX_HOME!, "rules"));
    writeFileSync(join(env.CODEX_HOME!, "rules", "test.rules"), FORBID_TOUCH);
    referenceBash = await connect({ env, args: ["--bash", PATCHED_BASH] });
    await setSandbox(referenceBash, { type: "danger-full-access" });
  });
  afterAll(async () => {
    await referenceBash.close();
  });

  test("the swap idiom, 3>/dev/null and exec 3>/dev/null; touch still refused", async () => {
    const workdir = tempDir();
    const canary = join(workdir, "canary");
    const result = await shell(referenceBash, {
      command: `ls -d /usr 3>&1 1>&2 2>&3; /bin/echo x 3>/dev/null; exec 3>/dev/null; /bin/echo y; touch ${canary}; echo "touch=$?"`,
      workdir,
    });
    expect(result.output).toBe(`/usr\nx\ny\n${DENIED}Execution forbidden by policy\ntouch=1\n`);
    expect(existsSync(canary)).toBe(false);
  });
});

describe("shells started without the socket are plain Bash (programs run, inside the sandbox)", () => {
  test("Python's subprocess (closes descriptors above 2) starting bash -c 'ls /'", async () => {
    const result = await shell(client, { command: `python3 -c 'import subprocess; subprocess.run(["bash", "-c", "ls /"])'` });
    expect(result.output).toContain("bin\n");
    expect(result.output).toContain("usr\n");
    expect(result.output).not.toContain("codex-execve-wrapper");
    expect(result.exit_code).toBe(0);
  });

  test("a setsid helper that closes every descriptor, then starts bash -c", async () => {
    const helper = "import os; os.closerange(3, 65536); os.setsid(); os.execvp('bash', ['bash', '-c', 'ls /; echo plain=$?'])";
    // Not the last command: Bash forks for it, so it is no group leader and may setsid.
    const result = await shell(client, { command: `python3 -c "${helper}"; true` });
    expect(result.output).toContain("bin\n");
    expect(result.output).toEndWith("plain=0\n");
    expect(result.output).not.toContain("codex-execve-wrapper");
  });

  test("such a shell is still in the sandbox: read-only, it cannot write", async () => {
    const workdir = tempDir();
    const target = join(workdir, "written");
    await setSandbox(client, { type: "read-only" }, workdir);
    try {
      const result = await shell(client, {
        command: `python3 -c 'import subprocess; subprocess.run(["bash", "-c", "echo x > ${target}; echo status=$?"])'`,
        workdir,
      });
      expect(result.output).toContain("status=1\n");
      expect(existsSync(target)).toBe(false);
    } finally {
      await setSandbox(client, { type: "danger-full-access" });
    }
  });
});

describe("interception cannot be switched off from inside", () => {
  const cases: [string, (dir: string) => string][] = [
    ["unsetting the variables", () => "unset CODEX_ESCALATE_SOCKET BASH_EXEC_WRAPPER EXEC_WRAPPER"],
    ["unsetting the variables, then a nested bash", () => "unset CODEX_ESCALATE_SOCKET BASH_EXEC_WRAPPER EXEC_WRAPPER; bash -c 'touch \"$1\"; echo nested=$?' _ canary-nested"],
    ["exec -a", () => "(exec -a not-touch touch canary-exec-a); echo exec-a=$?"],
    ["enable -n on builtins", () => "enable -n echo test kill command type"],
    [
      "BASH_ENV that unsets and closes everything in a nested bash",
      (dir) => {
        writeFileSync(join(dir, "env.sh"), 'unset CODEX_ESCALATE_SOCKET BASH_EXEC_WRAPPER EXEC_WRAPPER\nfor fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done\n');
        return `BASH_ENV=${dir}/env.sh bash -c 'touch canary-bash-env; echo bash-env=$?'`;
      },
    ],
    ["nested bash, twice", () => "bash -c 'bash -c \"touch canary-nested-twice; echo nested=\\$?\"'"],
    [
      "a #!/usr/bin/env bash script",
      (dir) => {
        writeFileSync(join(dir, "script"), "#!/usr/bin/env bash\nunset CODEX_ESCALATE_SOCKET\ntouch canary-script\necho script=$?\n", { mode: 0o755 });
        return "./script";
      },
    ],
    [
      "a script without #! (run by Bash itself, as plain Bash would)",
      (dir) => {
        writeFileSync(join(dir, "plain"), "echo in-plain-script\ntouch canary-plain\necho plain=$?\n", { mode: 0o755 });
        return "./plain";
      },
    ],
  ];
  for (const [name, setup] of cases) {
    test(name, async () => {
      const workdir = tempDir();
      const { output } = await stillIntercepted(setup(workdir), workdir);
      for (const file of ["canary-nested", "canary-exec-a", "canary-bash-env", "canary-nested-twice", "canary-script", "canary-plain"]) {
        expect(existsSync(join(workdir, file))).toBe(false);
      }
      expect(output).not.toMatch(/(exec-a|bash-env|nested|script|plain)=0/);
    });
  }

  test("the script without #! runs as in plain Bash", async () => {
    const workdir = tempDir();
    writeFileSync(join(workdir, "s"), 'echo "hi from $0"\n/bin/echo child\n', { mode: 0o755 });
    const result = await shell(client, { command: "./s; echo status=$?", workdir });
    expect(result.output).toBe("hi from ./s\nchild\nstatus=0\n");
  });
});
