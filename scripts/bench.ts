// Benchmark: our compiled server against the reference (the Rust
// codex-exec-mcp-server of @openai/codex-shell-tool-mcp@0.97.0), in the same
// run, on the same machine, both driven by the MCP SDK's Client over stdio as
// a user's client would, with the sandbox off (danger-full-access) so that the
// figures are the interception path and nothing else. A compiled Bun
// hello-world is timed too: it is the floor for a wrapper written in Bun.
//
//   bun scripts/bench.ts           (after `bun scripts/build.ts`)
//   BENCH_REPS=9 bun scripts/bench.ts
//
// Prints a Markdown table of medians. Not a test: it asserts only that each
// command really worked, so a broken server cannot look fast.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  PATCHED_BASH,
  REFERENCE_SERVER,
  REFERENCE_WRAPPER,
  SERVER_BINARY,
  setSandbox,
  tempDir,
  WRAPPER_BINARY,
  type ExecResultJson,
} from "../test/support.ts";

const REPS = Number(process.env.BENCH_REPS ?? 7);
/** Runs of the tiny process-start measures: cheap, so more of them for a stable median. */
const START_RUNS = 31;
const LOOP_EXECS = 200;
const LOOP = `for i in $(seq ${LOOP_EXECS}); do /bin/true; done`;
const SEQ_COUNT = 100_000;
/** Bytes of `seq 100000`: checked so that a truncated answer is not timed as a fast one. */
const SEQ_BYTES = Array.from({ length: SEQ_COUNT }, (_, i) => String(i + 1).length + 1).reduce((a, b) => a + b, 0);
/** The per-exec cost we aim for, as a multiple of a bare compiled Bun start. */
const TARGET_RATIO = 1.3;

interface Side {
  name: string;
  command: string;
  args: string[];
}

// Both get the same patched Bash, each its own wrapper, explicitly.
const OURS: Side = { name: "ours", command: SERVER_BINARY, args: ["--bash", PATCHED_BASH, "--execve", WRAPPER_BINARY] };
const REFERENCE: Side = { name: "reference", command: REFERENCE_SERVER, args: ["--bash", PATCHED_BASH, "--execve", REFERENCE_WRAPPER] };
const SIDES = [OURS, REFERENCE];

function median(values: number[]): number {
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

/**
 * The servers' environment: ours minus BASH_ENV (a login-less shell must not
 * source the machine's profile hooks), with a CODEX_HOME whose rules directory
 * is empty (no rule matches, so every program is a plain Run) and a private cache.
 */
function serverEnv(scratch: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== "BASH_ENV") env[key] = value;
  const home = join(scratch, "codex-home");
  mkdirSync(join(home, "rules"), { recursive: true });
  return { ...env, CODEX_HOME: home, XDG_CACHE_HOME: join(scratch, "cache") };
}

interface Running {
  client: Client;
  close: () => Promise<void>;
}

async function start(side: Side, env: Record<string, string>): Promise<Running> {
  const transport = new StdioClientTransport({
    command: side.command,
    args: side.args,
    env,
    stderr: "pipe",
  });
  let stderr = "";
  const client = new Client({ name: "codex-exec-bench", version: "1.0.0" }, { capabilities: {} });
  await client.connect(transport);
  // Drained, or a chatty server would block on a full pipe and time badly.
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return {
    client,
    close: async () => {
      await client.close();
      if (stderr.length > 0) process.stderr.write(`[${side.name} stderr] ${stderr.slice(0, 2000)}\n`);
    },
  };
}

async function call(client: Client, command: string): Promise<ExecResultJson> {
  const result = await client.callTool({ name: "shell", arguments: { command, workdir: "/tmp", login: false } });
  const content = result.content as { type: string; text: string }[];
  if (result.isError) throw new Error(`tool error for \`${command}\`: ${content[0]?.text}`);
  return JSON.parse(content[0]!.text) as ExecResultJson;
}

async function expectCall(client: Client, command: string, check: (result: ExecResultJson) => boolean): Promise<void> {
  const result = await call(client, command);
  if (!check(result)) throw new Error(`unexpected result for \`${command}\`: ${JSON.stringify(result).slice(0, 500)}`);
}

interface Figures {
  coldStartMs: number;
  trivialMs: number;
  loopMs: number;
  seqMs: number;
}

/** One sample of every measure for one side, on a fresh server; each kind of call runs once untimed first. */
async function sample(side: Side, env: Record<string, string>): Promise<Figures> {
  let running: Running | undefined;
  const coldStartMs = await timed(async () => {
    running = await start(side, env);
    await running.client.listTools();
  });
  const { client, close } = running!;
  try {
    await setSandbox(client, { type: "danger-full-access" });
    const trivial = () => expectCall(client, "true", (r) => r.exit_code === 0 && r.output === "");
    const loop = () => expectCall(client, LOOP, (r) => r.exit_code === 0 && r.output === "");
    const seq = () => expectCall(client, `seq ${SEQ_COUNT}`, (r) => r.exit_code === 0 && r.output.length === SEQ_BYTES);
    await trivial();
    await loop();
    await seq();
    // Several trivial calls per server: each is a few ms, the noisiest measure.
    const trivials: number[] = [];
    for (let i = 0; i < 5; i++) trivials.push(await timed(trivial));
    const loopMs = await timed(loop);
    const seqMs = await timed(seq);
    return { coldStartMs, trivialMs: median(trivials), loopMs, seqMs };
  } finally {
    await close();
  }
}

