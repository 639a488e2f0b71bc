// The compiled server driven by the SDK's Client over stdio, as a user's MCP
// client drives it.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ProgressNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { connect, isolatedEnv, setSandbox, shell, tempDir, restartIfLost } from "../support.ts";

// Verbatim from the reference's integration test (protocol.md section 2).
const EXPECTED_TOOL = {
  name: "shell",
  description: "Runs a shell command and returns its output. You MUST provide the workdir as an absolute path.",
  inputSchema: {
    type: "object",
    properties: {
      command: { description: "The bash string to execute.", type: "string" },
      workdir: { description: "The working directory to execute the command in. Must be an absolute path.", type: "string" },
      timeout_ms: { description: "The timeout for the command in milliseconds.", type: "integer", format: "uint64", minimum: 0, nullable: true },
      login: { description: "Launch Bash with -lc instead of -c: defaults to true.", type: "boolean", nullable: true },
    },
    required: ["command", "workdir"],
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "ExecParams",
  },
};

let client: Client;
async function startShared(): Promise<void> {
  client = await connect();
  await setSandbox(client, { type: "danger-full-access" });
}
beforeAll(startShared);
restartIfLost(() => client, startShared);
afterAll(async () => {
  await client.close();
});

describe("MCP surface", () => {
  test("tools/list returns exactly the reference's tool", async () => {
    const { tools } = await client.listTools();
    expect(tools as unknown[]).toEqual([EXPECTED_TOOL]);
  });

  test("initialize advertises the sandbox-state extensions and the instructions", () => {
    expect(client.getServerCapabilities()?.experimental).toEqual({
      "codex/sandbox-state": { version: "1.0.0" },
      "codex/sandbox-state-meta": { version: "1.0.0" },
    });
    expect(client.getInstructions()).toBe("This server provides a tool to execute shell commands and return their output.");
  });

  test("a result is the ExecResult JSON", async () => {
    const result = await client.callTool({ name: "shell", arguments: { command: "echo hello", workdir: "/tmp", login: false } });
    expect(result.isError).toBe(false);
    const text = (result.content as { text: string }[])[0]!.text;
    expect(Object.keys(JSON.parse(text))).toEqual(["exit_code", "output", "duration", "timed_out"]);
    expect(JSON.parse(text)).toMatchObject({ exit_code: 0, output: "hello\n", timed_out: false });
  });
});

