// Finding the patched Bash: precedence, the distribution choice, and the
// content-addressed extraction shared by concurrent servers.
import { describe, expect, test } from "bun:test";
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BashNotFoundError, extractToCache, parseOsRelease, rankDarwinVariants, rankLinuxVariants, resolveBash } from "../../src/exec/bash.ts";
import { tempDir } from "../support.ts";

const ALL_LINUX = ["centos-9", "debian-11", "debian-12", "ubuntu-22.04", "ubuntu-24.04"];

describe("choosing the Bash variant from /etc/os-release", () => {
  test("parses quoted fields and ID_LIKE lists", () => {
    expect(parseOsRelease('ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n')).toEqual({
      id: "rocky",
      idLike: ["rhel", "centos", "fedora"],
      versionId: "9.3",
    });
  });

  const cases: [string, string, string][] = [
    ["Debian 12", "ID=debian\nVERSION_ID=12\n", "debian-12"],
    ["Debian 11", "ID=debian\nVERSION_ID=11\n", "debian-11"],
    ["Ubuntu 22.04", "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=22.04\n", "ubuntu-22.04"],
    ["Ubuntu 26.04 falls back to the newest Ubuntu build", "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=26.04\n", "ubuntu-24.04"],
    ["Rocky 9 through ID_LIKE", 'ID=rocky\nID_LIKE="rhel centos fedora"\nVERSION_ID=9.3\n', "centos-9"],
    ["Debian 13 falls back to a Debian build", "ID=debian\nVERSION_ID=13\n", "debian-12"],
    ["an unknown distribution still gets a Bash", "ID=arch\n", "ubuntu-24.04"],
  ];
  for (const [name, osRelease, expected] of cases) {
    test(name, () => {
      expect(rankLinuxVariants(parseOsRelease(osRelease), ALL_LINUX)[0]).toBe(expected);
    });
  }

  test("macOS picks by Darwin major version", () => {
    expect(rankDarwinVariants("24.1.0", ["macos-14", "macos-15"])[0]).toBe("macos-15");
    expect(rankDarwinVariants("23.6.0", ["macos-14", "macos-15"])[0]).toBe("macos-14");
  });
});

describe("extraction into the cache", () => {
  test("writes an executable named by content hash, once", () => {
    const cache = tempDir();
    const bytes = new TextEncoder().encode("#!/bin/sh\necho cached\n");
    const first = extractToCache(bytes, cache);
    expect(statSync(first).mode & 0o777).toBe(0o755);
    expect(readFileSync(first, "utf8")).toBe("#!/bin/sh\necho cached\n");
    const before = statSync(first).mtimeMs;
    expect(extractToCache(bytes, cache)).toBe(first);
    expect(statSync(first).mtimeMs).toBe(before);
    expect(Bun.spawnSync([first]).stdout.toString()).toBe("cached\n");
  });

  test("a corrupted cached copy is replaced", () => {
    const cache = tempDir();
    const bytes = new TextEncoder().encode("#!/bin/sh\necho good\n");
    const path = extractToCache(bytes, cache);
    writeFileSync(path, "#!/bin/sh\necho tampered\n");
    expect(extractToCache(bytes, cache)).toBe(path);
    expect(readFileSync(path, "utf8")).toBe("#!/bin/sh\necho good\n");
  });

  test("servers extracting at the same time all get a whole file", async () => {
    const cache = tempDir();
    const script = `
      import { extractToCache } from ${JSON.stringify(join(import.meta.dir, "../../src/exec/bash.ts"))};
      const bytes = new Uint8Array(4 * 1024 * 1024).fill(65);
      const path = extractToCache(bytes, process.argv[2]);
      const size = (await Bun.file(path).arrayBuffer()).byteLength;
      console.log(size);
    `;
    const file = join(cache, "extract.ts");
    writeFileSync(file, script);
    const runs = Array.from({ length: 6 }, () => Bun.spawn([process.execPath, file, cache], { stdout: "pipe" }));
    const sizes = await Promise.all(runs.map((run) => new Response(run.stdout).text()));
    expect(sizes.map((size) => size.trim())).toEqual(Array(6).fill(String(4 * 1024 * 1024)));
    const leftovers = readdirSync(join(cache, "bash"), { recursive: true }).map(String).filter((name) => name.includes(".bash-"));
    expect(leftovers).toEqual([]);
  });
});

describe("precedence and errors", () => {
  test("--bash wins over CODEX_BASH_PATH", async () => {
    expect(await resolveBash({ flag: "/bin/sh", env: { CODEX_BASH_PATH: "/bin/bash" } })).toBe("/bin/sh");
    expect(await resolveBash({ env: { CODEX_BASH_PATH: "/bin/bash" } })).toBe("/bin/bash");
  });

  test("a missing or non-executable Bash is a clear error naming the source", async () => {
    const dir = tempDir();
    const notExecutable = join(dir, "bash");
    writeFileSync(notExecutable, "");
    chmodSync(notExecutable, 0o644);
    await expect(resolveBash({ flag: "/no/such/bash", env: {} })).rejects.toThrow("--bash /no/such/bash: not an executable file");
    await expect(resolveBash({ env: { CODEX_BASH_PATH: notExecutable } })).rejects.toThrow(`CODEX_BASH_PATH=${notExecutable}: not an executable file`);
  });

  test("from source (nothing embedded) the error says what to do", async () => {
    const error = await resolveBash({ env: {} }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BashNotFoundError);
    expect((error as Error).message).toContain("pass --bash <path>, set CODEX_BASH_PATH");
  });
});
