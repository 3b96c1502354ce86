import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isSwanError } from '@swan/core';
import pkg from '../package.json' with { type: 'json' };
import { EXIT, UsageError, type CliIo, type Command, type CommandValues } from './command.js';
import { commands as defaultCommands } from './commands/index.js';
import { databaseTarget, type DatabaseTarget } from './database.js';
import { describeError } from './errors.js';
import { editDistance, nearest } from './suggest.js';

/** The version of `@swan/cli` (`swan --version`). */
export const VERSION: string = pkg.version;

/** The process's stdout, stderr and environment; progress bars when stderr is a terminal. */
export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  isTTY: process.stderr.isTTY === true,
  columns: process.stderr.columns || 80,
};

const words = (c: Command) => c.name.split(' ');

/** First words shared by several commands (`outbox`, `audit`, …): `swan outbox` lists them. */
function groupsOf(commands: readonly Command[]): Map<string, Command[]> {
  const groups = new Map<string, Command[]>();
  for (const c of commands) {
    if (words(c).length < 2) continue;
    const list = groups.get(words(c)[0]!) ?? [];
    list.push(c);
    groups.set(words(c)[0]!, list);
  }
  return groups;
}

function table(rows: [string, string][]): string[] {
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

function overview(commands: readonly Command[]): string {
  return [
    `swan ${VERSION}: migrations, outbox, key rotation, audit verification and exports of the Swan SDK`,
    '',
    'Usage: swan <command> [options]',
    '',
    'Commands:',
    ...table(commands.map((c) => [c.name, c.summary])),
    '',
    'Run `swan help <command>` or `swan <command> --help` for its options; `swan --version` for the version.',
    '',
  ].join('\n');
}

function groupHelp(group: string, list: readonly Command[]): string {
  return [`Usage: swan ${group} <command> [options]`, '', 'Commands:', ...table(list.map((c) => [c.name, c.summary])), '', `Run \`swan help ${group} <command>\` for its options.`, ''].join('\n');
}

/** How an option's default reads in help. */
function defaultOf(o: NonNullable<Command['options']>[string]): string {
  if (o.defaultText !== undefined) return o.defaultText;
  if (o.default !== undefined) return String(o.default);
  return o.type === 'boolean' ? 'false' : 'none';
}

/** `swan help <command>`: usage, description, every option with its default, environment, output, examples. */
export function commandHelp(command: Command): string {
  const options = Object.entries(command.options ?? {}).map(([name, o]): [string, string] => [
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}`,
    `${o.description} (default: ${defaultOf(o)})`,
  ]);
  options.push(['-h, --help', 'Show this help']);
  const section = (title: string, lines: string[]) => (lines.length ? ['', `${title}:`, ...lines] : []);
  return [
    `Usage: swan ${command.name}${command.args ? ` ${command.args}` : ''} [options]`,
    '',
    command.description ?? command.summary,
    ...section('Options', table(options)),
    ...section('Environment', table(Object.entries(command.environment ?? {}))),
    ...section('Output', command.output ? command.output.split('\n').map((l) => `  ${l}`) : []),
    ...section('Examples', (command.examples ?? []).map((e) => `  ${e}`)),
    '',
  ].join('\n');
}

/** The command whose words start `argv`, longest name first (`audit verify` before `audit`). */
function match(argv: readonly string[], commands: readonly Command[]): Command | undefined {
  return [...commands].sort((a, b) => words(b).length - words(a).length).find((c) => words(c).every((word, i) => argv[i] === word));
}

/** The command or group name nearest to the words the user typed, if it looks like a typo. */
function suggestion(argv: readonly string[], commands: readonly Command[]): string | undefined {
  const typed = argv.filter((a) => !a.startsWith('-'));
  const names = [...commands.map((c) => c.name), ...groupsOf(commands).keys()];
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const input = typed.slice(0, name.split(' ').length).join(' ');
    if (!input) continue;
    const distance = editDistance(input, name);
    // an exact group name (`outbox` in `outbox stat`) is no suggestion: its subcommands are
    if (distance === 0) continue;
    if (!best || distance < best.distance || (distance === best.distance && name.length > best.name.length)) best = { name, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(best.name.length / 3)) ? best.name : undefined;
}

function unknownCommand(argv: readonly string[], commands: readonly Command[], io: CliIo): number {
  const typed = argv.filter((a) => !a.startsWith('-')).join(' ');
  const near = suggestion(argv, commands);
  const group = groupsOf(commands).get(typed.split(' ')[0]!);
  const more = group ? groupHelp(typed.split(' ')[0]!, group) : 'Run `swan --help` for the list of commands.\n';
  io.stderr(`swan: unknown command "${typed || argv.join(' ')}"${near ? `. Did you mean \`swan ${near}\`?` : ''}\n\n${more}`);
  return EXIT.usage;
}

function parse(command: Command, args: readonly string[]): { values: CommandValues; positionals: string[] } {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(command.options ?? {})) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.default !== undefined ? { default: o.default } : {}) } as NonNullable<ParseArgsConfig['options']>[string];
  }
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, allowPositionals: command.positionals ?? false, strict: true });
    return { values: values as CommandValues, positionals };
  } catch (error) {
    const message = (error as Error).message.split('. To specify a positional')[0]!;
    const unknown = /Unknown option '--([^']+)'/.exec(message)?.[1];
    const near = unknown ? nearest(unknown, Object.keys(command.options ?? {})) : undefined;
    throw new UsageError(`${message}${near ? `. Did you mean --${near}?` : ''}`);
  }
}

function targetOf(values: CommandValues, env: CliIo['env']): DatabaseTarget | undefined {
  try {
    return databaseTarget(values, env);
  } catch {
    return undefined;
  }
}

/**
 * Runs `swan` with `argv` (without `node` and the script) and returns the exit code: parses the
 * arguments with `node:util` `parseArgs`, calls the command, and reports errors on stderr as
 * JSON (`{"error":{"code","message","hint"?}}`). Never calls `process.exit`, so it runs
 * in-process too.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(['audit', 'verify', '--database-url', url]);
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo, commands: readonly Command[] = defaultCommands): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h') {
    io.stdout(overview(commands));
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === '--version' || first === '-v') {
    io.stdout(`${VERSION}\n`);
    return EXIT.ok;
  }
  const groups = groupsOf(commands);
  if (first === 'help') {
    const rest = argv.slice(1);
    if (rest.length === 0) {
      io.stdout(overview(commands));
      return EXIT.ok;
    }
    const command = commands.find((c) => c.name === rest.join(' '));
    if (command) {
      io.stdout(commandHelp(command));
      return EXIT.ok;
    }
    if (rest.length === 1 && groups.has(rest[0]!)) {
      io.stdout(groupHelp(rest[0]!, groups.get(rest[0]!)!));
      return EXIT.ok;
    }
    return unknownCommand(rest, commands, io);
  }
  const command = match(argv, commands);
  if (!command) {
    const group = groups.get(first);
    const next = argv[1];
    if (group && (next === undefined || next === '--help' || next === '-h')) {
      io.stdout(groupHelp(first, group));
      return next === undefined ? EXIT.usage : EXIT.ok;
    }
    return unknownCommand(argv, commands, io);
  }
  let values: CommandValues = {};
  try {
    const parsed = parse(command, argv.slice(words(command).length));
    values = parsed.values;
    if (values.help) {
      io.stdout(commandHelp(command));
      return EXIT.ok;
    }
    return await command.run({ values, positionals: parsed.positionals, io });
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`swan ${command.name}: ${error.message}\n\nRun \`swan help ${command.name}\` for its options.\n`);
      return EXIT.usage;
    }
    const report = describeError(error, targetOf(values, io.env));
    io.stderr(`${JSON.stringify({ error: report })}\n`);
    // a configuration problem (keys, URL) is the caller's to fix, like wrong usage
    return isSwanError(error) && error.code === 'CONFIG_INVALID' ? EXIT.usage : EXIT.failed;
  }
}
