/** Persisting an "always allow" prefix rule (policy.md section 6, `blocking_append_allow_prefix_rule`). */

import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Appends `prefix_rule(pattern=[...], decision="allow")` to `policyPath`
 * unless an identical line exists, creating the parent directory (one level).
 *
 * The reference takes an exclusive advisory lock (flock) while it reads and
 * appends; Node's fs has no flock, so concurrent writers are not serialised
 * here. Appends stay atomic per write, so the worst case is a duplicated line.
 */
export function appendAllowPrefixRule(policyPath: string, prefix: readonly string[]): void {
  if (prefix.length === 0) throw new Error("prefix rule requires at least one token");
  // JSON string syntax is also valid Starlark string syntax, with the same meaning.
  const line = `prefix_rule(pattern=[${prefix.map((token) => JSON.stringify(token)).join(", ")}], decision="allow")`;

  const directory = dirname(policyPath);
  if (directory === policyPath) throw new Error(`policy path has no parent: ${policyPath}`);
  try {
    mkdirSync(directory);
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) {
      throw new Error(`failed to create policy directory ${directory}: ${describe(error)}`);
    }
  }

  let fd: number;
  try {
    fd = openSync(policyPath, "a+");
  } catch (error) {
    throw new Error(`failed to open policy file ${policyPath}: ${describe(error)}`);
  }
  try {
    let contents: string;
    try {
      contents = readFileSync(fd, "utf8");
    } catch (error) {
      throw new Error(`failed to read policy file ${policyPath}: ${describe(error)}`);
    }
    // Rust's `lines()` also strips a trailing `\r`.
    if (contents.split("\n").some((existing) => existing.replace(/\r$/, "") === line)) return;
    const separator = contents.length > 0 && !contents.endsWith("\n") ? "\n" : "";
    try {
      writeSync(fd, `${separator}${line}\n`);
    } catch (error) {
      throw new Error(`failed to write to policy file ${policyPath}: ${describe(error)}`);
    }
  } finally {
    closeSync(fd);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
