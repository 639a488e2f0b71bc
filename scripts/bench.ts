// Benchmark: our compiled server against the reference (the Rust
// codex-exec-mcp-server of @openai/codex-shell-tool-mcp@0.97.0), in the same
// run, on the same machine, both driven by the MCP SDK's Client over stdio as
// a user's client would, with the sandbox off (danger-full-access) so that the
// figures are the interception path and nothing else. A compiled Bun
// hello-world is timed too: it is the floor for a wrapper written in Bun.
//
//   bun scripts/bench.ts           (after `bun scripts/build.ts`; about 3 minutes)
//   BENCH_REPS=9 BENCH_HUGE_RUNS=5 bun scripts/bench.ts
//
// Prints Markdown tables of medians (BENCHMARKS.md holds a committed run).
// Not a test: it asserts only that each command really worked, so a broken
// server cannot look fast. Memory is read from /proc/<server pid>/status:
// VmRSS when idle, VmHWM (the peak) after the parallel batch and the 1 GB call.
//
// Configurations. The head-to-head ("ours" vs "reference") is what users get:
// our server with no flags (our embedded static Bash, which asks the server
// itself: no wrapper process per exec) against the reference with its patched
// Bash for Debian 12 and its wrapper. Two more configurations of our server
// are timed for the per-exec cost only: the reference's Bash with our Bun
// wrapper (the Bun wrapper's own cost, what every exec paid before our Bash
// spoke the protocol), and the reference's Bash with the reference's wrapper,
// which isolates the cost of our server's side of each exec.
//
// Exec mediation. In a sandboxed call our server also checks the execs of
// programs that are not Bash (seccomp user notification). Its cost is timed
// apart, in the same repetitions: two servers of ours with no flags, the same
// `workspace-write` sandbox and rules, one with mediation off
// (CODEX_EXEC_DISABLE_EXEC_MEDIATION=1), run `find -exec` and `xargs` over 200
// execs each; the added cost per exec is set against the reference's per-exec
// interception cost of the same run.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  PATCHED_BASH,
  REFERENCE_SERVER,
  REFERENCE_WRAPPER,
  SERVER_BINARY,
  setSandbox,
  tempDir,
  type ExecResultJson,
} from "../test/support.ts";

const REPS = Number(process.env.BENCH_REPS ?? 7);
/**
 * Runs of each tiny process-start measure per repetition: cheap, so several,
 * spread over the repetitions like the rest so that one burst of noise from
 * other processes cannot skew them all.
 */
const START_RUNS = 8;
const LOOP_EXECS = 200;
/** Plain-Bash runs of the loop per repetition, per Bash. */
const PLAIN_RUNS = 3;
const LOOP = `for i in $(seq ${LOOP_EXECS}); do /bin/true; done`;
const SEQ_COUNT = 100_000;
/** Bytes `seq n` prints: checked so that a truncated answer is not timed as a fast one. */
function seqBytes(count: number): number {
  let bytes = 0;
  for (let i = 1; i <= count; i++) bytes += String(i).length + 1;
  return bytes;
}
const SEQ_BYTES = seqBytes(SEQ_COUNT);
const PARALLEL_CALLS = 8;
const PARALLEL_EXECS = 50;
const PARALLEL_LINES = 20_000;
const PARALLEL_COMMAND = `for i in $(seq ${PARALLEL_EXECS}); do /bin/true; done; seq ${PARALLEL_LINES}`;
const PARALLEL_BYTES = seqBytes(PARALLEL_LINES);
const HUGE_BYTES = 1_000_000_000;
// `tr` rather than `yes`: every byte is the same, and no SIGPIPE is involved.
const HUGE_COMMAND = `head -c ${HUGE_BYTES} /dev/zero | tr '\\0' x`;
/** Generous: 1 GB through a pipe takes seconds, more on a loaded machine. */
const HUGE_TIMEOUT_MS = 600_000;
/** Runs of the 1 GB call per server, each on a fresh server (VmHWM only grows). */
const HUGE_RUNS = Number(process.env.BENCH_HUGE_RUNS ?? 3);
/** Pause after closing the servers of a repetition, before the plain-process measures. */
const SETTLE_AFTER_SERVERS_MS = 300;
/** Pause before reading the idle RSS, so that what the trivial call left behind can settle. */
const IDLE_SETTLE_MS = 200;
/** Targets, as multiples of the reference: per-exec interception cost, and the parallel batch. */
const PER_EXEC_TARGET = 0.5;
const PARALLEL_TARGET = 1.0;
/** Target for exec mediation: the cost it adds per exec, as a multiple of the reference's per-exec interception. */
const MEDIATION_TARGET = 0.25;

