// Entry point of the single binary. The role comes from the name we were
// invoked as (argv[0], not the resolved executable): the exec wrapper runs for
// every program the shell starts, so each role is loaded lazily and the
// wrapper's path never touches the MCP SDK, zod, citty or consola.
const invokedAs = process.argv0.slice(process.argv0.lastIndexOf("/") + 1);
const args = process.argv.slice(2);

if (invokedAs === "codex-execve-wrapper") {
  const { runExecWrapper } = await import("./escalate/client.ts");
  runExecWrapper(args);
} else if (invokedAs === "codex-escalate-exec") {
  const { runEscalatedExec } = await import("./escalate/exec-launcher.ts");
  runEscalatedExec(args);
} else if (invokedAs === "codex-linux-sandbox") {
  const { runLinuxSandboxLauncher } = await import("./sandbox/linux-launcher.ts");
  runLinuxSandboxLauncher(args);
} else {
  const { runCli } = await import("./cli/main.ts");
  await runCli(args);
}

// A module (for top-level await) that exports nothing.
export {};
