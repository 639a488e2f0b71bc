// Wire compatibility of our Bash's own client: the reference's server (Rust,
// from @openai/codex-shell-tool-mcp@0.97.0) with our Bash as its shell, so
// every exec is asked about by the frames our Bash sends itself, and the
// reference carries out its decisions from them.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, isolatedEnv, OUR_BASH, REFERENCE_SERVER, ROOT, setSandbox, shell, tempDir, WRAPPER_BINARY } from "../support.ts";

const RULES = ['prefix_rule(pattern=["sh"], decision="allow")', 'prefix_rule(pattern=["touch"], decision="forbidden")', ""].join("\n");

let client: Client;
beforeAll(async () => {
  const home = tempDir("codex-exec-reference-home-");
  mkdirSync(join(home, "rules"));
  writeFileSync(join(home, "rules/test.rules"), RULES);
  const env = isolatedEnv({ CODEX_HOME: home });
  delete env.RUST_LOG;
  client = await connect({ command: REFERENCE_SERVER, args: ["--execve", WRAPPER_BINARY, "--bash", OUR_BASH], env });
  await setSandbox(client, { type: "danger-full-access" });
});
afterAll(async () => {
  await client?.close();
});

describe("the reference's server, our Bash asking it directly", () => {
  test("Run, Escalate (allow rule) and Deny (forbidden rule)", async () => {
    const dir = tempDir();
    const canary = join(dir, "canary");
    const result = await shell(client, {
      command: `/bin/echo ran; FOO=bar /bin/sh -c 'echo "$0 $FOO"; exit 3'; echo "sh=$?"; touch ${canary}; echo "touch=$?"`,
      workdir: dir,
    });
    // The reference puts all of stderr after all of stdout.
    expect(result.output).toBe("ran\n/bin/sh bar\nsh=3\ntouch=1\nExecution denied: Execution forbidden by policy\n");
    expect(existsSync(canary)).toBe(false);
  });

  test("descriptor 3 stays the command's: the swap idiom and exec 3>/dev/null", async () => {
    const result = await shell(client, { command: "ls -d /usr 3>&1 1>&2 2>&3; exec 3>/dev/null; /bin/echo after" });
    // The listing went to stderr (swapped), which the reference puts last.
    expect(result.output).toBe("after\n/usr\n");
  });
});
