import type { ParseArgsConfig } from 'node:util';

/** Where a command writes and what environment it reads (injected in tests). */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
}

/** Parsed options of a command (strings and booleans as `node:util` `parseArgs` gives them). */
export type CommandValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

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
 *   options: { name: { type: 'string', default: 'world' } },
 *   async run({ values, io }) { io.stdout(`hello ${String(values.name)}\n`); return 0; },
 * };
 * ```
 */
export interface Command {
  /** Words after `swan`, e.g. `migrate` or `audit verify`. */
  name: string;
  summary: string;
  /** Extra usage text after the option list, e.g. examples. */
  usage?: string;
  /** Options in `node:util` `parseArgs` form (`--help` is added to every command). */
  options?: NonNullable<ParseArgsConfig['options']>;
  /** Accept positional arguments after the command name (default: none). */
  positionals?: boolean;
  run(args: { values: CommandValues; positionals: string[]; io: CliIo }): Promise<number>;
}

/** Exit codes of `swan`: 0 done, 1 failed (or a check found a problem), 2 wrong usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Wrong usage (unknown command, option or package): `swan` prints the message and exits 2.
 *
 * @example
 * ```ts
 * throw new UsageError('--packages must not be empty');
 * ```
 */
export class UsageError extends Error {
  override name = 'UsageError';
}
