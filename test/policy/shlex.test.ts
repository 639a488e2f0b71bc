import { describe, expect, test } from "bun:test";
import { shlexJoin, shlexSplit, shlexTryJoin } from "../../src/policy/shlex.ts";

describe("shlexSplit (policy.md 7.2)", () => {
  const vectors: [string, string[] | undefined][] = [
    ["foo$baz", ["foo$baz"]],
    ["foo baz", ["foo", "baz"]],
    ['foo"bar"baz', ["foobarbaz"]],
    ['foo "bar"baz', ["foo", "barbaz"]],
    ["   foo \nbar", ["foo", "bar"]],
    ["foo\\\nbar", ["foobar"]],
    ['"foo\\\nbar"', ["foobar"]],
    ["'baz\\$b'", ["baz\\$b"]],
    ["'baz\\''", undefined],
    ["\\", undefined],
    ['"\\', undefined],
    ["'\\", undefined],
    ['"', undefined],
    ["'", undefined],
    ["foo #bar\nbaz", ["foo", "baz"]],
    ["foo #bar", ["foo"]],
    ["foo#bar", ["foo#bar"]],
    ['foo"#bar', undefined],
    ["'\\n'", ["\\n"]],
    ["'\\\\n'", ["\\\\n"]],
    // Double-quote escapes: only $ ` " \ and newline are special.
    ['"a\\$b\\`c\\"d\\\\e\\xf"', ["a$b`c\"d\\e\\xf"]],
    // Outside quotes a backslash escapes anything.
    ["a\\ b \\'c", ["a b", "'c"]],
    ["a\rb", ["a\rb"]],
    ["", []],
    ["  \t\n ", []],
    ["# only a comment", []],
    ["git status", ["git", "status"]],
  ];
  test.each(vectors)("%p", (input, expected) => {
    expect(shlexSplit(input)).toEqual(expected);
  });
});

describe("shlexTryJoin (policy.md 7.3)", () => {
  const vectors: [string[], string][] = [
    [["rm", "-rf", "/some/important/folder"], "rm -rf /some/important/folder"],
    [["bash", "-lc", "rm -rf /some/important/folder"], "bash -lc 'rm -rf /some/important/folder'"],
    [["echo", "Hello, world!"], "echo 'Hello, world!'"],
    [[""], "''"],
    [[], ""],
    [["foobar"], "foobar"],
    [["foo bar"], "'foo bar'"],
    [["'\""], "\"'\\\"\""],
    [["it's"], "\"it's\""],
    [["$HOME's"], "'$HOME'\"'s\""],
    [["^foo"], "'^foo'"],
    [["a^b"], "a'^b'"],
    [["back\\slash"], '"back\\\\slash"'],
    [["héllo"], "'héllo'"],
    [["a=b", "~", "x,y"], "'a=b' '~' 'x,y'"],
    [["+-./:@]_09AZaz"], "+-./:@]_09AZaz"],
  ];
  test.each(vectors)("%p", (words, expected) => {
    expect(shlexTryJoin(words)).toBe(expected);
    expect(shlexJoin(words)).toBe(expected);
  });

  test("a NUL byte makes the join fail", () => {
    expect(shlexTryJoin(["a", "b\0c"])).toBeUndefined();
    expect(() => shlexJoin(["b\0c"])).toThrow("NUL");
  });

  test("split of a join gives the words back", () => {
    const words = ["it's", "$HOME", "a b", "", "^x", "q\"uote", "back\\slash", "héllo"];
    expect(shlexSplit(shlexJoin(words))).toEqual(words);
  });
});
