// The README's "Client configuration" snippets, read from the README itself so
// that what the verify script runs and what the tests parse is what users copy.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const README_PATH = join(resolve(import.meta.dir, "../.."), "README.md");
/** Stands for the server binary in every snippet. */
export const SERVER_PATH_PLACEHOLDER = "/abs/path/to/codex-exec-mcp-server";

const SECTION = "## Client configuration";

export interface Snippet {
  /** The bold name the snippet is listed under (`Codex`, `Claude Code`...). */
  client: string;
  /** The fence's language: toml, json, sh. */
  language: string;
  text: string;
}

/** Every fenced block of the section, with the client it is listed under. */
export function readmeSnippets(readme: string = readFileSync(README_PATH, "utf8")): Snippet[] {
  const start = readme.indexOf(`\n${SECTION}\n`);
  if (start < 0) throw new Error(`README has no "${SECTION}" section`);
  const rest = readme.slice(start + SECTION.length + 2);
  const end = rest.search(/\n## /);
  const lines = (end < 0 ? rest : rest.slice(0, end)).split("\n");
  const snippets: Snippet[] = [];
  let client = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const heading = /^\*\*([^*]+)\*\*/.exec(line);
    if (heading !== null) client = heading[1] ?? "";
    const fence = /^```(\w*)\s*$/.exec(line);
    if (fence === null) continue;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] ?? "").startsWith("```"); i++) body.push(lines[i] ?? "");
    snippets.push({ client, language: fence[1] ?? "", text: `${body.join("\n")}\n` });
  }
  return snippets;
}

/** The one snippet of `client` in `language`. */
export function snippet(client: string, language: string, snippets: Snippet[] = readmeSnippets()): string {
  const found = snippets.filter((s) => s.client === client && s.language === language);
  if (found.length !== 1) throw new Error(`README: expected one ${language} snippet under **${client}**, found ${found.length}`);
  return found[0]?.text ?? "";
}

/** Shell commands of a `sh` snippet: one per line, comments and blanks dropped, `\` continuations joined. */
export function shellCommands(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}
