// Retention: every table that grows with traffic has a rule (a window and a batched delete); one
// runner executes the rules of every package (`swan retention run`, the example server's nightly
// schedule). Packages export their rules (billing, checkins); the outbox owns its own and the
// audit log's.
import { sql, type Kysely } from 'kysely';
import { errors, pruneAuditLog, pruneInBatches, type RetentionRule } from '@swan/core';

const DAY = 86_400_000;

/** A retention rule (the contract lives in `@swan/core`, so every package can export its own). */
export type { RetentionRule };

/** One line of a retention report. */
export interface RetentionResult {
  rule: string;
  table: string;
  /** Rows removed (with `dryRun`: rows that would be). */
  removed: number;
  /** Rows older than this were in scope (null when the rule was skipped: no window). */
  cutoff: string | null;
  windowMs: number | null;
  /** Extra facts (the audit checkpoint, the export's SHA-256). */
  details?: Record<string, unknown>;
}

/** Options of {@link runRetention}. */
export interface RunRetentionOptions {
  /** Window per rule name (ms), overriding its default; `null` skips the rule. */
  windows?: Record<string, number | null>;
  /** One window for every rule (the CLI's `--older-than`): overrides `windows` and defaults. */
  olderThanMs?: number;
  /** Count, remove nothing. */
  dryRun?: boolean;
  /** Rows per batch (default 1000). */
  batchSize?: number;
  /** The clock (tests). */
  now?: () => Date;
  /** Called after each rule. */
  onRule?: (result: RetentionResult) => void;
}

/** True when `table` exists in the current schema path. */
export async function tableExists(db: Kysely<any>, table: string): Promise<boolean> {
  const { rows } = await sql<{ t: string | null }>`select to_regclass(${table})::text as t`.execute(db);
  return Boolean(rows[0]?.t);
}

/**
 * Deletes (or counts) rows of `table` matching `where` in batches of `batchSize` by `key`, each
 * batch one statement (its own transaction): a long run never holds locks on many rows.
 */
