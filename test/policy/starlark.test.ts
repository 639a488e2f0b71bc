import { describe, expect, test } from "bun:test";
import { parseStarlark, StarlarkError, type StarlarkValue } from "../../src/policy/starlark.ts";
import { policyFrom, rulesError } from "./helpers.ts";

function parseError(source: string): StarlarkError {
  try {
    parseStarlark("p.rules", source);
  } catch (error) {
    if (error instanceof StarlarkError) return error;
    throw error;
  }
  throw new Error(`expected a parse error for: ${source}`);
}

/** The value of the single argument of the single call in `source`. */
function argumentValue(source: string): StarlarkValue | undefined {
  return parseStarlark("p.rules", `f(${source})`)[0]?.args[0]?.value;
}

const str = (value: string): StarlarkValue => ({ kind: "string", value });

describe("accepted syntax", () => {
  test("multi-line calls with comments and trailing commas", () => {
    const source = [
      "# Rules for git.",
      "",
      "prefix_rule(  # the call may span lines",
      '    pattern = ["git", ["status", "log",],],  # nested list, trailing commas',
      "    # a comment between arguments",
      '    decision = "prompt",',
      ")",
      "host_executable(name='git', paths=['/usr/bin/git'])  # single quotes",
      "",
    ].join("\n");
    expect(parseStarlark("p.rules", source)).toEqual([
      {
        callee: "prefix_rule",
        location: { line: 3, col: 1 },
        args: [
          {
            name: "pattern",
            location: { line: 4, col: 5 },
            value: { kind: "list", items: [str("git"), { kind: "list", items: [str("status"), str("log")] }] },
          },
          { name: "decision", location: { line: 6, col: 5 }, value: str("prompt") },
        ],
      },
      {
        callee: "host_executable",
        location: { line: 8, col: 1 },
        args: [
          { name: "name", location: { line: 8, col: 17 }, value: str("git") },
          { name: "paths", location: { line: 8, col: 29 }, value: { kind: "list", items: [str("/usr/bin/git")] } },
        ],
      },
    ]);
  });

  test("literals: booleans, None, integers, floats, tuples, dicts", () => {
    expect(argumentValue("True")).toEqual({ kind: "bool", value: true });
    expect(argumentValue("False")).toEqual({ kind: "bool", value: false });
    expect(argumentValue("None")).toEqual({ kind: "none" });
    expect(argumentValue("42")).toEqual({ kind: "int", value: 42n });
    expect(argumentValue("0x1F")).toEqual({ kind: "int", value: 31n });
    expect(argumentValue("1.5")).toEqual({ kind: "float", value: 1.5 });
    expect(argumentValue("()")).toEqual({ kind: "tuple", items: [] });
    expect(argumentValue('("a",)')).toEqual({ kind: "tuple", items: [str("a")] });
    expect(argumentValue('("a")')).toEqual(str("a"));
    expect(argumentValue('{"k": 1,}')).toEqual({ kind: "dict", entries: [[str("k"), { kind: "int", value: 1n }]] });
  });

  test("semicolons, CRLF line endings, docstrings and blank lines", () => {
    const calls = parseStarlark("p.rules", '"""Module docstring."""\r\n\r\nf(); g()\r\nh();\r\n');
    expect(calls.map((call) => call.callee)).toEqual(["f", "g", "h"]);
  });

  const escapes: [string, string][] = [
    ['"a\\nb"', "a\nb"],
    ['"\\t\\r\\a\\b\\f\\v"', "\t\r\x07\b\f\v"],
    ['"\\"\\\'\\\\"', "\"'\\"],
    ['"\\x41\\u00e9\\U0001F600"', "Aé😀"],
    ['"\\101\\0\\7"', "A\0\x07"],
    ['"\\d\\w"', "\\d\\w"],
    ['"line\\\ncontinued"', "linecontinued"],
    ["'it\"s'", 'it"s'],
    ['"""multi\nline "quoted" text"""', 'multi\nline "quoted" text'],
    ["'''a'b'''", "a'b"],
    ['r"\\d+\\n"', "\\d+\\n"],
    ['r"\\""', '"'],
    ['"é ünïcode"', "é ünïcode"],
  ];
  test.each(escapes)("string literal %s", (literal, expected) => {
    expect(argumentValue(literal)).toEqual(str(expected));
  });

  test("a string with escapes survives evaluation into a rule", () => {
    expect(policyFrom('prefix_rule(pattern=["say \\"hi\\"", "tab\\there"])').rulesFor('say "hi"')[0]?.rest).toEqual([
      { kind: "single", value: "tab\there" },
    ]);
  });
});

