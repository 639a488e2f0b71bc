// bash.dotslash: its entries match the reference's published tarball, and
// `--bash <file>.dotslash` really goes through the real `dotslash` (from the
// npm package fb-dotslash), which downloads, verifies and unpacks the Bash.
// The download comes from a loopback server holding the same tarball, as the
// release host is out of reach here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, isolatedEnv, ROOT, setSandbox, shell, tempDir } from "../support.ts";

const DOTSLASH = join(ROOT, "node_modules/.bin/dotslash");
const REFERENCE = "@openai/codex-shell-tool-mcp@0.97.0";

interface DotslashEntry {
  size: number;
  hash: string;
  digest: string;
  format: string;
  path: string;
  providers: { url?: string; type?: string; tag?: string; name?: string }[];
}

/** DotSlash files are a shebang line, then JSON with comments and trailing commas. */
function parseDotslash(text: string): { name: string; platforms: Record<string, DotslashEntry> } {
  const [shebang, ...rest] = text.split("\n");
  expect(shebang).toBe("#!/usr/bin/env dotslash");
  let json = "";
  let inString = false;
  const body = rest.join("\n");
  for (let i = 0; i < body.length; i++) {
    const char = body[i]!;
    if (inString) {
      json += char;
      if (char === "\\") json += body[++i];
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
      json += char;
    } else if (char === "/" && body[i + 1] === "/") {
      while (i < body.length && body[i] !== "\n") i++;
      json += "\n";
    } else {
      json += char;
    }
  }
  return JSON.parse(json.replace(/,(\s*[}\]])/g, "$1"));
}

let tarball: string;
beforeAll(async () => {
  const dir = tempDir();
  // From the npm cache when the install already fetched it.
  const pack = Bun.spawnSync(["npm", "pack", "--prefer-offline", "--silent", REFERENCE, "--pack-destination", dir], { stderr: "pipe" });
  expect(pack.exitCode).toBe(0);
  tarball = join(dir, pack.stdout.toString().trim().split("\n").at(-1)!);
});

describe("bash.dotslash", () => {
  const file = parseDotslash(readFileSync(join(ROOT, "bash.dotslash"), "utf8"));

  test("describes Linux x86_64 and aarch64 and macOS aarch64", () => {
    expect(file.name).toBe("bash");
    expect(Object.keys(file.platforms).sort()).toEqual(["linux-aarch64", "linux-x86_64", "macos-aarch64"]);
  });

  test("the Linux x86_64 entry matches the reference's tarball: size, blake3 digest and path", () => {
    const entry = file.platforms["linux-x86_64"]!;
    expect(entry.size).toBe(statSync(tarball).size);
    expect(entry.hash).toBe("blake3");
    const b3sum = Bun.spawnSync([DOTSLASH, "--", "b3sum", tarball]);
    expect(entry.digest).toBe(b3sum.stdout.toString().trim().split(/\s+/)[0]!);
    expect(entry.format).toBe("tar.gz");
    const listing = Bun.spawnSync(["tar", "tzf", tarball]).stdout.toString().split("\n");
    for (const platform of Object.values(file.platforms)) expect(listing).toContain(platform.path);
    expect(entry.providers[0]!.url).toBe("https://github.com/openai/codex/releases/download/rust-v0.97.0/codex-shell-tool-mcp-npm-0.97.0.tgz");
  });
});

describe("--bash <file>.dotslash", () => {
  let server: ReturnType<typeof Bun.serve>;
  afterAll(() => server?.stop(true));

  test("the server runs the Bash that dotslash fetched and verified", async () => {
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(Bun.file(tarball)) });
    const original = parseDotslash(readFileSync(join(ROOT, "bash.dotslash"), "utf8"));
    const local = { ...original.platforms["linux-x86_64"]!, providers: [{ url: `http://127.0.0.1:${server.port}/bash.tgz` }] };
    const dir = tempDir();
    const dotslashFile = join(dir, "bash.dotslash");
    writeFileSync(dotslashFile, `#!/usr/bin/env dotslash\n${JSON.stringify({ name: "bash", platforms: { "linux-x86_64": local } })}\n`);
    const env = isolatedEnv({ DOTSLASH_CACHE: join(dir, "cache"), PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}` });
    const client = await connect({ env, args: ["--bash", dotslashFile] });
    await setSandbox(client, { type: "danger-full-access" });
    const result = await shell(client, { command: 'echo "$BASH_VERSION"; echo "${BASH%/*}"' });
    await client.close();
    // The reference's Bash is 5.3; ours (embedded) is 5.2.
    expect(result.output).toStartWith("5.3.");
    expect(result.output.split("\n")[1]).toStartWith(join(dir, "cache"));
  });

  test("a DotSlash file without dotslash installed is a clear start-up error", async () => {
    const env = isolatedEnv({ PATH: "/usr/bin:/bin" });
    const child = Bun.spawn([join(ROOT, "dist/codex-exec-mcp-server"), "--bash", join(ROOT, "bash.dotslash")], { env, stdin: "ignore", stderr: "pipe" });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).not.toBe(0);
    expect(stderr).toContain("is a DotSlash file, but the dotslash command is not installed");
  });
});
