// Finding the patched Bash: `--bash`, then CODEX_BASH_PATH, then the builds of
// @openai/codex-shell-tool-mcp@0.97.0 embedded in our binary at build time,
// extracted once into a per-user cache named by content hash.
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, release } from "node:os";
import { join } from "node:path";

export interface BashVariant {
  name: string;
  ids: readonly string[];
  versions: readonly string[];
}

// The same choice the reference's launcher makes from /etc/os-release.
export const LINUX_BASH_VARIANTS: readonly BashVariant[] = [
  { name: "ubuntu-24.04", ids: ["ubuntu"], versions: ["24.04"] },
  { name: "ubuntu-22.04", ids: ["ubuntu"], versions: ["22.04"] },
  { name: "ubuntu-20.04", ids: ["ubuntu"], versions: ["20.04"] },
  { name: "debian-12", ids: ["debian"], versions: ["12"] },
  { name: "debian-11", ids: ["debian"], versions: ["11"] },
  { name: "centos-9", ids: ["centos", "rhel", "rocky", "almalinux"], versions: ["9"] },
];
const DARWIN_BASH_VARIANTS = [
  { name: "macos-15", minDarwin: 24 },
  { name: "macos-14", minDarwin: 23 },
];

/** Our own static build, embedded when scripts/build-bash.ts made one. */
const STATIC_VARIANT = "static";

export class BashNotFoundError extends Error {
  override name = "BashNotFoundError";
}

export interface OsRelease {
  id: string;
  idLike: string[];
  versionId: string;
}

