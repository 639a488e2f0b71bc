// Drives the real agent CLIs, configured exactly as the README's "Client
// configuration" section says, against our built server and a scripted model
// on 127.0.0.1 (model-server.ts). A maintainer runs it; the test suite does not.
//
//   bun scripts/clients/verify.ts [--only codex,codex-0.97,claude,gemini] [--cache DIR]
//
// The CLIs are installed from npm into a cache prefix (never into the
// project's node_modules). Side requests the CLIs make to their vendors' hosts
// fail on a machine without network, which is fine.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SERVER_PATH_PLACEHOLDER, shellCommands, snippet } from "./readme-snippets.ts";
import { startScriptedModel } from "./model-server.ts";

const ROOT = resolve(import.meta.dir, "../..");
const SERVER = join(ROOT, "dist/codex-exec-mcp-server");

interface ClientSpec {
  id: string;
  pkg: string;
  version: string;
  bin: string;
}

const CLIENTS: ClientSpec[] = [
  { id: "codex", pkg: "@openai/codex", version: "latest", bin: "codex" },
  { id: "codex-0.97", pkg: "@openai/codex", version: "0.97.0", bin: "codex" },
  { id: "claude", pkg: "@anthropic-ai/claude-code", version: "latest", bin: "claude" },
  { id: "gemini", pkg: "@google/gemini-cli", version: "latest", bin: "gemini" },
];

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    cache: { type: "string", default: join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "codex-exec-mcp/clients") },
    verbose: { type: "boolean", default: false },
  },
});
const only = values.only?.split(",");
const cache = resolve(values.cache);