export async function deleteInBatches(
  db: Kysely<any>,
  options: { table: string; key?: string; where: ReturnType<typeof sql>; batchSize: number; dryRun: boolean },
): Promise<number> {
  if (!(await tableExists(db, options.table))) return 0;
  const table = sql.table(options.table);
  const key = sql.ref(options.key ?? 'id');
  if (options.dryRun) {
    const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${table} where ${options.where}`.execute(db);
    return Number(rows[0]?.n ?? 0);
  }
  return pruneInBatches(options.batchSize, async () => {
    const r = await sql`delete from ${table} where ${key} in (
        select ${key} from ${table} where ${options.where} limit ${options.batchSize}::int)`.execute(db);
    return Number(r.numAffectedRows ?? 0);
  });
}

/** Options of {@link outboxRetentionRules}. */
export interface OutboxRetentionOptions {
  /** Move completed events to `swan_outbox_archive` instead of deleting them (default false). */
  archive?: boolean;
}

/**
 * The outbox's rules: completed events (7 days after completion, optionally archived), the
 * archive (90 days) and dead letters (30 days after their last error: redrive or inspect them
 * before that).
 *
 * @example
 * ```ts
 * await runRetention(db, [...outboxRetentionRules(), auditRetentionRule()]);
 * ```
 */
export function outboxRetentionRules(options: OutboxRetentionOptions = {}): RetentionRule[] {
  return [
    {
      name: 'outbox.completed',
      table: 'swan_outbox',
      defaultWindowMs: 7 * DAY,
      description: options.archive ? 'completed events, moved to swan_outbox_archive' : 'completed events',
      async run(db, { cutoff, batchSize, dryRun }) {
        const where = sql`status = 'completed' and processed_at < ${cutoff.toISOString()}::timestamptz`;
        if (dryRun || !options.archive) return deleteInBatches(db, { table: 'swan_outbox', where, batchSize, dryRun });
        return pruneInBatches(batchSize, async () => (await sql<{ id: string }>`
          with gone as (delete from swan_outbox o where o.id in (
              select id from swan_outbox where ${where} limit ${batchSize}::int for update skip locked) returning o.*)
          insert into swan_outbox_archive select * from gone returning id`.execute(db)).rows.length);
      },
    },
    {
      name: 'outbox.archive',
      table: 'swan_outbox_archive',
      defaultWindowMs: 90 * DAY,
      description: 'archived events (by completion time)',
      run: (db, { cutoff, batchSize, dryRun }) =>
        deleteInBatches(db, { table: 'swan_outbox_archive', where: sql`coalesce(processed_at, updated_at) < ${cutoff.toISOString()}::timestamptz`, batchSize, dryRun }),
    },
    {
      name: 'outbox.dead',
      table: 'swan_outbox',
      defaultWindowMs: 30 * DAY,
      description: 'dead letters, by their last error',
      run: (db, { cutoff, batchSize, dryRun }) =>
        deleteInBatches(db, { table: 'swan_outbox', where: sql`status = 'dead' and coalesce(last_error_at, updated_at) < ${cutoff.toISOString()}::timestamptz`, batchSize, dryRun }),
    },
  ];
}

/**
 * The audit log's rule (`audit.log`, default 6 years, the HIPAA documentation period): the
 * oldest entries go through `pruneAuditLog`, which leaves a checkpoint so `verifyAuditChain`
 * stays exact from it on. With `exportDir`, each run first exports the removed segment to
 * `audit-<checkpoint time>.jsonl` there (its SHA-256 is kept in the checkpoint).
 *
 * @example
 * ```ts
 * const rules = [...outboxRetentionRules(), auditRetentionRule({ exportDir: '/var/backups/swan' })];
 * ```
 */
export function auditRetentionRule(options: { exportDir?: string; defaultWindowMs?: number | null } = {}): RetentionRule {
  return {
    name: 'audit.log',
    table: 'swan_audit_log',
    defaultWindowMs: options.defaultWindowMs === undefined ? 6 * 365 * DAY : options.defaultWindowMs,
    description: 'audit entries (a prefix of the chain; a checkpoint keeps verification exact)',
    async run(db, { cutoff, batchSize, dryRun }) {
      const exportTo = options.exportDir && !dryRun
        ? `${options.exportDir.replace(/\/+$/, '')}/audit-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`
        : undefined;
      const r = await pruneAuditLog(db, { before: cutoff, batchSize, dryRun, ...(exportTo ? { exportTo } : {}) });
      return { removed: r.removed, details: { checkpoint: r.checkpoint, ...(r.exportSha256 ? { exportSha256: r.exportSha256, exportFile: exportTo } : {}) } };
    },
  };
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY, w: 7 * DAY };

/**
 * Parses a duration such as `30d`, `12h`, `90m`, `45s`, `500ms` or `2w` into ms; throws
 * `VALIDATION_FAILED`.
 *
 * @example
 * ```ts
 * parseDuration('30d'); // 2_592_000_000
 * ```
 */
export function parseDuration(text: string): number {
  const m = DURATION.exec(String(text).trim());
  if (!m) throw errors.validation(`Not a duration: ${JSON.stringify(text)} (use e.g. 30d, 12h, 90m, 45s, 500ms)`);
  return Math.round(Number(m[1]) * UNIT[m[2]!]!);
}

/**
 * Runs retention rules one after the other and reports rows removed per rule. Each rule's window
 * is `olderThanMs` if given, else `windows[rule.name]`, else its default (`null`: skipped).
 *
 * @example
 * ```ts
 * const report = await runRetention(db, [...outboxRetentionRules(), ...billingRetentionRules(), ...checkinsRetentionRules(), auditRetentionRule()],
 *   { windows: { 'outbox.completed': 3 * 86_400_000 } });
 * ```
 */
export async function runRetention(db: Kysely<any>, rules: readonly RetentionRule[], options: RunRetentionOptions = {}): Promise<RetentionResult[]> {
  const now = (options.now ?? (() => new Date()))();
  const batchSize = Math.max(1, Math.trunc(options.batchSize ?? 1000));
  const dryRun = options.dryRun === true;
  if (options.olderThanMs !== undefined && !(Number.isFinite(options.olderThanMs) && options.olderThanMs >= 0)) {
    throw errors.validation('olderThanMs must be milliseconds ≥ 0');
  }
  const names = new Set(rules.map((r) => r.name));
  const unknown = Object.keys(options.windows ?? {}).filter((n) => !names.has(n));
  if (unknown.length) throw errors.validation(`Unknown retention rules: ${unknown.join(', ')} (known: ${[...names].join(', ')})`);
  const results: RetentionResult[] = [];
  for (const rule of rules) {
    const windowMs = options.olderThanMs ?? (options.windows && rule.name in options.windows ? options.windows[rule.name]! : rule.defaultWindowMs);
    let result: RetentionResult;
    if (windowMs === null) {
      result = { rule: rule.name, table: rule.table, removed: 0, cutoff: null, windowMs: null };
    } else {
      const cutoff = new Date(now.getTime() - windowMs);
      const r = await rule.run(db, { cutoff, batchSize, dryRun });
      const removed = typeof r === 'number' ? r : r.removed;
      result = { rule: rule.name, table: rule.table, removed, cutoff: cutoff.toISOString(), windowMs };
      if (typeof r === 'object' && r.details) result.details = r.details;
    }
    results.push(result);
    options.onRule?.(result);
  }
  return results;
}
