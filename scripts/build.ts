// Builds the single binary for the host (or a given target):
//   dist/codex-exec-mcp-server, with dist/codex-execve-wrapper -> it.
// A patched Bash is embedded as files named bash-<variant>. Linux: always our
// own static build (bash-static), compiled the first time by
// scripts/build-bash.ts; if it cannot be built the build fails and says why,
// never falling back to a Bash known to corrupt arguments. macOS
// (experimental): the builds of @openai/codex-shell-tool-mcp@0.97.0, since
// nothing here can compile for it.
import { $ } from "bun";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { type BashArch, BashBuildError, ensurePatchedBash } from "./build-bash.ts";

const root = resolve(import.meta.dir, "..");
const target = process.env.BUILD_TARGET ?? `bun-${process.platform}-${process.arch === "x64" ? "x64" : "arm64"}`;
const outDir = resolve(root, process.env.BUILD_OUT_DIR ?? "dist");

const linuxArchs: Record<string, BashArch> = { "bun-linux-x64": "x64", "bun-linux-arm64": "arm64" };
const darwinTriples: Record<string, string> = { "bun-darwin-arm64": "aarch64-apple-darwin" };
const linuxArch = linuxArchs[target];
const darwinTriple = darwinTriples[target];
if (linuxArch === undefined && darwinTriple === undefined) {
  throw new Error(`no patched Bash for ${target}; known: ${[...Object.keys(linuxArchs), ...Object.keys(darwinTriples)].join(", ")}`);
}

// Inside the repository whatever BUILD_OUT_DIR says: Bun names embedded
// entry points relative to the common root of all inputs, and the server
// loads its socket worker as ./src/escalate/socket-worker.ts.
const stage = join(root, "dist", ".embed");
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

let embedded: string[];
if (linuxArch !== undefined) {
  let ours: string;
  try {
    ours = await ensurePatchedBash(linuxArch);
  } catch (error) {
    if (!(error instanceof BashBuildError)) throw error;
    console.error(`error: cannot build our patched Bash for ${target}: ${error.message}`);
    console.error("The binary was not built: it embeds our own Bash (see README, \"Our Bash\").");
    process.exit(1);
  }
  embedded = [join(stage, "bash-static")];
  cpSync(ours, embedded[0]!);
} else {
  console.error(`note: ${target} is experimental: embedding the reference's Bash builds (our Bash is built for Linux only)`);
  const bashRoot = join(root, "node_modules/@openai/codex-shell-tool-mcp/vendor", darwinTriple!, "bash");
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
console.error(`built ${binary} (${target}) with ${linuxArch !== undefined ? "our patched Bash" : `the reference's ${embedded.length} Bash builds`}`);
