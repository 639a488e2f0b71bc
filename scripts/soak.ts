// Soak test: the compiled server under a few minutes of mixed load, driven
// over stdio by the MCP SDK's Client (nothing leaves this machine). Parallel
// calls with many intercepted execs, escalations, approval questions,
// timeouts, cancellations, output floods and jobs left behind, all checked for
// the right answer. Bounded twice: a time budget and a number of calls.
//
//   bun scripts/soak.ts                 (after `bun scripts/build.ts`)
//   SOAK_SECONDS=60 SOAK_CALLS=1000 SOAK_PARALLEL=8 bun scripts/soak.ts
//
// Reports calls completed, errors, the server's peak RSS and descriptor
// counts, and processes left behind; exits non-zero when anything was wrong.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isolatedEnv, SERVER_BINARY, tempDir, type ExecResultJson } from "../test/support.ts";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 150);
const MAX_CALLS = Number(process.env.SOAK_CALLS ?? 4000);
const PARALLEL = Number(process.env.SOAK_PARALLEL ?? 8);
/** Every long-lived process a scenario starts carries this in its command line. */
const TAG = `1000.${process.pid}`;

/** A real interpreter, not a pyenv shim. */
const PYTHON = ["/usr/bin/python3", "/usr/local/bin/python3"].find((path) => existsSync(path)) ?? Bun.which("python3");
/**
 * From inside the sandbox: a garbage frame, a 4 GiB length prefix and half a
 * frame, each on its own session (write(2): the sandbox refuses send()).
 */
const HOSTILE_PY = [
  "import array, os, socket, struct",
  'd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM, 0, os.dup(int(os.environ["CODEX_ESCALATE_SOCKET"])))',
  'for payload in [struct.pack("<I", 11) + b"not json!!!", struct.pack("<I", 0xFFFFFFFF), struct.pack("<I", 100) + b"{"]:',
  "    a, b = socket.socketpair()",
  '    d.sendmsg([b"\\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [b.fileno()]))])',
  "    b.close()",
  "    os.write(a.fileno(), payload)",
].join("\n");

const RULES = `
prefix_rule(pattern=["sleep"])
prefix_rule(pattern=["sh"])
prefix_rule(pattern=["git", "--version"], decision="prompt")
prefix_rule(pattern=["ls", "/soak-probe"], decision="forbidden")
`;

interface Scenario {
  name: string;
  weight: number;
  /** Runs one call; returns a problem, or null when the answer was right. */
  run: (client: Client, serial: number) => Promise<string | null>;
}

function parse(result: unknown): ExecResultJson | string {
  const parsed = CallToolResultSchema.parse(result);
  const text = parsed.content[0]?.type === "text" ? parsed.content[0].text : "";
  return parsed.isError === true ? `tool error: ${text}` : (JSON.parse(text) as ExecResultJson);
}

async function shell(client: Client, command: string, timeoutMs = 10_000, signal?: AbortSignal): Promise<ExecResultJson | string> {
  const result = await client.callTool({ name: "shell", arguments: { command, workdir: "/tmp", login: false, timeout_ms: timeoutMs } }, undefined, {
    signal,
    timeout: 60_000,
  });
  return parse(result);
}

/** A check on a result: null when it is as expected. */
function expectResult(result: ExecResultJson | string, check: (result: ExecResultJson) => boolean, what: string): string | null {
  if (typeof result === "string") return result;
  return check(result) ? null : `${what}: got ${JSON.stringify(result).slice(0, 300)}`;
}