describe("commands", () => {
  test("pipelines of intercepted programs", async () => {
    const result = await shell(client, { command: "printf 'b\\na\\nc\\n' | sort | head -n 2 | tr a-z A-Z" });
    expect(result).toMatchObject({ exit_code: 0, output: "A\nB\n", timed_out: false });
  });

  test("stderr is captured in arrival order with stdout", async () => {
    const result = await shell(client, { command: "echo one; /bin/echo two >&2; echo three; ls /definitely-missing-path" });
    expect(result.output).toStartWith("one\ntwo\nthree\n");
    expect(result.output).toContain("definitely-missing-path");
    expect(result.exit_code).toBe(2);
  });

  test("non-zero exit codes come back as they are, not as errors", async () => {
    expect((await shell(client, { command: "exit 42" })).exit_code).toBe(42);
    expect((await shell(client, { command: "/bin/false" })).exit_code).toBe(1);
  });

  test("nested bash -c runs and its programs are intercepted too", async () => {
    const result = await shell(client, { command: "bash -c 'echo \"$BASH_EXEC_WRAPPER\" | grep -c execve-wrapper; /bin/echo inner'" });
    expect(result).toMatchObject({ exit_code: 0, output: "1\ninner\n" });
  });

  test("login shell is the default and `login: false` uses -c", async () => {
    const login = await client.callTool({ name: "shell", arguments: { command: "shopt -q login_shell && echo login", workdir: "/tmp" } });
    expect(JSON.parse((login.content as { text: string }[])[0]!.text).output).toBe("login\n");
    expect((await shell(client, { command: "shopt -q login_shell || echo plain", login: false })).output).toBe("plain\n");
  });

  test("the command runs in workdir with stdin at /dev/null", async () => {
    const dir = tempDir();
    const result = await shell(client, { command: "pwd; cat; readlink /proc/$$/fd/0", workdir: dir });
    expect(result.output).toBe(`${dir}\n/dev/null\n`);
  });

  test("a #!/usr/bin/env bash script runs under the patched Bash", async () => {
    const dir = tempDir();
    const script = join(dir, "script.sh");
    writeFileSync(script, '#!/usr/bin/env bash\necho "wrapper=${BASH_EXEC_WRAPPER##*/}"\n/bin/echo from-script\n');
    chmodSync(script, 0o755);
    const result = await shell(client, { command: "./script.sh", workdir: dir });
    expect(result).toMatchObject({ exit_code: 0, output: "wrapper=codex-execve-wrapper\nfrom-script\n" });
  });

  test("every argument reaches the program intact, even with `_` exported to the server", async () => {
    // The patched Bash loses arguments now and then when `_` is exported to
    // it; a server started from a shell has `_` in its environment.
    const exported = await connect({ env: isolatedEnv({ _: "/usr/bin/env" }) });
    await setSandbox(exported, { type: "danger-full-access" });
    const result = await shell(exported, {
      command: 'for i in $(seq 300); do /usr/bin/test "x$i" = "x$i" || echo "lost an argument at $i"; done; echo checked',
      timeout_ms: 60_000,
    });
    await exported.close();
    expect(result.output).toBe("checked\n");
  });

  test("the embedded Bash is our own build, not the reference's (whose patch corrupts argv)", async () => {
    const result = await shell(client, { command: 'echo "$BASH_VERSION"' });
    expect(result.output).toBe("5.2.15(1)-release\n");
  });

  test("SIGPIPE behaves normally in programs started through the wrapper", async () => {
    const result = await shell(client, { command: "yes | head -n 2; echo ${PIPESTATUS[0]}" });
    expect(result.output).toBe("y\ny\n141\n");
  });
});

describe("bad arguments get a clear tool error and run nothing", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["missing command", { workdir: "/tmp" }, "missing required argument `command`"],
    ["missing workdir", { command: "true" }, "missing required argument `workdir`"],
    ["relative workdir", { command: "true", workdir: "tmp" }, "`workdir` must be an absolute path"],
    ["missing workdir directory", { command: "true", workdir: "/no/such/dir" }, "`workdir` /no/such/dir does not exist"],
    ["command of the wrong type", { command: 5, workdir: "/tmp" }, "`command` must be a string"],
    ["negative timeout", { command: "true", workdir: "/tmp", timeout_ms: -1 }, "`timeout_ms` must not be negative"],
    ["login of the wrong type", { command: "true", workdir: "/tmp", login: "yes" }, "`login` must be true or false"],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      const marker = join(tempDir(), "ran");
      const result = await client.callTool({ name: "shell", arguments: { ...args, command: args.command === "true" ? `touch ${marker}` : args.command } });
      expect(result.isError).toBe(true);
      expect((result.content as { text: string }[])[0]!.text).toContain(message);
      expect(await Bun.file(marker).exists()).toBe(false);
    });
  }

  test("unknown tool", async () => {
    const result = await client.callTool({ name: "exec", arguments: {} });
    expect(result.isError).toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toContain("unknown tool `exec`");
  });
});

describe("progress", () => {
  test("with a progressToken, a long call reports the tail of its output", async () => {
    const updates: { progress: number; message?: string }[] = [];
    const result = await client.callTool(
      { name: "shell", arguments: { command: "for i in 1 2 3; do echo tick$i; sleep 0.7; done", workdir: "/tmp", login: false } },
      undefined,
      { onprogress: (update) => updates.push(update) },
    );
    expect(result.isError).toBe(false);
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.length).toBeLessThanOrEqual(3);
    expect(updates.at(-1)!.message).toMatch(/tick[123]\n$/);
    const progressValues = updates.map((update) => update.progress);
    expect([...progressValues].sort((a, b) => a - b)).toEqual(progressValues);
  });

  test("without a progressToken nothing is sent", async () => {
    let notified = 0;
    client.setNotificationHandler(ProgressNotificationSchema, () => {
      notified++;
    });
    await shell(client, { command: "echo a; sleep 1.2; echo b" });
    expect(notified).toBe(0);
  });
});
