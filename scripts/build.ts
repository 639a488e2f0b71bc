// Builds the single binary for the host (or a given target):
//   dist/codex-exec-mcp-server, with dist/codex-execve-wrapper -> it.
// A patched Bash is embedded as files named bash-<variant>: ours
// (bash-static) when scripts/build-bash.ts has built it for this target,
// else the builds of @openai/codex-shell-tool-mcp@0.97.0 for the target.
import { $ } from "bun";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const target = process.env.BUILD_TARGET ?? `bun-${process.platform}-${process.arch === "x64" ? "x64" : "arm64"}`;
const outDir = resolve(root, process.env.BUILD_OUT_DIR ?? "dist");

const vendorTriples: Record<string, string> = {
  "bun-linux-x64": "x86_64-unknown-linux-musl",
  "bun-linux-arm64": "aarch64-unknown-linux-musl",
  "bun-darwin-arm64": "aarch64-apple-darwin",
};
const triple = vendorTriples[target];
if (triple === undefined) throw new Error(`no patched Bash is published for ${target}; known: ${Object.keys(vendorTriples).join(", ")}`);

// Inside the repository whatever BUILD_OUT_DIR says: Bun names embedded
// entry points relative to the common root of all inputs, and the server
// loads its socket worker as ./src/escalate/socket-worker.ts.
const stage = join(root, "dist", ".embed");
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

// Our own static Bash (scripts/build-bash.ts) when it was built for this
// target; otherwise the reference's builds, one per distribution.
const hostTarget = `bun-linux-${process.arch === "x64" ? "x64" : "arm64"}`;
const patchedBash = join(root, "dist/patched-bash/bash");
let embedded: string[];
if (target === hostTarget && process.platform === "linux" && existsSync(patchedBash)) {
  embedded = [join(stage, "bash-static")];
  cpSync(patchedBash, embedded[0]!);
} else {
  console.error(`note: embedding the reference's Bash builds (no dist/patched-bash for ${target}; see scripts/build-bash.ts)`);
  const bashRoot = join(root, "node_modules/@openai/codex-shell-tool-mcp/vendor", triple, "bash");
  embedded = readdirSync(bashRoot).map((variant) => {
    const staged = join(stage, `bash-${variant}`);
    cpSync(join(bashRoot, variant, "bash"), staged);
    return staged;
  });
}

const binary = join(outDir, "codex-exec-mcp-server");
const extra = process.env.BUILD_RUNTIME ? ["--compile-executable-path", process.env.BUILD_RUNTIME] : [];
const compiled = await $`${process.execPath} build --compile --target=${target} ${extra} --bytecode --splitting --format=esm --minify --no-compile-autoload-dotenv --no-compile-autoload-bunfig ${join(root, "src/main.ts")} ${join(root, "src/escalate/socket-worker.ts")} ${embedded} --outfile ${binary}`.cwd(root).quiet().nothrow();
// stdout stays clean: `npm start -s` serves JSON-RPC on it right after building.
process.stderr.write(compiled.stdout);
process.stderr.write(compiled.stderr);
if (compiled.exitCode !== 0) process.exit(compiled.exitCode);
rmSync(stage, { recursive: true, force: true });

const wrapper = join(outDir, "codex-execve-wrapper");
if (existsSync(wrapper)) rmSync(wrapper);
symlinkSync("codex-exec-mcp-server", wrapper);
console.error(`built ${binary} (${target}) with ${embedded.length} embedded Bash variants`);