const SCENARIOS: Scenario[] = [
  {
    name: "40 execs in a pipeline",
    weight: 30,
    run: async (client) => {
      const result = await shell(client, "for i in $(seq 40); do /bin/echo $i; done | /usr/bin/wc -l");
      return expectResult(result, (r) => r.output.trim() === "40" && r.exit_code === 0, "40 execs");
    },
  },
  {
    name: "escalated programs and a refused one",
    weight: 20,
    run: async (client) => {
      const result = await shell(client, "sh -c 'echo esc-out; echo esc-err >&2'; ls /soak-probe; sleep 0.05; echo done");
      return expectResult(
        result,
        (r) => r.output === "esc-out\nesc-err\nExecution denied: Execution forbidden by policy\ndone\n",
        "escalation",
      );
    },
  },
  {
    name: "approval question",
    weight: 10,
    run: async (client) => {
      const result = await shell(client, "git --version; echo status=$?");
      return expectResult(result, (r) => /^git version .*\nstatus=0\n$|^Execution denied: User declined execution\nstatus=1\n$/.test(r.output), "approval");
    },
  },
  {
    name: "timeout with escalated and setsid processes",
    weight: 10,
    run: async (client, serial) => {
      const tag = `${TAG}${serial}`;
      const result = await shell(client, `echo start; sleep ${tag}1 & setsid sleep ${tag}2 & sleep ${tag}3`, 300);
      return expectResult(result, (r) => r.timed_out && r.exit_code === 124 && r.output === "start\n", "timeout");
    },
  },
  {
    name: "cancellation",
    weight: 10,
    run: async (client, serial) => {
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 150);
      try {
        await shell(client, `sleep ${TAG}${serial}1 & /usr/bin/env -S sleep ${TAG}${serial}2`, 10_000, abort.signal);
        return "cancelled call returned a result";
      } catch {
        return null;
      }
    },
  },
  {
    name: "output flood (16 MB)",
    weight: 5,
    run: async (client) => {
      const result = await shell(client, String.raw`head -c 16M /dev/zero | tr '\0' x`);
      return expectResult(result, (r) => r.output.includes(`[... ${16 * 2 ** 20 - 2 ** 20} bytes of output omitted ...]`), "flood");
    },
  },
  {
    name: "hostile frames from inside the sandbox",
    weight: 5,
    run: async (client) => {
      if (PYTHON === null) return null;
      const script = `'${HOSTILE_PY.replaceAll("'", `'\\''`)}'`;
      const result = await shell(client, `${PYTHON} -c ${script}; ls /soak-probe`);
      return expectResult(result, (r) => r.output === "Execution denied: Execution forbidden by policy\n", "hostile frames");
    },
  },
  {
    name: "job left holding the output",
    weight: 2,
    run: async (client, serial) => {
      const result = await shell(client, `sleep ${TAG}${serial} & echo bg`);
      return expectResult(result, (r) => r.output === "bg\n" && !r.timed_out, "background job");
    },
  },
];

function pick(): Scenario {
  const total = SCENARIOS.reduce((sum, scenario) => sum + scenario.weight, 0);
  let roll = Math.random() * total;
  for (const scenario of SCENARIOS) {
    roll -= scenario.weight;
    if (roll < 0) return scenario;
  }
  return SCENARIOS[0]!;
}

function processStatus(pid: number, field: string): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+)`));
  return Number(match?.[1] ?? 0);
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Live processes carrying the soak's tag: whatever a call left behind. */
function leftovers(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(TAG)) found.push(`${entry} ${cmdline.replaceAll("\0", " ").trim()}`);
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

async function main(): Promise<void> {
  const env = isolatedEnv();
  mkdirSync(join(env.CODEX_HOME!, "rules"));
  writeFileSync(join(env.CODEX_HOME!, "rules", "soak.rules"), RULES);
  const transport = new StdioClientTransport({ command: SERVER_BINARY, env, stderr: "ignore", cwd: tempDir() });
  const client = new Client({ name: "soak", version: "1.0.0" }, { capabilities: { elicitation: {} } });
  await client.connect(transport);
  // A human who takes a moment and says no one time in five.
  client.setRequestHandler(ElicitRequestSchema, async () => {
    await Bun.sleep(Math.random() * 200);
    return { action: Math.random() < 0.2 ? "decline" : "accept" };
  });
  const pid = transport.pid!;
  await shell(client, "true");
  const fdsAtStart = fdCount(pid);
  const rssAtStart = processStatus(pid, "VmRSS");

  let maxRss = rssAtStart;
  let maxFds = fdsAtStart;
  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, processStatus(pid, "VmRSS"));
    maxFds = Math.max(maxFds, fdCount(pid));
  }, 100);

  const started = performance.now();
  const endAt = started + SECONDS * 1000;
  let issued = 0;
  let completed = 0;
  const errors: string[] = [];
  const perScenario = new Map<string, number>();
  const worker = async () => {
    while (performance.now() < endAt && issued < MAX_CALLS) {
      const serial = issued++;
      const scenario = pick();
      let problem: string | null;
      try {
        problem = await scenario.run(client, serial);
      } catch (error) {
        problem = `threw: ${(error as Error).message}`;
      }
      completed++;
      perScenario.set(scenario.name, (perScenario.get(scenario.name) ?? 0) + 1);
      if (problem !== null) errors.push(`${scenario.name}: ${problem}`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const elapsed = (performance.now() - started) / 1000;

  // Descriptors of the last calls are closed by the socket worker a moment after their results.
  await Bun.sleep(500);
  clearInterval(sampler);
  const fdsAtEnd = fdCount(pid);
  const hwm = processStatus(pid, "VmHWM");
  const left = leftovers();
  await client.close();

  const report = {
    seconds: Math.round(elapsed),
    parallel: PARALLEL,
    callsCompleted: completed,
    perScenario: Object.fromEntries(perScenario),
    errors: errors.length,
    rssStartMB: Math.round(rssAtStart / 1024),
    rssMaxMB: Math.round(maxRss / 1024),
    vmHwmMB: Math.round(hwm / 1024),
    fdsAtStart,
    fdsMax: maxFds,
    fdsAtEnd,
    leftoverProcesses: left.length,
  };
  console.log(JSON.stringify(report, null, 2));
  for (const error of errors.slice(0, 10)) console.error(`error: ${error}`);
  for (const process of left.slice(0, 10)) console.error(`left behind: ${process}`);
  const failed = errors.length > 0 || left.length > 0 || fdsAtEnd !== fdsAtStart;
  process.exit(failed ? 1 : 0);
}

await main();
