/** Where a command writes and what environment it reads (injected in tests). */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  /**
   * stderr is a terminal: progress is drawn as a bar (redrawn with `\r`). Otherwise (a pipe, a
   * file, CI) each progress step is one JSON line. Default `false`.
   */
  isTTY?: boolean;
  /** Width of the terminal, for the progress bar (default 80). */
  columns?: number;
}

/** Parsed options of a command (strings and booleans as `node:util` `parseArgs` gives them). */
export type CommandValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * One option of a command. Every option says what it does and its default, and `swan help
 * <command>` prints both.
 *
 * @example
 * ```ts
 * const limit: OptionSpec = { type: 'string', value: 'n', description: 'How many to list', default: '100' };
 * ```
 */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** One line: what the option does. */
  description: string;
  /** The placeholder shown in help, e.g. `url` in `--database-url <url>` (string options). */
  value?: string;
  short?: string;
  /** The value when the option is not given (booleans: `false` unless set). */
  default?: string | boolean;
  /** The default as shown in help when it is not a literal value, e.g. `$DATABASE_URL` or `stdout`. */
  defaultText?: string;
}

/**
 * One `swan` subcommand. Each lives in its own file under `src/commands/` and is listed once in
 * `src/commands/index.ts`. A command only reads its options and calls library functions; it
 * returns the process exit code.
 *
 * @example
 * ```ts
 * export const hello: Command = {
 *   name: 'hello',
 *   summary: 'Print a greeting',
 *   options: { name: { type: 'string', value: 'name', description: 'Who to greet', default: 'world' } },
 *   async run({ values, io }) { io.stdout(`hello ${String(values.name)}\n`); return 0; },
 * };
 * ```
 */
export interface Command {
  /** Words after `swan`, e.g. `migrate` or `audit verify`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Paragraphs after the usage line in `swan help <command>` (default: the summary). */
  description?: string;
  /** The positional arguments as shown in the usage line, e.g. `<clientId>`. */
  args?: string;
  options?: Record<string, OptionSpec>;
  /** Accept positional arguments after the command name (default: none). */
  positionals?: boolean;
  /** Environment variables the command reads, with what they are for. */
  environment?: Record<string, string>;
  /** What it prints and its exit codes, shown in help. */
  output?: string;
  examples?: string[];
  run(args: { values: CommandValues; positionals: string[]; io: CliIo }): Promise<number>;
}

/** Exit codes of `swan`: 0 done, 1 failed (or a check found a problem), 2 wrong usage or configuration. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Wrong usage (unknown command, option or package, missing database): `swan` prints the message
 * and the command's usage and exits 2.
 *
 * @example
 * ```ts
 * throw new UsageError('--packages must not be empty');
 * ```
 */
export class UsageError extends Error {
  override name = 'UsageError';
}
