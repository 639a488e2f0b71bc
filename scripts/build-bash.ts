// Builds our own patched Bash: Debian's bash 5.2.15 source with the patch in
// scripts/bash/, linked statically so it runs on any x86_64 or aarch64 Linux.
// scripts/build.ts calls ensurePatchedBash() for every Linux target, so the
// README's `npm start` / `npm test` build it the first time on their own.
// We never fall back to the Bash builds of @openai/codex-shell-tool-mcp@0.97.0
// on Linux: their patch writes two pointers past the end of the argv array,
// and about 1 exec in 7 then reaches the wrapper with an argument emptied.
//
//   bun scripts/build-bash.ts [--arch x64|arm64] [<bash_5.2.15.orig.tar.gz>]
//
// The source comes from Debian's archive through apt (`apt-get source`), with
// a private apt configuration whose only entry is a deb-src twin of the
// system's own Debian archive entry: the system's apt setup is not touched,
// and apt checks the download against the archive's signed index. The tarball
// is also checked against a pinned SHA-256. Source and result are cached in
// $XDG_CACHE_HOME/codex-exec-mcp/build (default ~/.cache), keyed by the
// patch files, this script and the architecture, so later builds and other
// clones of the repository reuse them.
import { $ } from "bun";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus, homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const PATCH_DIR = join(root, "scripts/bash");
/**
 * The Linux sandbox's namespace stage: not a patch of Bash but a file linked
 * into it (it runs from a constructor only when started under its own name).
 */
const NAMESPACE_STAGE = "codex-namespace.c";
/** The stage's exit status when this kernel refuses namespaces (a probe, not a failure of the build). */
const STAGE_REFUSED_EXIT = 121;

const SOURCE_PACKAGE = "bash=5.2.15-2";
const SOURCE_VERSION = "5.2.15";
const SOURCE_TARBALL = `bash_${SOURCE_VERSION}.orig.tar.gz`;
const SOURCE_SHA256 = "7a315bc0e9d90713159e4390ec1096a41e4f33cd8cc3d1a749a8e5ad56600f51";
/** The Debian release whose archive holds SOURCE_PACKAGE (any mirror of the system's serves it). */
const SOURCE_SUITE = "bookworm";
const DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

export type BashArch = "x64" | "arm64";

interface Toolchain {
  /** GNU triplet for configure's --host; undefined builds for the host. */
  host: string | undefined;
  cc: string;
  strip: string;
  /** Debian packages that provide it, for the error message. */
  packages: string;
}

/** Why our Bash could not be built, and what to install or do about it. */
export class BashBuildError extends Error {
  override name = "BashBuildError";
  constructor(
    readonly reason: string,
    readonly fix: string,
  ) {
    super(`${reason}\n  fix: ${fix}`);
  }
}

export function buildCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== "" ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "codex-exec-mcp", "build");
}

function hostArch(): BashArch {
  return process.arch === "arm64" ? "arm64" : "x64";
}

function toolchainFor(arch: BashArch): Toolchain {
  if (arch === hostArch()) return { host: undefined, cc: "gcc", strip: "strip", packages: "gcc make libc6-dev" };
  const triplet = arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  const crossLibc = arch === "arm64" ? "libc6-dev-arm64-cross" : "libc6-dev-amd64-cross";
  return { host: triplet, cc: `${triplet}-gcc`, strip: `${triplet}-strip`, packages: `gcc-${triplet} ${crossLibc} make` };
}

async function checkToolchain(arch: BashArch, toolchain: Toolchain): Promise<void> {
  const install = `apt-get install ${toolchain.packages}`;
  for (const tool of [toolchain.cc, "make", toolchain.strip, "tar"]) {
    if (Bun.which(tool) === null) {
      throw new BashBuildError(`\`${tool}\` is not installed; our Bash for linux-${arch} is compiled from source`, install);
    }
  }
  // A static link needs libc.a; gcc prints the bare name when it has none.
  const libc = (await $`${toolchain.cc} -print-file-name=libc.a`.quiet().nothrow().text()).trim();
  if (!libc.startsWith("/") || !existsSync(libc)) {
    throw new BashBuildError(`${toolchain.cc} has no static C library (libc.a); our Bash is linked statically`, install);
  }
}

