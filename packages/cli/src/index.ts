export { runCli, processIo } from './run.js';
export { EXIT, UsageError, type CliIo, type Command, type CommandValues } from './command.js';
export { commands } from './commands/index.js';
export { migrationRegistry, resolveMigrationSets } from './registry.js';
export { databaseOptions, openDatabase, withDatabase } from './database.js';
