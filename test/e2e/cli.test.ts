// The command line a user meets: --version, --help, doctor, logging flags.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, isolatedEnv, ROOT, SERVER_BINARY, setSandbox, shell, tempDir } from "../support.ts";

async function run(args: string[], env: Record<string, string> = isolatedEnv()) {
  const child = Bun.spawn([SERVER_BINARY, ...args], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

test("--version prints the version", async () => {
  const result = await run(["--version"]);
  expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  expect(result.code).toBe(0);
});

test("--help lists the subcommands and the reference's flags", async () => {
  const { stdout } = await run(["--help"]);
  for (const word of ["serve", "check", "doctor", "--bash", "--execve", "--preserve-program-paths", "--log-level"]) expect(stdout).toContain(word);
});

test("an unknown log level is refused before serving", async () => {
  const result = await run(["--log-level", "loud"]);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('unknown log level "loud"');
});

describe("doctor", () => {
  test("on this machine: every check passes and the verdict says ready", async () => {
    const result = await run(["doctor"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok {4}bash .*intercepts every exec/m);
    expect(result.stdout).toMatch(/^ok {4}landlock +ABI \d+/m);
    expect(result.stdout).toMatch(/^ok {4}sandbox launch/m);
    expect(result.stdout).toMatch(/^ok +namespaces +user, mount, PID, IPC and network namespaces/m);
    expect(result.stdout).toMatch(/^ok +exec-mediation +every execve\/execveat of a confined call is judged by the rules/m);
    expect(result.stdout).toContain("verdict: ready to serve");
  });

  test("exec mediation switched off is a warning naming what is lost, not a blocker", async () => {
    const result = await run(["doctor"], isolatedEnv({ CODEX_EXEC_DISABLE_EXEC_MEDIATION: "1" }));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^warn +exec-mediation +unavailable \(CODEX_EXEC_DISABLE_EXEC_MEDIATION=1\): rules only bind the programs Bash starts itself/m);
  });

  test("an unpatched Bash is a blocker", async () => {
    const result = await run(["doctor", "--bash", "/bin/bash"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL +bash +\/bin\/bash runs, but does not intercept exec/m);
  });

  test("a sandbox that cannot be applied is a blocker, a warning in degraded mode", async () => {
    const env = isolatedEnv({ CODEX_EXEC_TEST_SIMULATE_NO_LANDLOCK: "1" });
    const blocked = await run(["doctor"], env);
    expect(blocked.code).toBe(1);
    expect(blocked.stdout).toMatch(/^FAIL +sandbox launch .*Landlock is not available/m);
    const degraded = await run(["doctor", "--allow-unsandboxed"], env);
    expect(degraded.stdout).toMatch(/^(ok|warn) +sandbox launch/m);
  });

  test("a broken rules file is a blocker naming file and line", async () => {
    const env = isolatedEnv();
    mkdirSync(join(env.CODEX_HOME!, "rules"));
    writeFileSync(join(env.CODEX_HOME!, "rules", "bad.rules"), 'prefix_rule(pattern=["git"], decision="maybe")\n');
    const result = await run(["doctor"], env);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`bad.rules:1:1:`);
    expect(result.stdout).toContain("invalid decision: maybe");
  });
});

describe("the README", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");

  test("its rules example loads and decides as the text says", async () => {
    const example = /```python\n([\s\S]*?)```/.exec(readme)![1]!;
    const dir = tempDir();
    writeFileSync(join(dir, "readme.rules"), example);
    const decide = async (...command: string[]) => JSON.parse((await run(["check", "-r", join(dir, "readme.rules"), ...command])).stdout).decision;
    expect(await decide("git", "log", "-1")).toBe("allow");
    expect(await decide("git", "push", "origin", "main")).toBe("prompt");
    expect(await decide("rm", "-rf", "/")).toBe("forbidden");
    expect(await decide("ls")).toBeUndefined();
  });

  test("its start command serves JSON-RPC on a clean stdout", async () => {
    const command = /^npm install && (npm start -s)\b/m.exec(readme)![1]!;
    const child = Bun.spawn(["sh", "-c", command], { cwd: ROOT, env: isolatedEnv(), stdin: "pipe", stdout: "pipe", stderr: "ignore" });
    child.stdin.write('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"readme","version":"1"}}}\n');
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    child.kill();
    const firstLine = new TextDecoder().decode(value).split("\n")[0]!;
    expect(JSON.parse(firstLine)).toMatchObject({ jsonrpc: "2.0", id: 1, result: { serverInfo: { name: "codex-exec-mcp-server" } } });
    // It rebuilds the binary first: over a minute on a loaded 2-core machine.
  }, 300_000);
});

test("--output-limit caps what a call keeps, head and tail", async () => {
  const client = await connect({ args: ["--output-limit", "1000"] });
  await setSandbox(client, { type: "danger-full-access" });
  const result = await shell(client, { command: "printf 'H%.0s' $(seq 600); printf 'T%.0s' $(seq 600)" });
  await client.close();
  expect(result.output).toStartWith("H".repeat(500));
  expect(result.output).toEndWith("T".repeat(500));
  expect(result.output).toContain("200 bytes of output omitted");
});

test("a bad --output-limit is refused before serving", async () => {
  const result = await run(["--output-limit", "lots"]);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('--output-limit must be a positive number, got "lots"');
});

describe("check: command words are never options", () => {
  test("-h, --help and citty-breaking words like -_ inside the command are data", async () => {
    const dir = tempDir();
    const rules = join(dir, "p.rules");
    writeFileSync(rules, 'prefix_rule(pattern=["ls", "-h"], decision="prompt")\nprefix_rule(pattern=["-_"], decision="forbidden")\n');
    for (const [command, decision] of [
      [["ls", "-h"], "prompt"],
      [["-_", "--_", "-x_"], "forbidden"],
      [["--", "-_"], "forbidden"],
      [["git", "--help"], undefined],
      [["--x_", "-h"], undefined],
    ] as const) {
      const result = await run(["check", "-r", rules, ...command]);
      expect({ command, code: result.code, stderr: result.stderr }).toEqual({ command, code: 0, stderr: "" });
      expect(JSON.parse(result.stdout).decision).toBe(decision);
    }
  });

  test("a missing rules file is an error even with -h in the command", async () => {
    const result = await run(["check", "-r", join(tempDir(), "missing.rules"), "ls", "-h"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("failed to read policy at");
  });

  test("-h before the command prints check's usage, uncoloured, on stdout", async () => {
    const result = await run(["check", "-h"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toStartWith("Evaluate a command against .rules files");
    expect(result.stdout).not.toContain("\x1b[");
  });

  test("no input makes it print a stack trace", async () => {
    for (const args of [["check"], ["check", "-r"], ["check", "-r", tempDir(), "ls"], ["check", "-r", "/dev/null", "--", "-_"]]) {
      const result = await run(args);
      expect(result.stderr).not.toMatch(/\n\s+at |TypeError|\/\$bunfs\//);
    }
  });
});

// One file per disagreement class of issue 13, with what the newest `codex
// execpolicy check` answered for it. The server loads rules with the same
// parser as `check`: it refuses to start on exactly the files `check` refuses,
// naming the same place, and starts on the others.
describe("rules parity: check and the server agree with Codex on each class", () => {
  const classes: { name: string; rules: string; command: string[]; location?: string; decision?: string }[] = [
    { name: "tab", rules: 'prefix_rule(pattern=["a"],\tdecision="prompt")\n', command: ["a"], location: "1:27" },
    { name: "-h among the command words", rules: 'prefix_rule(pattern=["ls"])\n', command: ["ls", "-h"], decision: "allow" },
    { name: "unknown string prefix", rules: 'prefix_rule(pattern=[R"a"])\n', command: ["a"], location: "1:23" },
    { name: "byte-order mark", rules: '\ufeffprefix_rule(pattern=["a"])\n', command: ["a"], location: "1:1" },
    { name: "U+0085 is whitespace", rules: 'prefix_rule(pattern=["a"], justification="\\u0085")\n', command: ["a"], location: "1:1" },
    { name: "U+FEFF is not whitespace", rules: 'prefix_rule(pattern=["a"], justification="\\ufeff")\n', command: ["a"], decision: "allow" },
    { name: "lone CR", rules: 'prefix_rule(pattern=["a"])\rprefix_rule(pattern=["b"])\n', command: ["a"], location: "1:27" },
    {
      name: "a later syntax error wins",
      rules: 'prefix_rule(pattern=["a"], decision=-1)\nprefix_rule(pattern=["b"],\tdecision="prompt")\n',
      command: ["a"],
      location: "2:27",
    },
    { name: "invalid escape", rules: 'prefix_rule(pattern=["a"], justification="xx\\ud800")\n', command: ["a"], location: "1:45" },
    { name: "backslash continuation", rules: 'prefix_rule(pattern=["a"], \\\ndecision="prompt")\n', command: ["a"], decision: "prompt" },
    { name: "leading spaces", rules: '  prefix_rule(pattern=["a"])\n', command: ["a"], location: "1:1" },
    { name: "columns count characters", rules: 'prefix_rule(pattern=["😀😀"], decision = "y" junk)\n', command: ["a"], location: "1:44" },
    { name: "words citty misread", rules: 'prefix_rule(pattern=["-_"], decision="forbidden")\n', command: ["-_", "--_", "-x_"], decision: "forbidden" },
    {
      name: "network_rule",
      rules: 'network_rule(host="example.com", protocol="https", decision="deny")\nprefix_rule(pattern=["a"], decision="prompt")\n',
      command: ["a"],
      decision: "prompt",
    },
  ];

  test.each(classes)("$name", async ({ rules, command, location, decision }) => {
    const env = isolatedEnv();
    const file = join(env.CODEX_HOME!, "rules", "class.rules");
    mkdirSync(join(env.CODEX_HOME!, "rules"));
    writeFileSync(file, rules);

    const explicit = await run(["check", "-r", file, "--", ...command], env);
    const asServer = await run(["check", "--", ...command], env);
    const server = Bun.spawn([SERVER_BINARY], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [serverCode, serverErr] = await Promise.all([server.exited, new Response(server.stderr).text()]);

    for (const result of [explicit, asServer]) {
      if (location === undefined) {
        expect(result.code).toBe(0);
        expect(JSON.parse(result.stdout).decision).toBe(decision);
      } else {
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`${file}:${location}:`);
      }
    }
    if (location === undefined) {
      expect(serverCode).toBe(0);
    } else {
      expect(serverCode).not.toBe(0);
      expect(serverErr).toContain(`${file}:${location}:`);
    }
    const warned = /network_rule.*not enforced/;
    if (rules.includes("network_rule")) {
      expect(explicit.stderr).toMatch(warned);
      expect(serverErr).toMatch(warned);
    } else {
      expect(serverErr).not.toMatch(warned);
    }
  });
});