/** A server to start: the command line, and what it adds to the servers' environment. */
interface Server {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** A configuration of the head-to-head loop. */
interface Side extends Server {
  /** How the configuration is shown in the tables. */
  label: string;
  /** Every measure, or only the per-exec loop (the extra configurations). */
  full: boolean;
}

interface Configurations {
  /** Our wrapper: the symlink beside our server. */
  wrapper: string;
  ours: Side;
  reference: Side;
  oursBunWrapper: Side;
  oursReferenceWrapper: Side;
  all: Side[];
  /** Our server with no flags, exec mediation on (the default) and off: timed only on sandboxed mediated commands. */
  mediationOn: Server;
  mediationOff: Server;
}

/** The configurations, with our server (and wrapper, beside it) at `server`. */
function configurations(server: string): Configurations {
  const wrapper = join(dirname(server), "codex-execve-wrapper");
  // No flags: the embedded Bash, and the wrapper found beside the binary (its fallback).
  const ours: Side = {
    name: "ours",
    label: "ours with no flags (our Bash asks the server itself): what users get",
    command: server,
    args: [],
    full: true,
  };
  const reference: Side = {
    name: "reference",
    label: "reference (its Bash, its wrapper)",
    command: REFERENCE_SERVER,
    args: ["--bash", PATCHED_BASH, "--execve", REFERENCE_WRAPPER],
    full: true,
  };
  const oursBunWrapper: Side = {
    name: "ours-bun-wrapper",
    label: "our server + our Bun wrapper (reference's Bash)",
    command: server,
    args: ["--bash", PATCHED_BASH, "--execve", wrapper],
    full: false,
  };
  const oursReferenceWrapper: Side = {
    name: "ours-reference-wrapper",
    label: "our server + the reference's wrapper (reference's Bash)",
    command: server,
    args: ["--bash", PATCHED_BASH, "--execve", REFERENCE_WRAPPER],
    full: false,
  };
  const mediationOn: Server = { name: "ours-mediation-on", command: server, args: [] };
  const mediationOff: Server = { name: "ours-mediation-off", command: server, args: [], env: { [MEDIATION_OFF_ENV_VAR]: "1" } };
  return {
    wrapper,
    ours,
    reference,
    oursBunWrapper,
    oursReferenceWrapper,
    all: [ours, reference, oursBunWrapper, oursReferenceWrapper],
    mediationOn,
    mediationOff,
  };
}

/**
 * A private copy of our binary and its wrapper symlink: others may rebuild
 * dist/ while the benchmark runs, and a run must time one binary throughout.
 */
function snapshotBinary(scratch: string): string {
  const dir = join(scratch, "bin");
  mkdirSync(dir);
  const server = join(dir, "codex-exec-mcp-server");
  copyFileSync(SERVER_BINARY, server);
  chmodSync(server, 0o755);
  symlinkSync("codex-exec-mcp-server", join(dir, "codex-execve-wrapper"));
  return server;
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Milliseconds taken by `work`. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

function timedSync(work: () => void): number {
  const start = performance.now();
  work();
  return performance.now() - start;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A `kB` field of /proc/<pid>/status, in MiB. */
function procMemory(pid: number, field: "VmRSS" | "VmHWM" | "RssAnon"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** Our environment without the variables that would change what a Bash does when started by hand. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  // BASH_ENV: a login-less shell must not source the machine's profile hooks.
  // The wrapper variables: set when this script itself runs under an intercepting shell.
  const dropped = new Set(["BASH_ENV", "BASH_EXEC_WRAPPER", "EXEC_WRAPPER"]);
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !dropped.has(key)) env[key] = value;
  return env;
}

/**
 * The servers' environment: a CODEX_HOME (the directory `home` in `scratch`)
 * whose rules directory holds `rules`, empty unless said (no rule matches, so
 * every program is a plain Run), and a private cache (where our server
 * extracts its embedded Bash).
 */
function serverEnv(scratch: string, home = "codex-home", rules?: string): Record<string, string> {
  const codexHome = join(scratch, home);
  mkdirSync(join(codexHome, "rules"), { recursive: true });
  if (rules !== undefined) writeFileSync(join(codexHome, "rules", "bench.rules"), rules);
  return { ...cleanEnv(), CODEX_HOME: codexHome, XDG_CACHE_HOME: join(scratch, "cache") };
}

interface Running {
  client: Client;
  pid: number;
  close: () => Promise<void>;
}

async function start(server: Server, env: Record<string, string>): Promise<Running> {
  const transport = new StdioClientTransport({
    command: server.command,
    args: server.args,
    env: { ...env, ...server.env },
    stderr: "pipe",
  });
  let stderr = "";
  const client = new Client({ name: "codex-exec-bench", version: "1.0.0" }, { capabilities: {} });
  await client.connect(transport);
  // Drained, or a chatty server would block on a full pipe and time badly.
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const pid = transport.pid;
  if (pid === null) throw new Error(`${server.name}: the transport has no server pid`);
  return {
    client,
    pid,
    close: async () => {
      await client.close();
      if (stderr.length > 0) process.stderr.write(`[${server.name} stderr] ${stderr.slice(0, 2000)}\n`);
    },
  };
}

interface CallOptions {
  timeoutMs?: number;
  /** The call's working directory; /tmp unless said. */
  workdir?: string;
}

async function call(client: Client, command: string, { timeoutMs, workdir = "/tmp" }: CallOptions = {}): Promise<ExecResultJson> {
  const args = { command, workdir, login: false, ...(timeoutMs === undefined ? {} : { timeout_ms: timeoutMs }) };
  // The SDK's own request timeout (60 s) would cut a long call short.
  const options = timeoutMs === undefined ? undefined : { timeout: timeoutMs + 60_000 };
  const result = await client.callTool({ name: "shell", arguments: args }, undefined, options);
  const content = result.content as { type: string; text: string }[];
  if (result.isError) throw new Error(`tool error for \`${command}\`: ${content[0]?.text}`);
  return JSON.parse(content[0]!.text) as ExecResultJson;
}

/** Every timed call's own limit: generous, a loaded machine must not turn a slow sample into a failed run. */
const CALL_TIMEOUT_MS = 120_000;

async function expectCall(
  client: Client,
  command: string,
  check: (result: ExecResultJson) => boolean,
  workdir?: string,
): Promise<void> {
  const result = await call(client, command, { timeoutMs: CALL_TIMEOUT_MS, workdir });
  if (!check(result)) throw new Error(`unexpected result for \`${command}\`: ${JSON.stringify(result).slice(0, 500)}`);
}

/** Figures of one sample; the extra configurations leave the others out. */
interface Figures {
  trivialMs: number;
  loopMs: number;
  coldStartMs?: number;
  /** MiB, after initialize + one trivial call. */
  idleRss?: number;
  /**
   * MiB, the anonymous part of idleRss: the rest is pages of the executable
   * itself, page cache shared with every process mapping the same file.
   */
  idleAnon?: number;
  parallelMs?: number;
  /** MiB, the server's VmHWM after the parallel batches (and nothing heavier). */
  parallelHwm?: number;
  seqMs?: number;
}

type Measure = keyof Figures;

/** One sample of every measure for one side, on a fresh server; each kind of call runs once untimed first. */
async function sample(side: Side, env: Record<string, string>): Promise<Figures> {
  let running: Running | undefined;
  const coldStartMs = await timed(async () => {
    running = await start(side, env);
    await running.client.listTools();
  });
  const { client, pid, close } = running!;
  try {
    await setSandbox(client, { type: "danger-full-access" });
    const trivial = () => expectCall(client, "true", (r) => r.exit_code === 0 && r.output === "");
    const loop = () => expectCall(client, LOOP, (r) => r.exit_code === 0 && r.output === "");
    await trivial();
    if (!side.full) {
      await loop();
      const trivialMs = await timed(trivial);
      return { trivialMs, loopMs: await timed(loop) };
    }
    await sleep(IDLE_SETTLE_MS);
    const idleRss = procMemory(pid, "VmRSS");
    const idleAnon = procMemory(pid, "RssAnon");
    // The batch comes before any bigger call, so that the peak is its own.
    const batch = () =>
      Promise.all(
        Array.from({ length: PARALLEL_CALLS }, () =>
          expectCall(client, PARALLEL_COMMAND, (r) => r.exit_code === 0 && r.output.length === PARALLEL_BYTES),
        ),
      );
    await batch();
    const parallelMs = await timed(batch);
    const parallelHwm = procMemory(pid, "VmHWM");
    const seq = () => expectCall(client, `seq ${SEQ_COUNT}`, (r) => r.exit_code === 0 && r.output.length === SEQ_BYTES);
    await loop();
    await seq();
    // Several trivial calls per server: each is a few ms, the noisiest measure.
    const trivials: number[] = [];
    for (let i = 0; i < 5; i++) trivials.push(await timed(trivial));
    const loopMs = await timed(loop);
    const seqMs = await timed(seq);
    return { coldStartMs, trivialMs: median(trivials), loopMs, seqMs, idleRss, idleAnon, parallelMs, parallelHwm };
  } finally {
    await close();
  }
}

interface HugeFigures {
  ms: number;
  /** MiB: VmRSS before the call, VmHWM after it. */
  rssBefore: number;
  hwm: number;
  outputChars: number;
  exitCode: number;
}

/** One call printing 1 GB on a fresh server (after one trivial call); the server's peak RSS over it. */
async function hugeSample(side: Side, env: Record<string, string>): Promise<HugeFigures> {
  const { client, pid, close } = await start(side, env);
  try {
    await setSandbox(client, { type: "danger-full-access" });
    await expectCall(client, "true", (r) => r.exit_code === 0);
    await sleep(IDLE_SETTLE_MS);
    const rssBefore = procMemory(pid, "VmRSS");
    let result: ExecResultJson | undefined;
    const ms = await timed(async () => {
      result = await call(client, HUGE_COMMAND, { timeoutMs: HUGE_TIMEOUT_MS });
    });
    const hwm = procMemory(pid, "VmHWM");
    const { exit_code, output, timed_out } = result!;
    // Each side keeps a bounded part (ours head + tail with a marker, the
    // reference the first 1 MiB); anything else is a broken run.
    if (timed_out || !output.startsWith("x".repeat(1000)) || output.length > 2 * 1024 * 1024) {
      throw new Error(`${side.name}: unexpected 1 GB result: exit ${exit_code}, timed_out ${timed_out}, ${output.length} chars`);
    }
    return { ms, rssBefore, hwm, outputChars: output.length, exitCode: exit_code };
  } finally {
    await close();
  }
}

// Exec mediation: in a sandboxed call, every exec of any program, not only
// Bash's own, is checked against the rules (seccomp user notification). Its
// cost is timed on programs that are not Bash and exec many times, on two
// servers of the same binary with the same sandbox and rules, mediation on
// (the default) and off (the switch below).

const MEDIATION_OFF_ENV_VAR = "CODEX_EXEC_DISABLE_EXEC_MEDIATION";
/** Execs of /bin/true each mediated command makes. */
const MEDIATED_EXECS = 200;
/** The project's subdirectory holding MEDIATED_EXECS files, for `find`. */
const FIND_DIR = "files";
/** The files of FIND_DIR, relative to the project, sorted. */
const FIND_FILES = Array.from({ length: MEDIATED_EXECS }, (_, i) => `${FIND_DIR}/f${String(i + 1).padStart(3, "0")}`);
/**
 * The mediation servers' rules: `touch` is forbidden. Nothing timed runs it;
 * the probe runs it through `env` (Bash itself only runs `env`), so only
 * mediation can refuse it.
 */
const PROBE_RULES = 'prefix_rule(pattern=["touch"], decision="forbidden")\n';
/** The line a refused exec leaves in the call's output (the probe's command is `env touch <name>`). */
const PROBE_REFUSED = /refused `\S*touch /;
/** Writable: the project (the sandbox's cwd) and /tmp; everything else read-only, no network. */
const WORKSPACE_WRITE = {
  type: "workspace-write",
  writable_roots: [],
  network_access: false,
  exclude_tmpdir_env_var: false,
  exclude_slash_tmp: false,
};

interface MediatedCommand {
  key: "find" | "xargs";
  label: string;
  command: string;
  /** Whether the call really made its execs. */
  check: (result: ExecResultJson) => boolean;
}
type MediatedKey = MediatedCommand["key"];

const MEDIATED_COMMANDS: MediatedCommand[] = [
  {
    key: "find",
    label: `\`find ${FIND_DIR} -type f -exec /bin/true \\; -print\` (${MEDIATED_EXECS} files)`,
    // `-print` after `-exec`: a file is printed only if its /bin/true ran and exited 0.
    command: `find ${FIND_DIR} -type f -exec /bin/true \\; -print`,
    check: (r) => r.exit_code === 0 && r.output.split("\n").filter(Boolean).sort().join("\n") === FIND_FILES.join("\n"),
  },
  {
    key: "xargs",
    // `\|`: the label goes into a Markdown table.
    label: `\`seq ${MEDIATED_EXECS} \\| xargs -n1 /bin/true\``,
    command: `seq ${MEDIATED_EXECS} | xargs -n1 /bin/true`,
    // xargs exits 123 when a /bin/true failed, 126 or 127 when it could not run one.
    check: (r) => r.exit_code === 0 && r.output === "",
  },
];