export function parseOsRelease(text: string): OsRelease {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) fields.set(match[1]!, match[2]!.replace(/^["']|["']$/g, ""));
  }
  return {
    id: (fields.get("ID") ?? "").toLowerCase(),
    idLike: (fields.get("ID_LIKE") ?? "").toLowerCase().split(/\s+/).filter(Boolean),
    versionId: fields.get("VERSION_ID") ?? "",
  };
}

/**
 * Orders the available variants best first: same distribution and version,
 * then same distribution family, then the rest (a Bash built for a close glibc
 * usually runs).
 */
export function rankLinuxVariants(os: OsRelease, available: readonly string[]): string[] {
  const score = (name: string): number => {
    const variant = LINUX_BASH_VARIANTS.find((candidate) => candidate.name === name);
    if (variant === undefined) return 0;
    const sameFamily = variant.ids.includes(os.id) || variant.ids.some((id) => os.idLike.includes(id));
    if (!sameFamily) return 1;
    return variant.versions.some((prefix) => os.versionId.startsWith(prefix)) ? 3 : 2;
  };
  const order = (name: string) => LINUX_BASH_VARIANTS.findIndex((variant) => variant.name === name);
  return [...available].sort((a, b) => score(b) - score(a) || order(a) - order(b));
}

export function rankDarwinVariants(darwinRelease: string, available: readonly string[]): string[] {
  const major = Number.parseInt(darwinRelease.split(".")[0] ?? "0", 10);
  const preferred = DARWIN_BASH_VARIANTS.filter((variant) => major >= variant.minDarwin).map((variant) => variant.name);
  return [...preferred.filter((name) => available.includes(name)), ...available.filter((name) => !preferred.includes(name))];
}

function embeddedBashes(): Map<string, Blob> {
  const found = new Map<string, Blob>();
  for (const file of Bun.embeddedFiles) {
    const name = (file as Blob & { name?: string }).name ?? "";
    // Bun names embedded files `<stem>-<hash>.<ext>`: strip the hash suffix.
    const match = /^bash-(.+)-[a-z0-9]{8}\.?[a-z]*$/.exec(name);
    if (match) found.set(match[1]!, file);
  }
  return found;
}

export function cacheRoot(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith("/") ? env.XDG_CACHE_HOME : join(env.HOME || homedir(), ".cache");
  return join(base, "codex-exec-mcp");
}

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/**
 * Writes `bytes` to `<cache>/bash/<sha256>/bash` unless an identical file is
 * already there. Concurrent servers each write a private temporary file and
 * rename it into place, so a reader never sees a partial file.
 */
export function extractToCache(bytes: Uint8Array, root: string): string {
  const digest = sha256(bytes);
  const dir = join(root, "bash", digest.slice(0, 32));
  const target = join(dir, "bash");
  if (existsSync(target) && sha256(readFileSync(target)) === digest) {
    accessSync(target, constants.X_OK);
    return target;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temporary = join(dir, `.bash-${process.pid}-${Date.now()}`);
  try {
    writeFileSync(temporary, bytes, { mode: 0o755 });
    chmodSync(temporary, 0o755);
    renameSync(temporary, target);
  } finally {
    rmSync(temporary, { force: true });
  }
  if (sha256(readFileSync(target)) !== digest) throw new BashNotFoundError(`extracted Bash at ${target} does not match its embedded copy`);
  return target;
}

export interface BashSources {
  flag?: string;
  env: NodeJS.ProcessEnv;
}

function usableExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const DOTSLASH_SHEBANG = "#!/usr/bin/env dotslash";

function isDotslashFile(path: string): boolean {
  try {
    return readFileSync(path, "utf8").startsWith(DOTSLASH_SHEBANG);
  } catch {
    return false;
  }
}

/** The Bash a DotSlash file describes, fetched (and verified) by `dotslash` itself. */
function fetchWithDotslash(source: string, file: string, env: NodeJS.ProcessEnv): string {
  let fetched: ReturnType<typeof Bun.spawnSync>;
  try {
    fetched = Bun.spawnSync(["dotslash", "--", "fetch", file], { env, stdout: "pipe", stderr: "pipe" });
  } catch {
    throw new BashNotFoundError(`${source}: ${file} is a DotSlash file, but the dotslash command is not installed (npm install -g fb-dotslash)`);
  }
  const path = fetched.stdout?.toString().trim() ?? "";
  if (fetched.exitCode !== 0 || path === "") {
    throw new BashNotFoundError(`${source}: dotslash could not fetch ${file}: ${fetched.stderr?.toString().trim() || `exit ${fetched.exitCode}`}`);
  }
  return path;
}

/** A Bash named by the user: an executable, or a DotSlash file describing one. */
function userBash(source: string, path: string, env: NodeJS.ProcessEnv): string {
  const resolved = isDotslashFile(path) ? fetchWithDotslash(source, path, env) : path;
  if (!usableExecutable(resolved)) throw new BashNotFoundError(`${source}: not an executable file`);
  return resolved;
}

/** Resolves the patched Bash to use, or throws a BashNotFoundError naming every place tried. */
export async function resolveBash({ flag, env }: BashSources): Promise<string> {
  if (flag !== undefined && flag !== "") return userBash(`--bash ${flag}`, flag, env);
  const fromEnv = env.CODEX_BASH_PATH;
  if (fromEnv !== undefined && fromEnv !== "") return userBash(`CODEX_BASH_PATH=${fromEnv}`, fromEnv, env);
  const embedded = embeddedBashes();
  if (embedded.size === 0) {
    throw new BashNotFoundError(
      "no patched Bash: pass --bash <path>, set CODEX_BASH_PATH, or use a binary built with an embedded Bash (this one has none)",
    );
  }
  const names = [...embedded.keys()];
  // Our own static build runs on any Linux of its architecture and has the
  // argv fix (scripts/build-bash.ts); the reference's builds are per distribution.
  const ranked = names.includes(STATIC_VARIANT)
    ? [STATIC_VARIANT]
    : process.platform === "darwin"
      ? rankDarwinVariants(release(), names)
      : rankLinuxVariants(parseOsRelease(existsSync("/etc/os-release") ? readFileSync("/etc/os-release", "utf8") : ""), names);
  const failures: string[] = [];
  for (const variant of ranked) {
    const path = extractToCache(new Uint8Array(await embedded.get(variant)!.arrayBuffer()), cacheRoot(env));
    // A build for another distribution may need a newer libc than this one has.
    const probe = Bun.spawnSync([path, "-c", ":"], { stdout: "ignore", stderr: "pipe" });
    if (probe.exitCode === 0) return path;
    failures.push(`${variant}: ${probe.stderr.toString().trim() || `exit ${probe.exitCode}`}`);
  }
  throw new BashNotFoundError(`none of the embedded Bash builds runs here (${failures.join("; ")}); pass --bash <path> or set CODEX_BASH_PATH`);
}
