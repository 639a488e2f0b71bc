// Replays the corpus written by scripts/differential.ts: rules files and
// commands whose results came from the real `codex execpolicy check` (the
// newest, or 0.97 where that keeps 0.97 files loading), plus the labelled cases
// where ours deliberately differs. Every case runs in-process through the same
// argument parsing, loading and rendering as the `check` subcommand; a sample
// also runs through the compiled binary. No Codex is needed here.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CorpusEntry, CORPUS, normalizeStdout, type Outcome } from "../../scripts/differential.ts";
import { runCheck } from "../../src/cli/check.ts";
import { SERVER_BINARY, tempDir } from "../support.ts";

const corpus: CorpusEntry[] = readFileSync(CORPUS, "utf8")
  .split("\n")
  .filter((line) => line !== "")
  .map((line) => JSON.parse(line) as CorpusEntry);

/** Our messages start with `path:line:col:`; the path is p.rules in every case. */
function locationOf(stderr: string): string | null {
  const match = /p\.rules:(\d+):(\d+):/.exec(stderr);
  return match === null ? null : `${match[1]}:${match[2]}`;
}

const DOCUMENTED = new Set(["located-errors", "declarative-subset", "0.97-compatibility"]);

describe("differential corpus (scripts/differential.ts)", () => {
  test("is large, mostly loads, and labels every deliberate difference with a known reason", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(1000);
    expect(corpus.filter((entry) => entry.expected.status === 0).length).toBeGreaterThan(corpus.length / 4);
    for (const entry of corpus.filter((candidate) => candidate.difference !== undefined)) {
      expect(DOCUMENTED.has(entry.difference ?? "")).toBe(true);
      expect(entry.codex).toBeDefined();
    }
  });

  test("every case gives the expected status, JSON and error location (in-process)", () => {
    const dir = tempDir("differential-corpus-");
    const rulesPath = join(dir, "p.rules");
    const failures: string[] = [];
    for (const entry of corpus) {
      writeFileSync(rulesPath, entry.rules);
      const args = entry.args.map((arg, i) => (arg === "p.rules" && entry.args[i - 1] === "-r" ? rulesPath : arg));
      let stdout = "";
      let stderr = "";
      const status = runCheck(args, {}, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
      const actual: Outcome = { status, stdout: normalizeStdout(stdout), location: locationOf(stderr) };
      if (JSON.stringify(actual) !== JSON.stringify(entry.expected)) {
        failures.push(`#${entry.id} ${JSON.stringify(entry.rules)} ${JSON.stringify(entry.args)}: expected ${JSON.stringify(entry.expected)}, got ${JSON.stringify(actual)}`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });

  test("a sample gives the same through the compiled binary", async () => {
    const sample = corpus.filter((_, index) => index % Math.ceil(corpus.length / 24) === 0);
    for (const entry of sample) {
      const dir = tempDir("differential-binary-");
      writeFileSync(join(dir, "p.rules"), entry.rules);
      const child = Bun.spawn([SERVER_BINARY, "check", ...entry.args], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "", HOME: dir, CODEX_HOME: dir },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      const [status, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
      expect({ id: entry.id, status, stdout: normalizeStdout(stdout), location: locationOf(stderr) }).toEqual({ id: entry.id, ...entry.expected });
      // No stack trace or bundled source, whatever the input.
      expect(stderr).not.toMatch(/\n\s+at |TypeError|\/\$bunfs\//);
    }
  });
});
