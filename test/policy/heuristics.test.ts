import { describe, expect, test } from "bun:test";
import { commandMightBeDangerous, isKnownSafeCommand, parsePlainCommands } from "../../src/policy/heuristics.ts";
import { shlexSplit } from "../../src/policy/shlex.ts";

/** Commands in the spec are written in shell syntax. */
function argv(command: string): string[] {
  const words = shlexSplit(command);
  if (words === undefined) throw new Error(`bad test command: ${command}`);
  return words;
}

describe("D. commandMightBeDangerous, 0.97 (policy.md 10.D)", () => {
  const vectors: [string, string[], boolean][] = [
    ["D1", ["git reset"], true],
    ["D2", ['bash -lc "git reset --hard"'], true],
    ["D3", ['zsh -lc "git reset --hard"'], true],
    ["D4", ["git status"], false],
    ["D5", ['bash -lc "git status"'], false],
    ["D6", ["sudo git reset --hard"], true],
    ["D7", ["/usr/bin/git reset --hard"], true],
    ["D8", ["git branch -d feature", "git branch -D feature", 'bash -lc "git branch --delete feature"'], true],
    ["D9", ["git branch -dv feature", "git branch -vd feature", "git branch -vD feature", "git branch -Dvv feature"], true],
    ["D10", ["git -C . branch -d feature", "git -c color.ui=false branch -D feature", 'bash -lc "git -C . branch -d feature"'], true],
    ["D11", ["git checkout reset"], false],
    ["D12", ["git push --force origin main", "git push -f origin main", "git -C . push --force-with-lease origin main"], true],
    ["D13", ["git push origin +main", "git push origin +refs/heads/main:refs/heads/main"], true],
    ["D14", ["git push --delete origin feature", "git push -d origin feature"], true],
    ["D15", ["git push origin :feature", 'bash -lc "git push origin :feature"'], true],
    ["D16", ["git push origin main"], false],
    ["D17", ["git clean -fdx", "git clean -xdf", "git clean --force"], true],
    ["D18", ["rm -rf /", "rm -f /"], true],
    ["D19", ["rm -r /tmp/foo", "rm -fr /tmp/foo", "rm /tmp/x -rf", "/bin/rm -rf /"], false],
    ["D20", ['bash -lc "ls && rm -rf /"'], true],
    ["D21", ["bash -lc \"rm -rf $HOME\""], false],
    ["D22", ["bash -lc git reset"], false],
    ["D23", ["git clean -n"], false],
    ["D24", ["sudo"], false],
    // Further cases from section 4.1.
    ["suffix test", ["legit reset", "digit rm x"], true],
    ["inline global options", ["git --git-dir=.git reset", "git -C. reset", "git --work-tree /x reset", "git -- reset"], true],
    ["branch/clean without destructive flags", ["git branch -v", "git branch --list", "git clean -n -x", "git push", "git push origin +"], false],
    ["delete= and force= forms", ["git branch --delete=x", "git push --force-with-lease=main", "git push --delete=x", "git clean --force=1"], true],
    ["empty command", [""], false],
    ["wrapper recognition", ['/bin/bash -c "git reset"', 'sh -c "git rm x"', 'bash.exe -lc "git reset"'], true],
    ["not a wrapper", ['fish -c "git reset"', 'bash -x "git reset"', 'Bash -lc "git reset"'], false],
    ["pipelines and lists", ['bash -lc "ls | git reset"', 'bash -lc "ls; git reset"', 'bash -lc "false || git reset"', "bash -lc 'ls\ngit reset'"], true],
    ["unparseable scripts are not inspected", ['bash -lc "git reset > /dev/null"', 'bash -lc "(git reset)"', 'bash -lc "git reset &"', 'bash -lc "X=1 git reset"'], false],
  ];
  test.each(vectors)("%s", (_id, commands, expected) => {
    for (const command of commands) expect([command, commandMightBeDangerous(argv(command))]).toEqual([command, expected]);
  });

  test("empty argv is not dangerous", () => {
    expect(commandMightBeDangerous([])).toBe(false);
  });
});

