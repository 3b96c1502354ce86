import type { Command } from '../command.js';
import { auditVerifyCommand } from './audit-verify.js';
import { exportCommand } from './export.js';
import { keysRotateCommand } from './keys-rotate.js';
import { legacySplitCommand } from './legacy-split.js';
import { migrateCommand } from './migrate.js';
import { outboxDeadCommand, outboxRedriveCommand, outboxStatsCommand } from './outbox-admin.js';
import { outboxWorkCommand } from './outbox-work.js';
import { retentionRunCommand } from './retention.js';
import { ropaCommand } from './ropa.js';

/** Every `swan` subcommand, in the order `swan --help` lists them; a new one is a file in this folder plus one line here. */
export const commands: Command[] = [
  migrateCommand,
  auditVerifyCommand,
  keysRotateCommand,
  exportCommand,
  legacySplitCommand,
  outboxWorkCommand, outboxStatsCommand, outboxDeadCommand, outboxRedriveCommand,
  retentionRunCommand,
  ropaCommand,
];
