import { billingRetentionRules } from '@swan/billing';
import { checkinsRetentionRules } from '@swan/checkins';
import { auditRetentionRule, outboxRetentionRules, parseDuration, runRetention, type RetentionResult, type RetentionRule } from '@swan/outbox';
import { EXIT, UsageError, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';

const duration = (text: string, what: string): number => {
  try {
    return parseDuration(text);
  } catch {
    throw new UsageError(`${what}: not a duration: ${JSON.stringify(text)} (use e.g. 30d, 12h, 90m, 45s)`);
  }
};

/** Every package's retention rules, in the order they run (a table missing from the database counts 0). */
export function allRetentionRules(options: { archive?: boolean; auditExportDir?: string } = {}): RetentionRule[] {
  return [
    ...outboxRetentionRules({ archive: options.archive === true }),
    ...billingRetentionRules(),
    ...checkinsRetentionRules(),
    auditRetentionRule(options.auditExportDir ? { exportDir: options.auditExportDir } : {}),
  ];
}

/** Parses `rule=duration,rule=off,…` into window overrides. */
function windowsOf(text: string): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [rule, value] = part.split('=');
    if (!rule || value === undefined) throw new UsageError(`--window: want rule=duration (e.g. outbox.completed=3d), got ${JSON.stringify(part)}`);
    out[rule] = value === 'off' ? null : duration(value, `--window ${rule}`);
  }
  return out;
}

function table(results: readonly RetentionResult[], dryRun: boolean): string {
  const rows = results.map((r) => [r.rule, r.table, r.cutoff === null ? 'off' : String(r.removed), r.cutoff ?? '']);
  const head = ['rule', 'table', dryRun ? 'would remove' : 'removed', 'older than'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/**
 * `swan retention run`: runs every package's retention rule in small batches (completed outbox
 * events and the archive, dead letters, processed Stripe event ids, check-in replies and
 * messages, the audit log through a checkpoint) and prints rows removed per table.
 */
export const retentionRunCommand: Command = {
  name: 'retention run',
  summary: 'Remove rows past their retention window from every table, in small batches',
  description: [
    'Runs the retention rule of every table in small batches and prints the rows removed per table.',
    'Default windows: outbox.completed 7d, outbox.archive 90d, outbox.dead 30d, billing.stripe_events 90d,',
    'checkins.responses 365d, checkins.messages 365d, audit.log 6 years (2190d). --window overrides some',
    '(rule=duration or rule=off), --older-than overrides every one. The audit log keeps a checkpoint',
    '(sequence and hash of the last removed entry): `swan audit verify` stays exact from it on.',
  ].join('\n'),
  options: {
    ...databaseOptions,
    'dry-run': { type: 'boolean', description: 'Count what would be removed; remove nothing', default: false },
    'older-than': { type: 'string', value: 'duration', description: 'One window for every rule (30d, 12h, 90m, 45s)', defaultText: 'each rule\'s window' },
    window: { type: 'string', value: 'rule=duration,…', description: 'Windows of some rules (rule=off skips one)', defaultText: 'none' },
    json: { type: 'boolean', description: 'Print the report as JSON', default: false },
    archive: { type: 'boolean', description: 'Move completed outbox events to swan_outbox_archive instead of deleting them', default: false },
    'audit-export-dir': { type: 'string', value: 'dir', description: 'Export removed audit entries to audit-<time>.jsonl here first (SHA-256 kept in the checkpoint)', defaultText: 'none' },
    'batch-size': { type: 'string', value: 'n', description: 'Rows per statement', default: '1000' },
  },
  output: [
    'A table of rule, table, rows removed and cut-off on stdout (JSON array with --json: rule, table,',
    'removed, cutoff, windowMs, details). Exit 0 done, 1 failed, 2 wrong usage.',
  ].join('\n'),
  examples: [
    'swan retention run --database-url postgres://swan_app@db/swan',
    'swan retention run --dry-run --older-than 30d --json --embedded .data',
    'swan retention run --window outbox.completed=3d,audit.log=off --database-url …',
  ],
  async run({ values, io }) {
    const batchSize = Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError('--batch-size must be an integer ≥ 1');
    const olderThanMs = typeof values['older-than'] === 'string' ? duration(values['older-than'], '--older-than') : undefined;
    const windows = typeof values.window === 'string' ? windowsOf(values.window) : undefined;
    const rules = allRetentionRules({
      archive: values.archive === true,
      ...(typeof values['audit-export-dir'] === 'string' ? { auditExportDir: values['audit-export-dir'] } : {}),
    });
    const known = new Set(rules.map((r) => r.name));
    const unknown = Object.keys(windows ?? {}).filter((n) => !known.has(n));
    if (unknown.length) throw new UsageError(`--window: unknown rule ${unknown.join(', ')} (rules: ${[...known].join(', ')})`);
    const dryRun = values['dry-run'] === true;
    const results = await withDatabase(values, io.env, (db) => runRetention(db, rules, {
      dryRun,
      batchSize,
      ...(olderThanMs !== undefined ? { olderThanMs } : {}),
      ...(windows ? { windows } : {}),
    }));
    io.stdout(values.json === true ? `${JSON.stringify(results, null, 2)}\n` : `${table(results, dryRun)}\n`);
    return EXIT.ok;
  },
};
