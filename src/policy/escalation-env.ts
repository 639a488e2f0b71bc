// The environment an escalated program gets. Every variable a sandboxed
// command sets is hostile: LD_PRELOAD, GIT_CONFIG_*, BASH_ENV, BASH_FUNC_*%%,
// PATH, PYTHONPATH, NODE_OPTIONS... each makes some program run other code.
// So the program gets the server's environment as it was at start, and from
// the request only variables that choose presentation (language, terminal
// size, colour, time zone), each with a value that cannot name a file: a
// locale or time zone given as a path would have the program parse a file
// the sandbox wrote. A user can pass more by name (`--escalation-env`),
// knowingly and unchecked.

const LOCALE_NAME = /^[A-Za-z0-9_.@+-]*$/;
const LOCALE_LIST = /^[A-Za-z0-9_.@+:-]*$/;
const TERMINAL_NAME = /^[A-Za-z0-9_.+-]*$/;
const COUNT = /^[0-9]{1,5}$/;
const FLAG = /^[A-Za-z0-9]{0,16}$/;
// POSIX TZ rules (`EST5EDT,M3.2.0,M11.1.0`, `<+03>-3`) and zoneinfo names
// (`Europe/Paris`, `:America/New_York`), but no absolute path.
const TIME_ZONE = /^:?(?!\/)[A-Za-z0-9_+,.<>:/-]*$/;

const LOCALE_CATEGORIES = [
  "LC_ALL",
  "LC_CTYPE",
  "LC_NUMERIC",
  "LC_TIME",
  "LC_COLLATE",
  "LC_MONETARY",
  "LC_MESSAGES",
  "LC_PAPER",
  "LC_NAME",
  "LC_ADDRESS",
  "LC_TELEPHONE",
  "LC_MEASUREMENT",
  "LC_IDENTIFICATION",
];

/** Request variables an escalated program receives, with the values accepted for each. */
export const PASSED_REQUEST_ENV: ReadonlyMap<string, RegExp> = new Map<string, RegExp>([
  ["LANG", LOCALE_NAME],
  ...LOCALE_CATEGORIES.map((name): [string, RegExp] => [name, LOCALE_NAME]),
  ["LANGUAGE", LOCALE_LIST],
  ["TERM", TERMINAL_NAME],
  ["COLUMNS", COUNT],
  ["LINES", COUNT],
  ["NO_COLOR", FLAG],
  ["CLICOLOR", FLAG],
  ["TZ", TIME_ZONE],
]);

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isVariableName(name: string): boolean {
  return VARIABLE_NAME.test(name);
}

export interface EscalationEnvInput {
  /** The server's environment as captured at its start. */
  serverEnv: Readonly<Record<string, string | undefined>>;
  /** The intercepted exec's environment (hostile). */
  requestEnv: Readonly<Record<string, string>>;
  /** Names the user chose to pass from the request as they are (`--escalation-env`). */
  passedByUser: readonly string[];
  /** Where the program runs: its PWD. */
  workdir: string;
}

export function escalationEnvironment(input: EscalationEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.serverEnv)) if (value !== undefined) env[key] = value;
  const requested = (name: string): string | undefined => (Object.hasOwn(input.requestEnv, name) ? input.requestEnv[name] : undefined);
  for (const [name, accepted] of PASSED_REQUEST_ENV) {
    const value = requested(name);
    if (value !== undefined && accepted.test(value) && !value.includes("..")) env[name] = value;
  }
  for (const name of input.passedByUser) {
    const value = requested(name);
    if (value !== undefined) env[name] = value;
  }
  env.PWD = input.workdir;
  return env;
}