/** The URI of the system's Debian archive, from apt's deb822 or one-line sources. */
function debianArchiveUri(): string | undefined {
  const texts: string[] = [];
  for (const file of ["/etc/apt/sources.list"]) if (existsSync(file)) texts.push(readFileSync(file, "utf8"));
  const partsDir = "/etc/apt/sources.list.d";
  if (existsSync(partsDir)) {
    for (const name of readdirSync(partsDir).sort()) {
      if (name.endsWith(".sources") || name.endsWith(".list")) texts.push(readFileSync(join(partsDir, name), "utf8"));
    }
  }
  const isArchive = (uri: string) => /^https?:\/\/[^/]+\/debian\/?$/.test(uri);
  for (const text of texts) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(.+)$/im.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      const found = uris.find(isArchive);
      if (found !== undefined) return found;
    }
    for (const line of text.split("\n")) {
      const match = /^\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
      if (match !== null && isArchive(match[1]!)) return match[1];
    }
  }
  return undefined;
}

async function fetchSource(cacheDir: string): Promise<string> {
  const tarball = join(cacheDir, SOURCE_TARBALL);
  if (existsSync(tarball)) return tarball;
  if (Bun.which("apt-get") === null) {
    throw new BashBuildError(
      "apt-get is not available to fetch Debian's bash source",
      `download Debian's ${SOURCE_TARBALL} (source package ${SOURCE_PACKAGE}) and run \`npm run build:bash -- <path to it>\``,
    );
  }
  const archive = debianArchiveUri();
  if (archive === undefined) {
    throw new BashBuildError(
      "apt has no Debian archive among its sources, so Debian's bash source cannot be fetched",
      `download Debian's ${SOURCE_TARBALL} (source package ${SOURCE_PACKAGE}) and run \`npm run build:bash -- <path to it>\``,
    );
  }
  const work = mkdtempSync(join(tmpdir(), "codex-exec-apt-"));
  try {
    for (const dir of ["parts", "lists/partial", "cache/archives/partial", "out"]) mkdirSync(join(work, dir), { recursive: true });
    const signedBy = existsSync(DEBIAN_KEYRING) ? `Signed-By: ${DEBIAN_KEYRING}\n` : "";
    writeFileSync(join(work, "parts/debian-src.sources"), `Types: deb-src\nURIs: ${archive}\nSuites: ${SOURCE_SUITE}\nComponents: main\n${signedBy}`);
    const aptOptions = [
      "-o", "Dir::Etc::SourceList=/dev/null",
      "-o", `Dir::Etc::SourceParts=${join(work, "parts")}`,
      "-o", `Dir::State::Lists=${join(work, "lists")}`,
      "-o", `Dir::Cache=${join(work, "cache")}`,
      "-o", "Debug::NoLocking=1",
      // As root apt downloads as `_apt`, who cannot write into our private directory.
      "-o", "APT::Sandbox::User=root",
    ];
    console.error(`fetching Debian's bash source (${SOURCE_PACKAGE}) from ${archive} with a private apt configuration`);
    const update = await $`apt-get -qq ${aptOptions} update`.quiet().nothrow();
    const source = update.exitCode === 0 ? await $`apt-get -qq ${aptOptions} source --download-only ${SOURCE_PACKAGE}`.cwd(join(work, "out")).quiet().nothrow() : update;
    const fetched = join(work, "out", SOURCE_TARBALL);
    if (source.exitCode !== 0 || !existsSync(fetched)) {
      throw new BashBuildError(
        `apt-get could not fetch ${SOURCE_PACKAGE} from ${archive}: ${(source.stderr.toString().trim() || `exit ${source.exitCode}`).split("\n").slice(-3).join(" / ")}`,
        `check the network access to Debian's archive, or download ${SOURCE_TARBALL} yourself and run \`npm run build:bash -- <path to it>\``,
      );
    }
    mkdirSync(cacheDir, { recursive: true });
    const staged = `${tarball}.${process.pid}`;
    copyFileSync(fetched, staged);
    renameSync(staged, tarball);
    return tarball;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function checkTarball(tarball: string): void {
  const digest = new Bun.CryptoHasher("sha256").update(readFileSync(tarball)).digest("hex");
  if (digest !== SOURCE_SHA256) {
    throw new BashBuildError(`${tarball} is not Debian's ${SOURCE_TARBALL} (sha256 ${digest}, expected ${SOURCE_SHA256})`, "remove it and build again");
  }
}

/** Everything the build depends on besides the source tarball. */
function buildKey(arch: BashArch): string {
  const hasher = new Bun.CryptoHasher("sha256").update(readFileSync(import.meta.path)).update(arch);
  for (const name of readdirSync(PATCH_DIR).sort()) hasher.update(name).update(readFileSync(join(PATCH_DIR, name)));
  return hasher.digest("hex").slice(0, 24);
}

async function compile(tarball: string, arch: BashArch, toolchain: Toolchain, output: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "codex-exec-bash-"));
  try {
    await $`tar xzf ${tarball} -C ${work}`.quiet();
    const source = join(work, `bash-${SOURCE_VERSION}`);
    for (const name of readdirSync(PATCH_DIR).filter((file) => file.endsWith(".patch")).sort()) {
      await $`git apply -p1 ${join(PATCH_DIR, name)}`.cwd(source).quiet();
    }
    const cross = toolchain.host === undefined ? [] : [`--host=${toolchain.host}`, `CC=${toolchain.cc}`, "CC_FOR_BUILD=gcc"];
    // Readline stays in: login profiles call its builtins (`complete`, `bind`).
    const configure = await $`./configure --quiet --without-bash-malloc --disable-nls --enable-static-link ${cross}`.cwd(source).quiet().nothrow();
    if (configure.exitCode !== 0) throw new BashBuildError(`configure failed for linux-${arch}:\n${configure.stderr.toString().slice(-2000)}`, `apt-get install ${toolchain.packages}`);
    // Compiled by Bash's own rules, so with the compiler configure chose (a cross compiler too).
    copyFileSync(join(PATCH_DIR, NAMESPACE_STAGE), join(source, NAMESPACE_STAGE));
    const stageObject = NAMESPACE_STAGE.replace(/\.c$/, ".o");
    const make = await $`make -s ${stageObject} && make -j${cpus().length} -s LOCAL_LIBS=${join(source, stageObject)}`.cwd(source).quiet().nothrow();
    if (make.exitCode !== 0) throw new BashBuildError(`make failed for linux-${arch}:\n${make.stderr.toString().slice(-2000)}`, `apt-get install ${toolchain.packages}`);
    await $`${toolchain.strip} bash`.cwd(source).quiet();
    if (toolchain.host === undefined) {
      const version = (await $`./bash -c 'echo "$BASH_VERSION"'`.cwd(source).text()).trim();
      if (!version.startsWith(SOURCE_VERSION)) throw new BashBuildError(`the built Bash reports version ${JSON.stringify(version)}`, "report this as a bug");
      // The namespace stage must be in (it exits 0 when this kernel lets it work, STAGE_REFUSED_EXIT when not).
      const stage = Bun.spawnSync([join(source, "bash"), "--probe"], { argv0: "codex-linux-namespace" });
      if (stage.exitCode !== 0 && stage.exitCode !== STAGE_REFUSED_EXIT) {
        throw new BashBuildError(`the namespace stage is missing from the built Bash (probe exit ${stage.exitCode})`, "report this as a bug");
      }
    }
    mkdirSync(join(output, ".."), { recursive: true });
    const staged = `${output}.${process.pid}`;
    copyFileSync(join(source, "bash"), staged);
    renameSync(staged, output);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The path of our patched, static Bash for `arch`, building it (and fetching
 * its source) the first time. Throws BashBuildError saying why it cannot.
 */
export async function ensurePatchedBash(arch: BashArch, options: { tarball?: string } = {}): Promise<string> {
  const cacheDir = buildCacheDir();
  const output = join(cacheDir, `bash-${SOURCE_VERSION}-linux-${arch}-${buildKey(arch)}`, "bash");
  if (existsSync(output)) return output;
  const toolchain = toolchainFor(arch);
  await checkToolchain(arch, toolchain);
  const tarball = options.tarball ?? (await fetchSource(cacheDir));
  checkTarball(tarball);
  const started = performance.now();
  console.error(`building our patched Bash ${SOURCE_VERSION} for linux-${arch} (static; about a minute, once)`);
  await compile(tarball, arch, toolchain, output);
  console.error(`built ${output} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return output;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const archIndex = args.indexOf("--arch");
  const arch = archIndex >= 0 ? args[archIndex + 1] : hostArch();
  if (arch !== "x64" && arch !== "arm64") {
    console.error(`usage: bun scripts/build-bash.ts [--arch x64|arm64] [<${SOURCE_TARBALL}>]`);
    process.exit(2);
  }
  const tarball = args.find((arg, i) => !arg.startsWith("--") && args[i - 1] !== "--arch");
  try {
    console.log(await ensurePatchedBash(arch, { tarball: tarball === undefined ? undefined : resolve(tarball) }));
  } catch (error) {
    if (!(error instanceof BashBuildError)) throw error;
    console.error(`error: cannot build our patched Bash: ${error.message}`);
    process.exit(1);
  }
}
