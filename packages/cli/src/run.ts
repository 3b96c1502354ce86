import { parseArgs } from 'node:util';
import { isSwanError } from '@swan/core';
import { EXIT, UsageError, type CliIo, type Command } from './command.js';
import { commands as defaultCommands } from './commands/index.js';

/** The process's stdout, stderr and environment. */
export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

function overview(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: swan <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `swan <command> --help` for its options.',
    '',
  ].join('\n');
}

function help(command: Command): string {
  const options = Object.entries(command.options ?? {}).map(([name, o]) => `  --${name}${o.type === 'string' ? ' <value>' : ''}`);
  return [`Usage: swan ${command.name} [options]`, '', command.summary, '', 'Options:', ...options, '  --help', '', ...(command.usage ? [command.usage, ''] : [])].join('\n');
}

/** The command whose words start `argv`, longest name first (`audit verify` before `audit`). */
function match(argv: readonly string[], commands: readonly Command[]): Command | undefined {
  return [...commands]
    .sort((a, b) => b.name.split(' ').length - a.name.split(' ').length)
    .find((c) => c.name.split(' ').every((word, i) => argv[i] === word));
}

/**
 * Runs `swan` with `argv` (without `node` and the script) and returns the exit code: parses the
 * arguments with `node:util` `parseArgs`, calls the command, and reports errors on stderr as
 * JSON (`{ error: { code, message } }`). Never calls `process.exit`, so it runs in-process too.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(['audit', 'verify', '--database-url', url]);
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo, commands: readonly Command[] = defaultCommands): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(overview(commands));
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const command = match(argv, commands);
  if (!command) {
    io.stderr(`swan: unknown command "${argv.join(' ')}"\n\n${overview(commands)}`);
    return EXIT.usage;
  }
  try {
    const { values, positionals } = (() => {
      try {
        return parseArgs({
          args: argv.slice(command.name.split(' ').length),
          options: { ...command.options, help: { type: 'boolean', short: 'h' } },
          allowPositionals: command.positionals ?? false,
          strict: true,
        });
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    })();
    if (values.help) {
      io.stdout(help(command));
      return EXIT.ok;
    }
    return await command.run({ values, positionals, io });
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`swan ${command.name}: ${error.message}\n\n${help(command)}`);
      return EXIT.usage;
    }
    const code = isSwanError(error) ? error.code : 'INTERNAL';
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`${JSON.stringify({ error: { code, message } })}\n`);
    return EXIT.failed;
  }
}