function spawnMedian(argv: string[], runs: number, expectedExit = 0): number {
  const times: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const ms = timedSync(() => {
      const child = Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore", stdin: "ignore" });
      if (child.exitCode !== expectedExit) throw new Error(`${argv.join(" ")} exited with ${child.exitCode}, not ${expectedExit}`);
    });
    // The first run pays for the page cache: not counted.
    if (i > 0) times.push(ms);
  }
  return median(times);
}

async function compileHelloWorld(dir: string): Promise<string> {
  const source = join(dir, "hello.ts");
  const binary = join(dir, "hello");
  writeFileSync(source, 'console.log("hello");\n');
  // The same autoload switches as our build, so neither reads files from the cwd.
  const build = Bun.spawn(
    [process.execPath, "build", "--compile", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", source, "--outfile", binary],
    { stdout: "ignore", stderr: "pipe" },
  );
  if ((await build.exited) !== 0) throw new Error(`bun build --compile failed: ${await new Response(build.stderr).text()}`);
  return binary;
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : "n/a";
}

async function main(): Promise<void> {
  const began = performance.now();
  const scratch = tempDir("codex-exec-bench-");
  try {
    const env = serverEnv(scratch);
    const hello = await compileHelloWorld(scratch);
    const samples = new Map<string, Figures[]>(SIDES.map((side) => [side.name, []]));
    const plainLoops: number[] = [];
    // Repetition 0 is the warm-up (page cache, Bash extraction into our
    // cache) and is dropped. The sides alternate so that drift in machine
    // load hits both alike.
    for (let rep = 0; rep <= REPS; rep++) {
      for (const side of rep % 2 === 0 ? SIDES : [...SIDES].reverse()) {
        const figures = await sample(side, env);
        if (rep > 0) samples.get(side.name)!.push(figures);
      }
      const plain = timedSync(() => {
        const child = Bun.spawnSync(["/bin/bash", "-c", LOOP], { stdout: "ignore", stderr: "inherit", stdin: "ignore" });
        if (child.exitCode !== 0) throw new Error("plain bash loop failed");
      });
      if (rep > 0) plainLoops.push(plain);
      process.stderr.write(`repetition ${rep}/${REPS} done (${((performance.now() - began) / 1000).toFixed(1)} s)\n`);
    }
    const helloMs = spawnMedian([hello], START_RUNS);
    const trueMs = spawnMedian(["/bin/true"], START_RUNS);
    // Each wrapper started with no arguments: the start-up and the loading of
    // its code, up to the usage error (exit 2), with no socket work. The part
    // of the per-exec cost that is not the wrapper's start is the round trip.
    const ourWrapperMs = spawnMedian([WRAPPER_BINARY], START_RUNS, 2);
    const referenceWrapperMs = spawnMedian([REFERENCE_WRAPPER], START_RUNS, 2);
    const plainLoopMs = median(plainLoops);

    const pick = (name: string, key: keyof Figures) => median(samples.get(name)!.map((figures) => figures[key]));
    const perExec = (name: string) => (pick(name, "loopMs") - plainLoopMs) / LOOP_EXECS;
    const rows: [string, number, number][] = [
      ["cold start to `tools/list` answer", pick("ours", "coldStartMs"), pick("reference", "coldStartMs")],
      ["warm trivial call (`true`, a builtin)", pick("ours", "trivialMs"), pick("reference", "trivialMs")],
      [`one call of ${LOOP_EXECS} × \`/bin/true\``, pick("ours", "loopMs"), pick("reference", "loopMs")],
      [`interception cost per exec (minus plain \`/bin/bash -c\`, ÷ ${LOOP_EXECS})`, perExec("ours"), perExec("reference")],
      [`\`seq ${SEQ_COUNT}\` call (${(SEQ_BYTES / 1000).toFixed(0)} KB out)`, pick("ours", "seqMs"), pick("reference", "seqMs")],
    ];

    const lines = [
      `Medians in ms over ${REPS} repetitions after a warm-up; sandbox \`danger-full-access\`, \`login: false\`, same patched Bash (${PATCHED_BASH.split("/").at(-2)}) for both.`,
      `Our binary: ${SERVER_BINARY} (built ${statSync(SERVER_BINARY).mtime.toISOString()}); Bun ${Bun.version}.`,
      "",
      "| measure | ours | reference | ours/reference |",
      "|---|---:|---:|---:|",
      ...rows.map(([label, ours, reference]) => `| ${label} | ${fmt(ours)} | ${fmt(reference)} | ${ratio(ours, reference)} |`),
      "",
      "| baseline (same run) | ms |",
      "|---|---:|",
      `| plain \`/bin/bash -c '${LOOP}'\` | ${fmt(plainLoopMs)} |`,
      `| compiled Bun hello-world start (median of ${START_RUNS}) | ${fmt(helloMs)} |`,
      `| \`/bin/true\` start (median of ${START_RUNS}) | ${fmt(trueMs)} |`,
      `| our wrapper start to its usage error, no socket work (median of ${START_RUNS}) | ${fmt(ourWrapperMs)} |`,
      `| reference wrapper start to its usage error (median of ${START_RUNS}) | ${fmt(referenceWrapperMs)} |`,
      "",
      `Our per-exec cost / hello-world start: **${(perExec("ours") / helloMs).toFixed(2)}** (target ≤ ${TARGET_RATIO}; ${
        perExec("ours") / helloMs <= TARGET_RATIO ? "met" : "NOT met"
      }). Reference per-exec / hello-world: ${(perExec("reference") / helloMs).toFixed(2)}.`,
      `Whole run: ${((performance.now() - began) / 1000).toFixed(1)} s.`,
    ];
    console.log(lines.join("\n"));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
