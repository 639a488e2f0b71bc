// Lays out release binaries: dist/release/<platform>/codex-exec-mcp-server
// (+ the codex-execve-wrapper symlink) for each target, and
// dist/release/SHA256SUMS over the binaries.
//
//   bun scripts/release.ts                       (all targets)
//   bun scripts/release.ts linux-x64 darwin-arm64
//
// Cross targets need Bun's runtime for that target: Bun fetches the package
// @oven/bun-<target> from the npm registry by itself, or set
// BUILD_RUNTIME_<PLATFORM> (e.g. BUILD_RUNTIME_DARWIN_ARM64) to a bun binary
// taken from `npm pack @oven/bun-darwin-aarch64`. Only the host target can be
// run (and tested) on the machine that builds.
import { $ } from "bun";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const releaseDir = join(root, "dist/release");
const PLATFORMS = ["linux-x64", "linux-arm64", "darwin-arm64"] as const;
type Platform = (typeof PLATFORMS)[number];

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(PLATFORMS as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`unknown platform(s) ${unknown.join(", ")}; known: ${PLATFORMS.join(", ")}`);
  process.exit(2);
}
const platforms = (requested.length > 0 ? requested : PLATFORMS) as Platform[];

rmSync(releaseDir, { recursive: true, force: true });
mkdirSync(releaseDir, { recursive: true });
for (const platform of platforms) {
  const runtime = process.env[`BUILD_RUNTIME_${platform.toUpperCase().replace("-", "_")}`];
  const env = { ...process.env, BUILD_TARGET: `bun-${platform}`, BUILD_OUT_DIR: join(releaseDir, platform), ...(runtime ? { BUILD_RUNTIME: runtime } : {}) };
  await $`${process.execPath} ${join(root, "scripts/build.ts")}`.env(env);
}

const sums: string[] = [];
for (const platform of readdirSync(releaseDir).sort()) {
  const binary = join(releaseDir, platform, "codex-exec-mcp-server");
  if (!existsSync(binary)) continue;
  const digest = new Bun.CryptoHasher("sha256").update(await Bun.file(binary).arrayBuffer()).digest("hex");
  sums.push(`${digest}  ${platform}/codex-exec-mcp-server`);
}
writeFileSync(join(releaseDir, "SHA256SUMS"), `${sums.join("\n")}\n`);
console.error(`release in ${releaseDir}:\n${sums.join("\n")}`);
