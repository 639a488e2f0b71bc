// The linux-arm64 release, smoke-tested under qemu-user: it embeds our own
// Bash (cross-compiled, static), never the reference's, and that Bash and the
// server binary run on aarch64. Needs Debian's gcc-aarch64-linux-gnu,
// libc6-dev-arm64-cross (also the aarch64 glibc the Bun runtime links to) and
// qemu-user-static; Bun fetches its aarch64 runtime from the npm registry.
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensurePatchedBash } from "../../scripts/build-bash.ts";
import { ESCALATE_SOCKET_ENV } from "../../src/escalate/protocol.ts";
import { closeFd, SOCK_SEQPACKET, socketPair } from "../../src/ffi/socket.ts";
import { ROOT, SERVER_BINARY, tempDir } from "../support.ts";

const QEMU = "qemu-aarch64-static";
/** Where Debian's cross packages put the aarch64 glibc (the Bun runtime is dynamically linked). */
const AARCH64_SYSROOT = "/usr/aarch64-linux-gnu";
const OUT_DIR = join(ROOT, "dist/test-release/linux-arm64");
const BINARY = join(OUT_DIR, "codex-exec-mcp-server");
/** Building and emulating a 110 MB binary on a loaded 2-core machine. */
const SLOW_MS = 600_000;

if (Bun.which(QEMU) === null) throw new Error(`${QEMU} is missing: apt-get install qemu-user-static (see README, "Set up")`);

/** Extra descriptors for the child, by number (3 and up). */
type ExtraFds = Record<number, number>;

function run(argv: string[], env: Record<string, string> = {}, fds: ExtraFds = {}): { status: number; stdout: string; stderr: string } {
  const highest = Math.max(2, ...Object.keys(fds).map(Number));
  const extra = Array.from({ length: highest - 2 }, (_, i) => fds[i + 3] ?? ("ignore" as const));
  const result = Bun.spawnSync(argv, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe", ...extra] });
  return { status: result.exitCode, stdout: result.stdout?.toString() ?? "", stderr: result.stderr?.toString() ?? "" };
}

function emulate(argv: string[], env: Record<string, string> = {}, fds: ExtraFds = {}) {
  return run([QEMU, "-L", AARCH64_SYSROOT, ...argv], env, fds);
}

let arm64Bash: string;
beforeAll(async () => {
  arm64Bash = await ensurePatchedBash("arm64");
  const built = run([process.execPath, join(ROOT, "scripts/build.ts")], { BUILD_TARGET: "bun-linux-arm64", BUILD_OUT_DIR: OUT_DIR });
  if (built.status !== 0 || !existsSync(BINARY)) throw new Error(`building the linux-arm64 binary failed:\n${built.stderr}`);
}, SLOW_MS);

describe("our Bash for aarch64", () => {
  test("is a static aarch64 executable that runs `-c 'echo ok'`", () => {
    const header = readFileSync(arm64Bash).subarray(0, 20);
    expect([...header.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    // e_machine 183 = EM_AARCH64.
    expect(header.readUInt16LE(18)).toBe(183);
    expect(emulate([arm64Bash, "-c", "echo ok"]).stdout).toBe("ok\n");
  });

  test("with an escalation socket it cannot use, routes every exec through the wrapper, with the file and the whole argv", () => {
    const dir = tempDir();
    const log = join(dir, "calls");
    const wrapper = join(dir, "wrapper");
    // A host script: the emulated Bash's execve runs it natively.
    writeFileSync(wrapper, `#!/bin/sh\nprintf '%s|' "$@" >> ${log}\necho >> ${log}\n`);
    chmodSync(wrapper, 0o755);
    // The server's end is closed: our Bash cannot ask itself, so it hands
    // each exec to the wrapper (never runs it unasked).
    const [serverEnd, clientEnd] = socketPair(SOCK_SEQPACKET);
    closeFd(serverEnd);
    let result: ReturnType<typeof emulate>;
    try {
      result = emulate([arm64Bash, "-c", "/bin/true one 'two words' ''; /bin/false x"], { EXEC_WRAPPER: wrapper, [ESCALATE_SOCKET_ENV]: "10" }, { 10: clientEnd });
    } finally {
      closeFd(clientEnd);
    }
    expect(result.status).toBe(0);
    expect(readFileSync(log, "utf8")).toBe("/bin/true|/bin/true|one|two words||\n/bin/false|/bin/false|x|\n");
  });
});

describe("the linux-arm64 server binary", () => {
  test("embeds our Bash, byte for byte", () => {
    const binary = readFileSync(BINARY);
    const bash = readFileSync(arm64Bash);
    expect(binary.indexOf(bash)).toBeGreaterThan(0);
  });

  test(
    "answers --version",
    () => {
      const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
      const result = emulate([BINARY, "--version"]);
      expect(result.stderr).toBe("");
      expect(result.stdout.trim()).toBe(version);
    },
    SLOW_MS,
  );

  test(
    "`check` decides as the host binary does",
    () => {
      const rules = join(tempDir(), "p.rules");
      writeFileSync(rules, 'prefix_rule(pattern=["git", "push"], decision="prompt")\n');
      const args = ["check", "--rules", rules, "git", "push", "origin", "main"];
      const host = run([SERVER_BINARY, ...args]);
      expect(host.status).toBe(0);
      const emulated = emulate([BINARY, ...args]);
      expect({ status: emulated.status, stdout: emulated.stdout }).toEqual({ status: 0, stdout: host.stdout });
      expect(JSON.parse(emulated.stdout)).toMatchObject({ decision: "prompt" });
    },
    SLOW_MS,
  );
});