/** Runs a CLI to its end. Asynchronous: the scripted model answers from this same process meanwhile. */
async function run(argv: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}) {
  const child = Bun.spawn(argv, {
    cwd: options.cwd,
    env: options.env ?? (process.env as Record<string, string>),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 120_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** Installs `pkg@version` into its own prefix under the cache once; returns the CLI path and exact version. */
async function install(spec: ClientSpec): Promise<{ bin: string; version: string }> {
  const resolved = spec.version === "latest" ? (await run(["npm", "view", `${spec.pkg}@latest`, "version"])).stdout.trim() : spec.version;
  if (resolved === "") throw new Error(`npm could not resolve ${spec.pkg}@${spec.version}`);
  const prefix = join(cache, `${spec.pkg.replace("/", "+")}@${resolved}`);
  const bin = join(prefix, "node_modules/.bin", spec.bin);
  if (!existsSync(bin)) {
    mkdirSync(prefix, { recursive: true });
    const result = await run(["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", prefix, `${spec.pkg}@${resolved}`], { timeoutMs: 900_000 });
    if (result.code !== 0 || !existsSync(bin)) throw new Error(`npm install ${spec.pkg}@${resolved} failed:\n${result.stderr}`);
  }
  return { bin, version: resolved };
}

interface Outcome {
  client: string;
  version: string;
  scenario: string;
  ok: boolean;
  detail: string;
}

const outcomes: Outcome[] = [];
function report(outcome: Outcome): void {
  outcomes.push(outcome);
  console.log(`${outcome.ok ? "ok  " : "FAIL"}  ${outcome.client} ${outcome.version}  ${outcome.scenario}: ${outcome.detail}`);
}

/** Environment for a CLI: our PATH and HOME sandboxed into `home`, nothing of the maintainer's own configuration. */
function cliEnv(home: string, extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    TMPDIR: process.env.TMPDIR ?? "/tmp",
    LANG: "C.UTF-8",
    TERM: "dumb",
    NO_COLOR: "1",
    ...extra,
  };
}

const last = (text: string, lines = 15) => text.trim().split("\n").slice(-lines).join("\n");

/** A workspace, a unique marker the command prints, and the file it tries to write. */
function scenarioSetup(label: string) {
  // Outside /tmp (which workspace-write makes writable anyway), so a write verdict is about the workspace.
  mkdirSync(join(cache, "work"), { recursive: true });
  const workspace = realpathSync(mkdtempSync(join(cache, "work", `${label}-`)));
  const marker = `marker-${label}-${Math.random().toString(36).slice(2, 10)}`;
  const target = join(workspace, "written-by-agent");
  const command = `echo ${marker}; touch ${target} && echo wrote || echo could-not-write`;
  return { workspace, marker, target, command };
}

/**
 * `--sandbox <mode>` as configured by the README. With `promptRule`, a
 * non-default CODEX_HOME holds a `prompt` rule for `touch`: the server sees it
 * only if Codex passes CODEX_HOME on (`env_vars`), and `codex exec` cannot ask,
 * so the write is denied with our message.
 */
async function codexScenario(spec: ClientSpec, bin: string, version: string, sandbox: "read-only" | "workspace-write", promptRule = false): Promise<void> {
  const { workspace, marker, target, command } = scenarioSetup(`${spec.id}-${sandbox}${promptRule ? "-rule" : ""}`);
  const home = mkdtempSync(join(cache, "work", "home-"));
  const codexHome = join(home, "codex-home");
  mkdirSync(join(codexHome, "rules"), { recursive: true });
  if (promptRule) writeFileSync(join(codexHome, "rules/default.rules"), 'prefix_rule(pattern=["touch"], decision="prompt")\n');
  const model = startScriptedModel({ command, workdir: workspace });
  try {
    const readme = snippet("Codex", "toml").replaceAll(SERVER_PATH_PLACEHOLDER, SERVER);
    // The README's config, then only what points Codex at the scripted model.
    const provider = [
      `model = "scripted"`,
      `model_provider = "scripted"`,
      "",
      "[model_providers.scripted]",
      `name = "scripted"`,
      `base_url = "${model.url}/v1"`,
      `wire_api = "responses"`,
      "request_max_retries = 0",
      "stream_max_retries = 0",
      "",
    ].join("\n");
    writeFileSync(join(codexHome, "config.toml"), `${provider}\n${readme}\n`);
    const result = await run(
      // --strict-config (newer Codex): a key of the README's config that this Codex does not know is an error, not ignored.
      [bin, "exec", ...(spec.version === "latest" ? ["--strict-config"] : []), "--skip-git-repo-check", "--sandbox", sandbox, "-C", workspace, "run the command"],
      { cwd: workspace, env: cliEnv(home, { CODEX_HOME: codexHome }) },
    );
    const seen = model.toolResults.join("\n");
    const wrote = existsSync(target);
    const reached = seen.includes(marker);
    const expectWrite = sandbox === "workspace-write" && !promptRule;
    const ok = reached && wrote === expectWrite && (!promptRule || seen.includes("Execution denied"));
    const detail = reached
      ? `output reached the model; write ${wrote ? "allowed" : "denied"} (${last(seen, 1).slice(0, 300)})`
      : `no output reached the model (exit ${result.code}; tools offered: ${model.offeredTools.join(", ") || "none"}; model requests: ${model.modelRequests.length})\n${last(result.stderr)}\n${last(result.stdout)}`;
    report({ client: spec.id, version, scenario: `--sandbox ${sandbox}${promptRule ? ", prompt rule in a non-default CODEX_HOME" : ""}`, ok, detail });
    if (values.verbose) console.log(result.stdout, result.stderr, seen, model.requestLog);
  } finally {
    model.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(workspace, { recursive: true, force: true });
  }
}

/** Runs a README `sh` snippet's commands with the CLI and the server put in. */
async function runReadmeCommands(client: string, bin: string, env: Record<string, string>, cwd: string): Promise<void> {
  for (const line of shellCommands(snippet(client, "sh"))) {
    const [program, ...args] = line.replaceAll(SERVER_PATH_PLACEHOLDER, SERVER).split(" ");
    if (program !== basename(bin)) throw new Error(`README ${client} command does not start with ${basename(bin)}: ${line}`);
    const result = await run([bin, ...args], { env, cwd });
    if (result.code !== 0) throw new Error(`\`${line}\` failed (${result.code}): ${last(result.stderr)} ${last(result.stdout)}`);
  }
}

function mergeJson(path: string, extra: Record<string, unknown>): void {
  const current: Record<string, unknown> = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>) : {};
  writeFileSync(path, JSON.stringify({ ...current, ...extra }, null, 2));
}

/**
 * Claude Code and Gemini CLI: installed as the README says, one headless
 * prompt. `promptRule` adds a `prompt` rule for `touch` in ~/.codex/rules
 * (these clients do not pass CODEX_HOME), `hook` the README's Elicitation hook.
 */
async function agentScenario(
  spec: ClientSpec,
  bin: string,
  version: string,
  scenario: { name: string; promptRule: boolean; hook: boolean; expectWrite: boolean; expectInOutput?: string },
): Promise<void> {
  const { workspace, marker, target, command } = scenarioSetup(`${spec.id}-${scenario.name.replace(/\W+/g, "-")}`);
  const home = mkdtempSync(join(cache, "work", "home-"));
  const model = startScriptedModel({ command, workdir: workspace });
  try {
    if (scenario.promptRule) {
      mkdirSync(join(home, ".codex/rules"), { recursive: true });
      writeFileSync(join(home, ".codex/rules/default.rules"), 'prefix_rule(pattern=["touch"], decision="prompt")\n');
    }
    const base = cliEnv(home, {});
    let env: Record<string, string>;
    let argv: string[];
    if (spec.id === "claude") {
      await runReadmeCommands("Claude Code", bin, base, workspace);
      mkdirSync(join(home, ".claude"), { recursive: true });
      const settings = JSON.parse(snippet("Claude Code", "json")) as Record<string, unknown>;
      const hooks = scenario.hook ? (JSON.parse(snippet("Claude Code, headless approvals", "json")) as Record<string, unknown>) : {};
      mergeJson(join(home, ".claude/settings.json"), { ...settings, ...hooks });
      env = { ...base, ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "scripted-model-key", DISABLE_AUTOUPDATER: "1", DISABLE_TELEMETRY: "1" };
      argv = [bin, "-p", "run the command"];
    } else {
      await runReadmeCommands("Gemini CLI", bin, base, workspace);
      mkdirSync(join(home, ".gemini/policies"), { recursive: true });
      writeFileSync(join(home, ".gemini/policies/shell.toml"), snippet("Gemini CLI", "toml"));
      // Only what points Gemini at the scripted model.
      mergeJson(join(home, ".gemini/settings.json"), { security: { auth: { selectedType: "gemini-api-key" } } });
      env = { ...base, GEMINI_API_KEY: "scripted-model-key", GOOGLE_GEMINI_BASE_URL: model.url };
      // A fresh workspace is not a trusted folder; headless Gemini then refuses to start.
      argv = [bin, "--skip-trust", "-p", "run the command"];
    }
    const result = await run(argv, { cwd: workspace, env });
    const seen = model.toolResults.join("\n");
    const wrote = existsSync(target);
    const reached = seen.includes(marker);
    const ok = reached && wrote === scenario.expectWrite && (scenario.expectInOutput === undefined || seen.includes(scenario.expectInOutput));
    const detail = reached
      ? `output reached the model; write ${wrote ? "allowed" : "denied"} (${seen.replace(/\s+/g, " ").slice(0, 300)})`
      : `no output reached the model (exit ${result.code}; tools offered: ${model.offeredTools.join(", ") || "none"}; requests: ${model.requestLog.join(", ")})\n${last(result.stderr)}\n${last(result.stdout)}`;
    report({ client: spec.id, version, scenario: scenario.name, ok, detail });
    if (values.verbose) console.log(result.stdout, result.stderr, seen, model.requestLog);
  } catch (error) {
    report({ client: spec.id, version, scenario: scenario.name, ok: false, detail: error instanceof Error ? error.message : String(error) });
  } finally {
    model.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(workspace, { recursive: true, force: true });
  }
}

for (const spec of CLIENTS) {
  if (only !== undefined && !only.includes(spec.id)) continue;
  let installed: { bin: string; version: string };
  try {
    installed = await install(spec);
  } catch (error) {
    report({ client: spec.id, version: spec.version, scenario: "install", ok: false, detail: error instanceof Error ? error.message : String(error) });
    continue;
  }
  if (spec.id.startsWith("codex")) {
    await codexScenario(spec, installed.bin, installed.version, "read-only");
    await codexScenario(spec, installed.bin, installed.version, "workspace-write");
    await codexScenario(spec, installed.bin, installed.version, "workspace-write", true);
  } else {
    // No sandbox state from these clients: the default read-only sandbox.
    await agentScenario(spec, installed.bin, installed.version, { name: "default sandbox", promptRule: false, hook: false, expectWrite: false });
    await agentScenario(spec, installed.bin, installed.version, {
      name: "prompt rule, nobody to ask",
      promptRule: true,
      hook: false,
      expectWrite: false,
      expectInOutput: "Execution denied",
    });
    if (spec.id === "claude") {
      await agentScenario(spec, installed.bin, installed.version, { name: "prompt rule, Elicitation hook accepts", promptRule: true, hook: true, expectWrite: true });
    }
  }
}

const failed = outcomes.filter((outcome) => !outcome.ok);
console.log(`\n${outcomes.length - failed.length}/${outcomes.length} scenarios passed`);
process.exitCode = failed.length === 0 ? 0 : 1;