/** A project with FIND_DIR filled, in `scratch`: the sandbox's cwd and the calls' workdir. */
function mediationProject(scratch: string): string {
  const project = join(scratch, "project");
  mkdirSync(join(project, FIND_DIR), { recursive: true });
  for (const file of FIND_FILES) writeFileSync(join(project, file), "");
  return project;
}

/**
 * Whether the server behind `client` mediates: `env touch <name>` under the
 * probe rules is refused (nothing created, the refusal in the output) or runs.
 * Judged from outside the sandbox, by the file.
 */
async function mediates(client: Client, project: string, name: string): Promise<boolean> {
  const target = join(project, name);
  const result = await call(client, `env touch ${name}`, { timeoutMs: CALL_TIMEOUT_MS, workdir: project });
  const created = existsSync(target);
  rmSync(target, { force: true });
  if (created && result.exit_code === 0) return false;
  if (!created && result.exit_code !== 0 && PROBE_REFUSED.test(result.output)) return true;
  throw new Error(`unexpected result of the mediation probe (file created: ${created}): ${JSON.stringify(result).slice(0, 500)}`);
}

interface MediationFigures {
  /** Whether the probe was refused by the server with mediation on (it must never be by the other). */
  onMediates: boolean;
  /** ms per call, each the mean of two runs. */
  onMs: Record<MediatedKey, number>;
  offMs: Record<MediatedKey, number>;
}