describe("E. isKnownSafeCommand (policy.md 10.E)", () => {
  const vectors: [string, string[], boolean][] = [
    ["E1", ["ls", "git status", "git branch", "git branch --show-current", "base64", "sed -n 1,5p file.txt", "nl -nrz Cargo.toml", "find . -name file.txt"], true],
    ["E2", ["git branch -d feature", "git branch new-branch"], false],
    ["E3 safe", ["git -C . branch --show-current"], true],
    ["E3 unsafe", ["git -C . branch -d feature", 'bash -lc "git -C . branch -d feature"'], false],
    ["E4", ["git checkout status"], false],
    ["E5", ["git log --output=/tmp/x -n 1", "git diff --output /tmp/x", "git show --output=/tmp/x HEAD", "git -c core.pager=cat log -n 1", "git -ccore.pager=cat status"], false],
    ["E6", ["cargo check", "foo", "git fetch", "sed -n xp file.txt"], false],
    [
      "E7",
      ["find . -exec rm {} ;", "find . -execdir rm {} ;", "find . -ok rm {} ;", "find . -okdir rm {} ;", "find . -delete", "find . -fls F", "find . -fprint F", "find . -fprint0 F", "find . -fprintf F fmt"],
      false,
    ],
    ["E8", ["base64 -o out.bin", "base64 --output out.bin", "base64 --output=out.bin", "base64 -ob64.txt"], false],
    ["E9 safe", ["rg Cargo.toml -n"], true],
    ["E9 unsafe", ["rg --search-zip files", "rg -z files", "rg --pre pwned files", "rg --pre=pwned files", "rg --hostname-bin pwned files", "rg --hostname-bin=pwned files"], false],
    [
      "E10",
      ["zsh -lc ls", "bash -lc ls", 'bash -lc "ls -1"', 'bash -lc "git status"', "bash -lc 'grep -R \"Cargo.toml\" -n'", 'bash -lc "sed -n 1,5p file.txt"', "bash -lc \"sed -n '1,5p' file.txt\"", 'bash -lc "find . -name file.txt"'],
      true,
    ],
    ["E11", ["bash -lc 'grep -R \"Cargo.toml\" -n || true'", 'bash -lc "ls && pwd"', "bash -lc \"echo 'hi' ; ls\"", 'bash -lc "ls | wc -l"'], true],
    [
      "E12",
      ["bash -lc git status", "bash -lc \"'git status'\"", 'bash -lc "find . -name file.txt -delete"', 'bash -lc "ls && rm -rf /"', 'bash -lc "(ls)"', 'bash -lc "ls || (pwd && echo hi)"', 'bash -lc "ls > out.txt"'],
      false,
    ],
    // Further cases from section 4.2.
    ["git read-only subcommands", ["git log -n 1", "git diff HEAD", "git show HEAD", "git branch -a -v", "git branch --format=%(refname)"], true],
    ["git unsafe read options", ["git diff --ext-diff", "git log --exec=x", "git show --textconv", "git status --paginate", "git --config-env=a=b status"], false],
    ["sed shape", ["sed -n 1,5p a b", "sed -e 5p x", "sed -n"], false],
    ["sed without a file", ["sed -n 5p"], true],
    ["basename of the program", ["/bin/ls -la", "/usr/bin/git status"], true],
    ["empty script", ['bash -lc ""'], false],
  ];
  test.each(vectors)("%s", (_id, commands, expected) => {
    for (const command of commands) expect([command, isKnownSafeCommand(argv(command), "linux")]).toEqual([command, expected]);
  });

  test("E13: numfmt and tac are safe on Linux only", () => {
    expect(isKnownSafeCommand(["numfmt", "1000"], "linux")).toBe(true);
    expect(isKnownSafeCommand(["tac", "Cargo.toml"], "linux")).toBe(true);
    expect(isKnownSafeCommand(["numfmt", "1000"], "darwin")).toBe(false);
    expect(isKnownSafeCommand(["tac", "Cargo.toml"], "darwin")).toBe(false);
  });
});

describe("plain-command parsing of wrapper scripts", () => {
  const vectors: [string, string[][] | undefined][] = [
    ["ls -la", [["ls", "-la"]]],
    ["ls && pwd || echo x ; wc -l | sort", [["ls"], ["pwd"], ["echo", "x"], ["wc", "-l"], ["sort"]]],
    ["echo 'a b'\"c d\"e 123", [["echo", "a bc de", "123"]]],
    ['echo "a\\"b"', undefined],
    ["ls;", [["ls"]]],
    ["ls &&\n  pwd", [["ls"], ["pwd"]]],
    ["\n\nls\n\n", [["ls"]]],
    ["", []],
    ["ls &&", undefined],
    ["; ls", undefined],
    ["ls ;; pwd", undefined],
    ["ls |& wc", undefined],
    ["ls & pwd", undefined],
    ["echo $HOME", undefined],
    ['echo "$HOME"', undefined],
    ["echo `id`", undefined],
    ["echo $(id)", undefined],
    ["ls # comment", undefined],
    ["echo a#b", [["echo", "a#b"]]],
    ["FOO=1 ls", undefined],
    ["ls --color=auto", [["ls", "--color=auto"]]],
    ["if true; then ls; fi", undefined],
    ["{ ls; }", undefined],
    ["[ -f x ]", undefined],
    ["export A", undefined],
    ['"ls" -la', undefined],
    ["echo 'unterminated", undefined],
    ["cat < in", undefined],
    ["echo a\\ b", undefined],
  ];
  test.each(vectors)("%p", (script, expected) => {
    expect(parsePlainCommands(script)).toEqual(expected);
  });
});
