export { runCli, processIo, commandHelp, VERSION } from './run.js';
export { EXIT, UsageError, type CliIo, type Command, type CommandValues, type OptionSpec } from './command.js';
export { commands } from './commands/index.js';
export { migrationRegistry, resolveMigrationSets } from './registry.js';
export { databaseOptions, databaseTarget, openDatabase, withDatabase, type DatabaseTarget } from './database.js';
export { describeError, type CliErrorReport } from './errors.js';
export { exportParts, installedExportContributors, type ExportPart } from './export-contributors.js';
export { startProgress, type Progress, type ProgressStep } from './progress.js';
export { processingRecordRegistry, loadProcessingRecords, installedProcessingRecords, assembleRopa, ropaMarkdown, type Ropa, type RopaRetentionRule, type ProcessingRecordOptions } from './ropa.js';