/**
 * One repetition of the mediation measure: both servers fresh and alive at
 * once, the probe and each command once untimed on each, then each command
 * timed in the order A B B A, A being the server `first`, so that a drift in
 * load hits both alike.
 */
async function mediationSample(on: Server, off: Server, env: Record<string, string>, project: string, first: Server): Promise<MediationFigures> {
  const order = first === on ? [on, off] : [off, on];
  const running = new Map<Server, Running>();
  try {
    for (const server of order) {
      const started = await start(server, env);
      running.set(server, started);
      await setSandbox(started.client, WORKSPACE_WRITE, project);
    }
    const clientOf = (server: Server) => running.get(server)!.client;
    const onMediates = await mediates(clientOf(on), project, "probe-on");
    if (await mediates(clientOf(off), project, "probe-off")) throw new Error(`${off.name}: mediates with ${MEDIATION_OFF_ENV_VAR}=1`);
    for (const { command, check } of MEDIATED_COMMANDS) for (const server of order) await expectCall(clientOf(server), command, check, project);
    const times = new Map<Server, Record<MediatedKey, number>>([
      [on, { find: 0, xargs: 0 }],
      [off, { find: 0, xargs: 0 }],
    ]);
    for (const { key, command, check } of MEDIATED_COMMANDS) {
      for (const server of [...order, ...order.toReversed()]) {
        times.get(server)![key] += (await timed(() => expectCall(clientOf(server), command, check, project))) / 2;
      }
    }
    return { onMediates, onMs: times.get(on)!, offMs: times.get(off)! };
  } finally {
    for (const { close } of running.values()) await close();
  }
}

/** Milliseconds from spawning `argv` to its exit, checking the exit code. */
function startOnce(argv: string[], expectedExit: number): number {
  return timedSync(() => {
    const child = Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore", stdin: "ignore" });
    if (child.exitCode !== expectedExit) throw new Error(`${argv.join(" ")} exited with ${child.exitCode}, not ${expectedExit}`);
  });
}