describe("rejected syntax names what was found and where", () => {
  const vectors: [string, string, string, string][] = [
    ["def", "prefix_rule(pattern=['a'])\ndef f():\n    pass\n", "p.rules:2:1", "function definitions (`def`) are not supported"],
    ["load", 'load("//x.star", "y")', "p.rules:1:1", "`load` is not supported"],
    ["if", "if True:\n    prefix_rule(pattern=['a'])", "p.rules:1:1", "`if` statements are not supported"],
    ["for", "for p in ['a']:\n    prefix_rule(pattern=[p])", "p.rules:1:1", "`for` loops are not supported"],
    ["assignment", "x = ['git']", "p.rules:1:3", "assignments and variables are not supported in rules files (found `x =`)"],
    ["augmented assignment", "x += 1", "p.rules:1:3", "assignments and variables are not supported in rules files (found `x +=`)"],
    ["variable use", "prefix_rule(pattern=GIT)", "p.rules:1:21", "variables are not supported in rules files (found `GIT`)"],
    ["arithmetic", 'prefix_rule(pattern=["a"] + ["b"])', "p.rules:1:27", "operators and arithmetic are not supported in rules files (found `+`)"],
    ["string concatenation", 'prefix_rule(pattern=["a" + "b"])', "p.rules:1:26", "(found `+`)"],
    ["percent formatting", 'prefix_rule(pattern=["%s" % "a"])', "p.rules:1:27", "(found `%`)"],
    ["unary minus on a string", 'f(-"a")', "p.rules:1:3", "(found unary `-`)"],
    ["prefixed string", 'f(u"x")', "p.rules:1:4", "Parse error: unexpected string literal"],
    ["upper-case raw prefix", 'f(R"x")', "p.rules:1:4", "Parse error: unexpected string literal"],
    ["attribute access", 'prefix_rule(pattern="a b".split())', "p.rules:1:26", "attribute access is not supported in rules files (found `.`)"],
    ["attribute call statement", "native.prefix_rule()", "p.rules:1:1", "variables are not supported in rules files (found `native`)"],
    ["indexing", 'f(["a"][0])', "p.rules:1:8", "indexing is not supported"],
    ["nested call", 'prefix_rule(pattern=list("ab"))', "p.rules:1:21", "function calls are only allowed as top-level statements (found call to `list`)"],
    ["comprehension", "f([x for x in y])", "p.rules:1:4", "variables are not supported"],
    ["comprehension over literal", 'f(["a" for x in y])', "p.rules:1:8", "comprehensions are not supported"],
    ["conditional expression", 'f("a" if True else "b")', "p.rules:1:7", "conditional expressions are not supported"],
    ["lambda", "f(lambda: 1)", "p.rules:1:3", "`lambda` is not supported"],
    ["not", "f(not True)", "p.rules:1:3", "(found `not`)"],
    ["comparison", 'f("a" == "b")', "p.rules:1:7", "(found `==`)"],
    ["adjacent strings", 'f("a" "b")', "p.rules:1:7", "Parse error: unexpected string literal"],
    ["kwargs unpacking", "f(**kw)", "p.rules:1:3", "argument unpacking (`**`) is not supported"],
    ["positional after named", 'f(a="x", "y")', "p.rules:1:10", "positional argument after named argument"],
    ["repeated keyword", 'f(a="x", a="y")', "p.rules:1:10", "argument `a` is repeated"],
    ["missing paren", 'prefix_rule(pattern=["git", "status"]', "p.rules:1:38", "Parse error: unexpected new line, expected `,` or `)`"],
    ["missing bracket", 'f(["a", "b")', "p.rules:1:12", "Parse error: unexpected `)`, expected `,` or `]`"],
    ["missing comma", 'f(["a"] ["b"])', "p.rules:1:9", "indexing is not supported"],
    ["two calls on a line", "f() g()", "p.rules:1:5", "Parse error: unexpected identifier `g`, expected new line"],
    ["unterminated string", 'f("abc)\n', "p.rules:1:3", "Parse error: unfinished string literal"],
    ["unterminated triple string", 'f("""abc)\n', "p.rules:1:3", "Parse error: unfinished string literal"],
    ["bad escape", 'f("\\x4")', "p.rules:1:4", "Parse error: invalid string escape sequence `\\x4`"],
    ["invalid character", "f($x)", "p.rules:1:3", "Parse error: invalid input `$`"],
    ["surrogate escape", 'f("\\ud800")', "p.rules:1:4", "invalid string escape sequence `\\ud800`"],
    ["leading zero", "f(01)", "p.rules:1:3", "integer cannot have leading 0"],
    ["indentation", "f()\n  g()", "p.rules:2:1", "Parse error: unexpected indentation"],
    ["leading spaces", "  f()", "p.rules:1:1", "Parse error: unexpected indentation"],
    ["a lexical error wins over argument order", 'f(a="x", d\u00e9cision="y")', "p.rules:1:11", "Parse error: invalid input `é`"],
    ["ellipsis", "f(x=...)", "p.rules:1:5", "`...` is not supported"],
    ["tab", 'f(a="x",\tb="y")', "p.rules:1:9", "Parse error: tabs are not allowed"],
    ["byte-order mark", "\ufefff()", "p.rules:1:1", "Parse error: invalid input"],
    ["lone carriage return", "f()\rg()", "p.rules:1:4", "Parse error: invalid input"],
    ["backslash not before a newline", "f() \\ g()", "p.rules:1:5", "Parse error: invalid input `\\`"],
    ["columns count characters", 'f("😀😀") g()', "p.rules:1:9", "Parse error: unexpected identifier `g`"],
    ["escape on a later line of a triple-quoted string", 'f("""ab\nc\\x4""")', "p.rules:2:2", "invalid string escape sequence"],
    ["bare literal statement", "42", "p.rules:1:1", "only function calls such as prefix_rule(...) are allowed at top level (found number `42`)"],
    ["bare list statement", '["a"]', "p.rules:1:1", "(found `[`)"],
    ["return", "return", "p.rules:1:1", "`return` is not supported"],
    ["reserved word", "import os", "p.rules:1:1", "Parse error: unexpected keyword `import`"],
    ["unsupported on a later line", 'f(\n  "a",\n  b = 1 + 2\n)', "p.rules:3:9", "(found `+`)"],
    ["syntax error after an unsupported operator in the same call", 'f(\n  "a",\n  b = 1 +\n)', "p.rules:4:1", "Parse error: unexpected `)`"],
    ["nested blocks parse", "def f(a, *b, c=1, **d):\n    if a:\n        return [x for x in b if x]\n    else:\n        pass\nf(1)", "p.rules:1:1", "function definitions"],
    ["lambda, slices, dict comprehension", 'f(lambda x: x[1:2], {k: v for k, v in y}, not a in b)', "p.rules:1:3", "`lambda` is not supported"],
  ];
  test.each(vectors)("%s", (_id, source, location, reason) => {
    const error = parseError(source);
    expect(error.message).toStartWith(`${location}: starlark error: `);
    expect(error.reason).toContain(reason);
  });

  test("a later syntax error wins over an earlier unsupported statement, as Starlark parses the whole file first", () => {
    expect(parseError('x = 1\nf("unterminated').message).toStartWith("p.rules:2:3:");
    expect(parseError("f(-1)\nf(a=1,\tb=2)").message).toStartWith("p.rules:2:7:");
    expect(parseError("f(-1)\ng() h()").message).toStartWith("p.rules:2:5:");
    // Blocks are parsed (then refused) rather than mistaken for stray indentation.
    expect(parseError("def f():\n    pass\nf(-1)").message).toStartWith("p.rules:1:1:");
  });

  test("backslash-newline continues a logical line, also with CRLF", () => {
    expect(parseStarlark("p.rules", 'f(a="x", \\\nb="y")\nf \\\r\n()\n').map((call) => call.callee)).toEqual(["f", "f"]);
  });

  test("f-strings without placeholders are strings; a placeholder names an undefined variable", () => {
    expect(argumentValue('f"a{{b}}"')).toEqual(str("a{b}"));
    expect(argumentValue('fr"\\d"')).toEqual(str("\\d"));
    const error = rulesError('prefix_rule(pattern=["a"])\nprefix_rule(pattern=[f"{x}"])');
    expect(error.message).toBe("test.rules:2:25: starlark error: Variable `x` not found");
  });

  test("bytes literals (later Codex) are values no builtin accepts", () => {
    expect(argumentValue('b"x"')).toEqual({ kind: "bytes" });
    expect(rulesError('prefix_rule(pattern=[rb"a"])').reason).toContain("(got bytes)");
  });

  test("unknown functions are not defined, and are reported before any call runs", () => {
    const error = rulesError('prefix_rule(pattern=["git"], decision="ask")\nweb_rule(host="x")');
    expect(error.message).toBe(
      "test.rules:2:1: starlark error: name `web_rule` is not defined: rules files can only call prefix_rule, host_executable and network_rule",
    );
    expect(rulesError("foo()").reason).toStartWith("name `foo` is not defined");
    expect(rulesError('print("x")').reason).toStartWith("name `print` is not defined");
    expect(rulesError('len("x")').reason).toStartWith("calling `len` is not supported");
  });

  test("syntax errors anywhere in the file win over evaluation errors", () => {
    expect(rulesError('prefix_rule(pattern=[], decision="ask")\nx = = 1').location).toEqual({ line: 2, col: 5 });
  });

  test("names are resolved before anything runs: an undefined one fails the file where it is read", () => {
    expect(rulesError('host_executable(name="ls", paths=["/usr/bin/rg"])\nprefix_rule(pattern=GIT)').message).toBe(
      "test.rules:2:21: starlark error: Variable `GIT` not found",
    );
    // A comment cannot hide a line break: `line` is a statement reading an undefined name.
    expect(rulesError('prefix_rule(pattern=["a"], decision="ask")\n# x\nline\n').location).toEqual({ line: 3, col: 1 });
    // A name the file defines is valid Starlark, outside our subset.
    expect(rulesError('X = ["a"]\nprefix_rule(pattern=X)').reason).toContain("assignments and variables are not supported");
    expect(rulesError("def f(a):\n    return [b for b in a]\nf(1)").reason).toContain("function definitions");
  });

  test("calls before an unsupported statement run first, as Starlark would run them", () => {
    expect(rulesError('prefix_rule(pattern=[], decision="ask")\nx = 1').location).toEqual({ line: 1, col: 1 });
    expect(rulesError('x = 1\nprefix_rule(pattern=[], decision="ask")').location).toEqual({ line: 1, col: 3 });
    expect(rulesError("prefix_rule(pattern=[-1])").reason).toContain("(got int)");
  });
});
