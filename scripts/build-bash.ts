// Builds our own patched Bash: Debian's bash 5.2.15 source with
// scripts/bash/exec-wrapper.patch, linked statically so it runs on any x86_64
// or aarch64 Linux. scripts/build.ts embeds it in place of the Bash builds of
// @openai/codex-shell-tool-mcp@0.97.0, whose patch writes two pointers past the
// end of the argv array (heap overflow): about 1 exec in 100 then reaches the
// wrapper with one argument emptied.
//
//   bun scripts/build-bash.ts [<bash_5.2.15.orig.tar.gz>] [--configure-apt]
//
// Without a tarball the source is fetched from Debian with
// `apt-get source --download-only bash`; `--configure-apt` (root, as in CI)
// first adds a deb-src entry for Debian bookworm if apt has none. The result is
// cached in dist/patched-bash/, keyed by the source, the patch and this
// script, so rebuilding the binary does not rebuild Bash.
import { $ } from "bun";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const patch = join(root, "scripts/bash/exec-wrapper.patch");
// The Linux sandbox's namespace stage: not a patch of Bash but a file linked
// into it (it runs from a constructor only when started under its own name).
const namespaceStage = join(root, "scripts/bash/codex-namespace.c");
const PATCHED_BASH_DIR = join(root, "dist/patched-bash");

const SOURCE_VERSION = "5.2.15";
const DEB_SRC_ENTRY = "/etc/apt/sources.list.d/codex-exec-mcp-debian-src.sources";

/** Debian's upstream tarball of bash, downloaded into dist/bash-source once. */
async function fetchSource(configureApt: boolean): Promise<string> {
  const dir = join(root, "dist/bash-source");
  const tarball = join(dir, `bash_${SOURCE_VERSION}.orig.tar.gz`);
  if (existsSync(tarball)) return tarball;
  if (configureApt && !existsSync(DEB_SRC_ENTRY)) {
    writeFileSync(
      DEB_SRC_ENTRY,
      "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    );
    await $`apt-get update -qq`.quiet();
  }
  mkdirSync(dir, { recursive: true });
  await $`apt-get source --download-only -qq bash`.cwd(dir).quiet();
  if (!existsSync(tarball)) throw new Error(`apt-get source did not provide ${tarball} (is Debian bookworm's deb-src enabled?)`);
  return tarball;
}

const given = process.argv.slice(2).find((arg) => !arg.startsWith("--"));
const tarball = given ?? (await fetchSource(process.argv.includes("--configure-apt")));
if (!existsSync(tarball)) {
  console.error(`usage: bun scripts/build-bash.ts [<bash_${SOURCE_VERSION}.orig.tar.gz>] [--configure-apt]; ${tarball} does not exist`);
  process.exit(2);
}

const key = new Bun.CryptoHasher("sha256")
  .update(readFileSync(tarball))
  .update(readFileSync(patch))
  .update(readFileSync(namespaceStage))
  .update(readFileSync(import.meta.path))
  .update(process.arch)
  .digest("hex");
const output = join(PATCHED_BASH_DIR, "bash");
const stamp = join(PATCHED_BASH_DIR, "key");
if (existsSync(output) && existsSync(stamp) && readFileSync(stamp, "utf8") === key) {
  console.error(`patched Bash is up to date: ${output}`);
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), "codex-exec-bash-"));
try {
  await $`tar xzf ${tarball} -C ${work}`;
  const source = join(work, `bash-${SOURCE_VERSION}`);
  await $`git apply -p1 ${patch}`.cwd(source);
  // Readline stays in: login profiles call its builtins (`complete`, `bind`).
  await $`./configure --quiet --without-bash-malloc --disable-nls --enable-static-link`.cwd(source).quiet();
  // Compiled by Bash's own rules, so with the compiler configure chose (a cross compiler too).
  copyFileSync(namespaceStage, join(source, "codex-namespace.c"));
  await $`make -s codex-namespace.o`.cwd(source).quiet();
  await $`make -j${cpus().length} -s LOCAL_LIBS=${join(source, "codex-namespace.o")}`.cwd(source).quiet();
  await $`strip bash`.cwd(source);
  const built = await $`./bash -c 'echo "$BASH_VERSION"'`.cwd(source).text();
  // The namespace stage must be in (it exits 0 when this kernel lets it work, 121 when not).
  const stage = Bun.spawnSync([join(source, "bash"), "--probe"], { argv0: "codex-linux-namespace" } as Parameters<typeof Bun.spawnSync>[1] & { argv0: string });
  if (stage.exitCode !== 0 && stage.exitCode !== 121) throw new Error(`the namespace stage is missing from the built Bash (exit ${stage.exitCode})`);
  mkdirSync(PATCHED_BASH_DIR, { recursive: true });
  copyFileSync(join(source, "bash"), output);
  writeFileSync(stamp, key);
  console.error(`built patched Bash ${built.trim()} (static) at ${output}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