/** Compiles `source` to a standalone Bun binary named `name` in `dir`. */
async function compileBun(dir: string, name: string, source: string): Promise<string> {
  const file = join(dir, `${name}.ts`);
  const binary = join(dir, name);
  writeFileSync(file, source);
  // The same autoload switches as our build, so neither reads files from the cwd.
  const build = Bun.spawn(
    [process.execPath, "build", "--compile", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", file, "--outfile", binary],
    { stdout: "ignore", stderr: "pipe" },
  );
  if ((await build.exited) !== 0) throw new Error(`bun build --compile failed: ${await new Response(build.stderr).text()}`);
  return binary;
}

const HELLO_SOURCE = 'console.log("hello");\n';

/**
 * The least a wrapper written in Bun does: start, bind libc through FFI, and
 * `execv` the program (here /bin/true). Timed minus /bin/true's own start, it
 * is the floor for the per-exec cost of any Bun wrapper, with no socket work.
 */
const EXECV_SOURCE = `import { dlopen, FFIType, ptr } from "bun:ffi";
const libc = dlopen("libc.so.6", { execv: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } });
const path = Buffer.from("/bin/true\\0");
const argv = new BigUint64Array([BigInt(ptr(path)), 0n]);
libc.symbols.execv(ptr(path), ptr(argv));
process.exit(127);
`;

/** The Bash our server runs with no flags: it extracts its embedded one into the cache, and `$BASH` names it. */
async function embeddedBashPath(side: Side, env: Record<string, string>): Promise<string> {
  const { client, close } = await start(side, env);
  try {
    await setSandbox(client, { type: "danger-full-access" });
    const result = await call(client, 'printf %s "$BASH"');
    if (result.exit_code !== 0 || !result.output.startsWith("/")) throw new Error(`cannot tell the embedded Bash: ${JSON.stringify(result)}`);
    return result.output;
  } finally {
    await close();
  }
}

/** `<bash> -c LOOP` with no wrapper variable: the same Bash's own cost of the loop. */
function plainLoop(bash: string, env: Record<string, string>): number {
  return timedSync(() => {
    const child = Bun.spawnSync([bash, "-c", LOOP], { stdout: "ignore", stderr: "inherit", stdin: "ignore", env });
    if (child.exitCode !== 0) throw new Error(`plain loop in ${bash} failed`);
  });
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function mib(value: number): string {
  return value.toFixed(1);
}

function ratio(a: number, b: number): string {
  return b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : "n/a";
}

function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

async function main(): Promise<void> {
  const began = performance.now();
  const loadBefore = loadAverage();
  const scratch = tempDir("codex-exec-bench-");
  try {
    const env = serverEnv(scratch);
    const builtAt = statSync(SERVER_BINARY).mtime.toISOString();
    const { wrapper, ours, reference, oursBunWrapper, oursReferenceWrapper, all, mediationOn, mediationOff } = configurations(snapshotBinary(scratch));
    const mediationEnv = serverEnv(scratch, "codex-home-mediation", PROBE_RULES);
    const project = mediationProject(scratch);
    const bashEnv = cleanEnv();
    const hello = await compileBun(scratch, "hello", HELLO_SOURCE);
    const bunExecv = await compileBun(scratch, "bun-execv", EXECV_SOURCE);
    const embeddedBash = await embeddedBashPath(ours, env);
    const bashes = new Map<string, string>([
      ["/bin/bash", "/bin/bash"],
      [PATCHED_BASH, `reference's patched Bash (${PATCHED_BASH.split("/").at(-2)})`],
      [embeddedBash, "our embedded Bash"],
    ]);
    const bashOf = (side: Side) => (side === ours ? embeddedBash : PATCHED_BASH);
    const samples = new Map<string, Figures[]>(all.map((side) => [side.name, []]));
    const plainLoops = new Map<string, number[]>([...bashes.keys()].map((bash) => [bash, []]));
    // Each program started with no arguments: the wrappers stop at their
    // usage error (exit 2), so that is their start-up and the loading of their
    // code, with no socket work.
    const starts: { key: string; argv: string[]; exit: number }[] = [
      { key: "hello", argv: [hello], exit: 0 },
      { key: "true", argv: ["/bin/true"], exit: 0 },
      { key: "bunExecv", argv: [bunExecv], exit: 0 },
      { key: "ourWrapper", argv: [wrapper], exit: 2 },
      { key: "referenceWrapper", argv: [REFERENCE_WRAPPER], exit: 2 },
    ];
    const startTimes = new Map<string, number[]>(starts.map(({ key }) => [key, []]));
    const mediation: MediationFigures[] = [];
    /** The mediation measure's share of the whole run, warm-up included. */
    let mediationSeconds = 0;
    // Repetition 0 is the warm-up (page cache, JIT) and is dropped. The
    // order of the configurations rotates so that drift in machine load
    // hits all alike.
    for (let rep = 0; rep <= REPS; rep++) {
      const order = all.map((_, i) => all[(i + rep) % all.length]!);
      for (const side of order) {
        const figures = await sample(side, env);
        if (rep > 0) samples.get(side.name)!.push(figures);
      }
      let mediationFigures: MediationFigures | undefined;
      mediationSeconds += (await timed(async () => {
        mediationFigures = await mediationSample(mediationOn, mediationOff, mediationEnv, project, rep % 2 === 0 ? mediationOn : mediationOff);
      })) / 1000;
      if (rep > 0) mediation.push(mediationFigures!);
      // The servers just closed may still be exiting: let them, before timing small things.
      await sleep(SETTLE_AFTER_SERVERS_MS);
      // Cheap next to a server's loop, so a few each time: the per-exec cost is a difference.
      for (let i = 0; i < PLAIN_RUNS; i++) {
        for (const bash of bashes.keys()) {
          const ms = plainLoop(bash, bashEnv);
          if (rep > 0) plainLoops.get(bash)!.push(ms);
        }
      }
      // Round-robin, so that the programs share whatever the machine was doing.
      for (let i = 0; i < START_RUNS; i++) {
        for (const { key, argv, exit } of starts) {
          const ms = startOnce(argv, exit);
          if (rep > 0) startTimes.get(key)!.push(ms);
        }
      }
      process.stderr.write(`repetition ${rep}/${REPS} done (${((performance.now() - began) / 1000).toFixed(1)} s)\n`);
    }
    const huge = new Map<string, HugeFigures[]>([
      [ours.name, []],
      [reference.name, []],
    ]);
    for (let run = 0; run < HUGE_RUNS; run++) {
      for (const side of run % 2 === 0 ? [ours, reference] : [reference, ours]) huge.get(side.name)!.push(await hugeSample(side, env));
      process.stderr.write(`1 GB run ${run + 1}/${HUGE_RUNS} done (${((performance.now() - began) / 1000).toFixed(1)} s)\n`);
    }
    const startMs = (key: string) => median(startTimes.get(key)!);
    const helloMs = startMs("hello");
    const trueMs = startMs("true");
    const bunExecvMs = startMs("bunExecv");
    // The part of the per-exec cost that is not the wrapper's start is the round trip.
    const ourWrapperMs = startMs("ourWrapper");
    const referenceWrapperMs = startMs("referenceWrapper");
    const loadAfter = loadAverage();

    const pick = (side: Side, key: Measure) =>
      median(samples.get(side.name)!.flatMap((figures) => (figures[key] === undefined ? [] : [figures[key]])));
    const plainLoopMs = (bash: string) => median(plainLoops.get(bash)!);
    const perExec = (side: Side) => (pick(side, "loopMs") - plainLoopMs(bashOf(side))) / LOOP_EXECS;
    const hugePick = (side: Side, key: keyof HugeFigures) => median(huge.get(side.name)!.map((figures) => figures[key]));

    const timeRows: [string, number, number][] = [
      ["cold start to `tools/list` answer", pick(ours, "coldStartMs"), pick(reference, "coldStartMs")],
      ["warm trivial call (`true`, a builtin)", pick(ours, "trivialMs"), pick(reference, "trivialMs")],
      [`one call of ${LOOP_EXECS} × \`/bin/true\``, pick(ours, "loopMs"), pick(reference, "loopMs")],
      [`interception cost per exec (minus the same Bash's plain loop, ÷ ${LOOP_EXECS})`, perExec(ours), perExec(reference)],
      [`\`seq ${SEQ_COUNT}\` call (${(SEQ_BYTES / 1000).toFixed(0)} KB out)`, pick(ours, "seqMs"), pick(reference, "seqMs")],
      [
        `${PARALLEL_CALLS} parallel calls × (${PARALLEL_EXECS} execs + \`seq ${PARALLEL_LINES}\`), wall time of the batch`,
        pick(ours, "parallelMs"),
        pick(reference, "parallelMs"),
      ],
      ["one call printing 1 GB (`head -c 1e9 /dev/zero` into `tr`), wall time", hugePick(ours, "ms"), hugePick(reference, "ms")],
    ];
    const memoryRows: [string, number, number][] = [
      ["idle RSS (VmRSS after initialize + one trivial call)", pick(ours, "idleRss"), pick(reference, "idleRss")],
      ["of which anonymous (RssAnon; the rest is the executable's own file pages)", pick(ours, "idleAnon"), pick(reference, "idleAnon")],
      [`peak RSS (VmHWM) after the ${PARALLEL_CALLS} parallel calls (run twice)`, pick(ours, "parallelHwm"), pick(reference, "parallelHwm")],
      ["peak RSS (VmHWM) over one call printing 1 GB", hugePick(ours, "hwm"), hugePick(reference, "hwm")],
    ];
    const perExecRows = [ours, oursBunWrapper, oursReferenceWrapper, reference].map((side) => {
      const cost = perExec(side);
      return `| ${side.label} | ${fmt(pick(side, "loopMs"))} | ${fmt(cost)} | ${ratio(cost, perExec(reference))} | ${ratio(cost, helloMs)} |`;
    });
    // Every start is timed from this process, which adds its own spawn and
    // wait to each: less a /bin/true run, what is left is the program's own
    // cost over the trivial program Bash would otherwise have run.
    const ourWrapperStart = ourWrapperMs - trueMs;
    const referenceWrapperStart = referenceWrapperMs - trueMs;
    // Per exec with the reference's wrapper, minus that wrapper's start: the round trip through each server.
    const ourRoundTrip = perExec(oursReferenceWrapper) - referenceWrapperStart;
    const referenceRoundTrip = perExec(reference) - referenceWrapperStart;
    const bunExecvFloor = bunExecvMs - trueMs;
    // The spread over the repetitions (each sample's per-exec cost against the plain loop's median).
    const sampled = (side: Side, key: Measure) => samples.get(side.name)!.flatMap((figures) => (figures[key] === undefined ? [] : [figures[key]]));
    const range = (values: number[], format = fmt) =>
      values.length === 0 ? "n/a" : `${format(Math.min(...values))}–${format(Math.max(...values))}`;
    const perExecSamples = (side: Side) => sampled(side, "loopMs").map((ms) => (ms - plainLoopMs(bashOf(side))) / LOOP_EXECS);
    const spreadRows = [
      ["warm trivial call", range(sampled(ours, "trivialMs")), range(sampled(reference, "trivialMs"))],
      ["interception cost per exec", range(perExecSamples(ours)), range(perExecSamples(reference))],
      [`${PARALLEL_CALLS} parallel calls`, range(sampled(ours, "parallelMs")), range(sampled(reference, "parallelMs"))],
      ["interception cost per exec, our Bun wrapper (reference's Bash)", range(perExecSamples(oursBunWrapper)), ""],
    ];
    const perExecRatio = perExec(ours) / perExec(reference);
    const parallelRatio = pick(ours, "parallelMs") / pick(reference, "parallelMs");
    const met = (ok: boolean) => (ok ? "met" : "NOT met");

    // Exec mediation: the cost it adds per exec of a program that is not
    // Bash, against the reference's per-exec interception in this run (each
    // repetition against the same repetition's reference sample).
    const referencePerExec = perExec(reference);
    const referencePerExecByRep = perExecSamples(reference);
    const mediatedReps = mediation.filter((figures) => figures.onMediates).length;
    if (mediatedReps > 0 && mediatedReps < mediation.length) {
      throw new Error(`the server with exec mediation on refused the probe in only ${mediatedReps} of ${mediation.length} repetitions`);
    }
    const mediationActive = mediation.length > 0 && mediatedReps === mediation.length;
    const mediationRows = MEDIATED_COMMANDS.map(({ key, label }) => {
      const offMs = median(mediation.map((figures) => figures.offMs[key]));
      const onMs = median(mediation.map((figures) => figures.onMs[key]));
      const added = (onMs - offMs) / MEDIATED_EXECS;
      const addedByRep = mediation.map((figures) => (figures.onMs[key] - figures.offMs[key]) / MEDIATED_EXECS);
      const ratioByRep = addedByRep.map((cost, i) => cost / referencePerExecByRep[i]!);
      return { key, label, offMs, onMs, added, addedByRep, ratio: added / referencePerExec, ratioByRep };
    });
    const twoDigits = (value: number) => value.toFixed(2);
    const mediationLines = [
      "### Exec mediation",
      "",
      `A program that is not Bash execs \`/bin/true\` ${MEDIATED_EXECS} times in one call. Our server with no flags, sandbox \`workspace-write\` (cwd: a scratch project), rules forbidding \`touch\` only; ` +
        `exec mediation on (the default) against off (\`${MEDIATION_OFF_ENV_VAR}=1\`), both servers fresh in each repetition, the calls in the order A B B A (A alternating between repetitions). ` +
        (mediationActive
          ? "The probe (`env touch`, forbidden) was refused by the server with mediation on in every repetition and ran on the other."
          : "**The server with mediation on did not mediate** (the probe `env touch`, forbidden, ran): a binary without exec mediation, or a kernel without seccomp user notification; the figures below are noise around 0."),
      "",
      `| ${MEDIATED_EXECS} execs by a program that is not Bash | off (ms) | on (ms) | added per exec (ms): (on − off) ÷ ${MEDIATED_EXECS} | its spread (min–max over the ${REPS} repetitions) | ÷ the reference's per-exec interception (${fmt(referencePerExec)} ms) | each repetition's ratio: median (min–max) |`,
      "|---|---:|---:|---:|---:|---:|---:|",
      ...mediationRows.map(
        (row) =>
          `| ${row.label} | ${fmt(row.offMs)} | ${fmt(row.onMs)} | ${fmt(row.added)} | ${range(row.addedByRep)} | **${twoDigits(row.ratio)}** | ${twoDigits(median(row.ratioByRep))} (${range(row.ratioByRep, twoDigits)}) |`,
      ),
      "",
      `| repetition | ${mediationRows.map(({ key }) => `${key}: added per exec (ms) | ratio`).join(" | ")} | the reference's per-exec interception (ms) |`,
      `|---:|${mediationRows.map(() => "---:|---:|").join("")}---:|`,
      ...mediation.map(
        (_, i) =>
          `| ${i + 1} | ${mediationRows.map((row) => `${fmt(row.addedByRep[i]!)} | ${twoDigits(row.ratioByRep[i]!)}`).join(" | ")} | ${fmt(referencePerExecByRep[i]!)} |`,
      ),
      "",
      `Target: added cost per exec ÷ the reference's per-exec interception ≤ ${MEDIATION_TARGET}: ` +
        mediationRows
          .map(
            (row) =>
              `${row.key} **${twoDigits(row.ratio)}** (${mediationActive ? met(row.ratio <= MEDIATION_TARGET) : "not measured"}; median of the repetitions' own ratios ${twoDigits(median(row.ratioByRep))})`,
          )
          .join(", ") +
        `. This section took ${mediationSeconds.toFixed(1)} s of the run.`,
    ];

    const lines = [
      `Medians over ${REPS} repetitions after a warm-up (1 GB call: ${HUGE_RUNS} runs); sandbox \`danger-full-access\`, \`login: false\`, each server fresh per repetition.`,
      `Head to head: ours with no flags (our embedded Bash, which asks the server itself) against the reference (its patched Bash for ${PATCHED_BASH.split("/").at(-2)} and its wrapper). The machine is shared: configurations run interleaved, in rotating order, so all see the same load.`,
      `Our binary: a copy of ${SERVER_BINARY} (built ${builtAt}); Bun ${Bun.version}. Load average before: ${loadBefore}; after: ${loadAfter}.`,
      "",
      "| measure (ms) | ours | reference | ours/reference |",
      "|---|---:|---:|---:|",
      ...timeRows.map(([label, ours, reference]) => `| ${label} | ${fmt(ours)} | ${fmt(reference)} | ${ratio(ours, reference)} |`),
      "",
      `| spread over the ${REPS} repetitions (ms, min–max) | ours | reference |`,
      "|---|---:|---:|",
      ...spreadRows.map(([label, oursRange, referenceRange]) => `| ${label} | ${oursRange} | ${referenceRange} |`),
      "",
      "| memory (MiB) | ours | reference | ours/reference |",
      "|---|---:|---:|---:|",
      ...memoryRows.map(([label, ours, reference]) => `| ${label} | ${mib(ours)} | ${mib(reference)} | ${ratio(ours, reference)} |`),
      "",
      `1 GB call: output kept ${hugePick(ours, "outputChars")} chars (ours) / ${hugePick(reference, "outputChars")} (reference); exit codes ${hugePick(ours, "exitCode")} / ${hugePick(reference, "exitCode")}; VmRSS just before ${mib(hugePick(ours, "rssBefore"))} / ${mib(hugePick(reference, "rssBefore"))} MiB.`,
      "",
      `| per-exec cost, ${LOOP_EXECS} × \`/bin/true\` in one call | call (ms) | per exec (ms) | vs reference | vs Bun hello-world start |`,
      "|---|---:|---:|---:|---:|",
      ...perExecRows,
      "",
      "| baseline (same run) | ms |",
      "|---|---:|",
      ...[...bashes].map(([bash, label]) => `| plain \`-c '${LOOP}'\` in ${label} | ${fmt(plainLoopMs(bash))} |`),
      `| compiled Bun hello-world start (median of ${START_RUNS * REPS}) | ${fmt(helloMs)} |`,
      `| \`/bin/true\` start (median of ${START_RUNS * REPS}) | ${fmt(trueMs)} |`,
      `| compiled Bun program: FFI \`dlopen\` of libc, then \`execv("/bin/true")\` (median of ${START_RUNS * REPS}) | ${fmt(bunExecvMs)} |`,
      `| our wrapper start to its usage error, no socket work (median of ${START_RUNS * REPS}) | ${fmt(ourWrapperMs)} |`,
      `| reference wrapper start to its usage error (median of ${START_RUNS * REPS}) | ${fmt(referenceWrapperMs)} |`,
      "",
      "Where one exec's time goes (differences of the medians above, so approximate):",
      "",
      "| part of one intercepted exec (ms) | our Bun wrapper | reference |",
      "|---|---:|---:|",
      `| the wrapper process: start and load up to its first decision, over a trivial process (wrapper's usage-error run − \`/bin/true\` run) | ${fmt(ourWrapperStart)} | ${fmt(referenceWrapperStart)} |`,
      `| the round trip through the server: request, decision, answer (per exec with the reference's wrapper − that wrapper's start) | ${fmt(ourRoundTrip)} | ${fmt(referenceRoundTrip)} |`,
      `| what our wrapper adds after its start: FFI binding, JS message handling, \`execv\` out of a multi-threaded process (the rest) | ${fmt(perExec(oursBunWrapper) - ourWrapperStart - ourRoundTrip)} | — |`,
      `| **interception cost per exec** (the sum) | **${fmt(perExec(oursBunWrapper))}** | **${fmt(perExec(reference))}** |`,
      `| floor for a Bun wrapper: compiled hello-world, over a trivial process (− \`/bin/true\` run) | ${fmt(helloMs - trueMs)} | |`,
      `| floor for a Bun wrapper that execs: FFI \`dlopen\` + \`execv("/bin/true")\` program − \`/bin/true\` run | ${fmt(bunExecvFloor)} | |`,
      "",
      `Targets: per-exec interception cost ours/reference **${perExecRatio.toFixed(2)}** (≤ ${PER_EXEC_TARGET}: ${met(perExecRatio <= PER_EXEC_TARGET)}); ` +
        `${PARALLEL_CALLS} parallel calls ours/reference **${parallelRatio.toFixed(2)}** (≤ ${PARALLEL_TARGET}: ${met(parallelRatio <= PARALLEL_TARGET)}). ` +
        `Our Bun wrapper per exec / the reference's: ${(perExec(oursBunWrapper) / perExec(reference)).toFixed(2)}; its floor (FFI + \`execv\` program) ${fmt(bunExecvFloor)} ms.`,
      "",
      ...mediationLines,
      "",
      `Whole run: ${((performance.now() - began) / 1000).toFixed(1)} s.`,
    ];
    console.log(lines.join("\n"));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
