import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import type { Actor } from './actor.js';
import { SwanError } from './errors.js';
import { observeAuditBacklog } from './telemetry.js';

/** What happened to an audited action. */
export type AuditOutcome = 'allowed' | 'denied' | 'not_found' | 'error';

/** One audit entry. Never put PII or secrets in `reason` or `details`. */
export interface AuditEntry {
  actor: Actor | { id: string; role: string } | null;
  /** UPPER_SNAKE action, e.g. `PII_ACCESS`, `PII_DELETED`. */
  action: string;
  /** Table or resource kind, e.g. `client_profile_pii`. */
  resource: string;
  resourceId?: string | null;
  outcome?: AuditOutcome;
  reason?: string | null;
  details?: Record<string, unknown>;
}

/**
 * Appends an entry inside the caller's transaction (`trx` from `withActor`), so the entry and the
 * audited change commit or roll back together. The chainer links it later (see
 * {@link chainAuditLog}); requests never wait for one another.
 *
 * @example
 * ```ts
 * await withActor(db, actor, async (trx) => {
 *   await appendAudit(trx, { actor, action: 'PII_ACCESS', resource: 'client_profile_pii', resourceId: id, reason });
 * });
 * ```
 */
export async function appendAudit(db: Kysely<any>, entry: AuditEntry): Promise<void> {
  await sql`insert into swan_audit_log (actor_id, actor_role, action, resource, resource_id, outcome, reason, details)
    values (${entry.actor?.id ?? null}, ${entry.actor?.role ?? null}, ${entry.action}, ${entry.resource},
            ${entry.resourceId ?? null}, ${entry.outcome ?? 'allowed'}, ${entry.reason ?? null},
            ${JSON.stringify(entry.details ?? {})}::jsonb)`.execute(db);
}

/**
 * Links every entry committed before the call that is not linked yet, in batches of `batch`
 * (default 5,000), and returns how many it linked. With `wait: false` it returns 0 at once when
 * another chainer is busy.
 *
 * It stops after the first batch that is not full: that batch linked every entry its snapshot
 * could see. Entries committed while it ran are left to the next call, so under a steady stream
 * of audited requests a call links what has arrived since the last one and returns, instead of
 * chasing the stream in back-to-back runs of a few entries each (which kept a database core busy).
 */
export async function chainAuditLog(db: Kysely<any>, options: { wait?: boolean; batch?: number } = {}): Promise<number> {
  const batch = options.batch ?? 5000;
  let total = 0;
  for (;;) {
    const { rows } = await sql<{ n: number }>`select swan_audit_chain(${batch}, ${options.wait ?? true}) as n`.execute(db);
    const n = Number(rows[0]?.n ?? 0);
    total += n;
    if (n < batch) return total;
  }
}

/**
 * Runs {@link chainAuditLog} every `intervalMs` (default 250 ms) until the returned `stop()`.
 * Several instances may run it: one links, the others skip. While it runs, the
 * `swan.core.audit.unchained` gauge reports the entries waiting to be linked.
 */
export function startAuditChainer(
  db: Kysely<any>,
  options: { intervalMs?: number; onError?: (error: unknown) => void } = {},
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => chainAuditLog(db, { wait: false })).catch((e) => options.onError?.(e));
  }, options.intervalMs ?? 250);
  timer.unref?.();
  const unobserve = observeAuditBacklog(db);
  return {
    async stop() {
      unobserve();
      clearInterval(timer);
      await running;
    },
  };
}

/** Result of {@link verifyAuditChain}. */
export interface AuditVerification {
  valid: boolean;
  /** Chained entries checked. */
  entries: number;
  /** Id of the first entry whose link or hash does not hold. */
  firstBrokenId?: number;
  /**
   * The checkpoint verification started from, when a prefix of the chain was pruned
   * ({@link pruneAuditLog}): the sequence and hash of the last removed link.
   */
  checkpoint?: { chainSeq: number; hash: string };
}

const ZERO_HASH = '0'.repeat(64);

function field(v: string | null): string {
  return v === null ? '~' : `${Buffer.byteLength(v, 'utf8')}:${v}`;
}

interface ChainRow {
  id: number;
  chain_seq: number;
  prev_hash: string | null;
  hash: string | null;
  occurred: string;
  actor_id: string | null;
  actor_role: string | null;
  action: string;
  resource: string;
  resource_id: string | null;
  outcome: string;
  reason: string | null;
  details: string;
}

/** SHA-256 (hex) of an entry's canonical encoding: the same bytes `swan_audit_chain` hashes. */
export function auditHash(row: Omit<ChainRow, 'hash' | 'prev_hash'>, prevHash: string): string {
  const canonical = [
    String(row.chain_seq),
    prevHash,
    String(row.id),
    row.occurred,
    row.actor_id,
    row.actor_role,
    row.action,
    row.resource,
    row.resource_id,
    row.outcome,
    row.reason,
    row.details,
  ]
    .map(field)
    .join('|');
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/**
 * Links what is pending, then recomputes every chained entry in order: sequence without gaps,
 * each `prev_hash` equal to the previous hash, each hash equal to the hash of its content, and
 * the last entry equal to the recorded chain head. Reports the first broken entry.
 *
 * The chain and its head are read in one snapshot (a read-only `REPEATABLE READ` transaction),
 * so a chainer that commits while verification runs can't make an intact chain look truncated.
 * Called with a transaction, it reads in that transaction's snapshot instead.
 *
 * @example
 * ```ts
 * const { valid, entries, firstBrokenId } = await verifyAuditChain(db);
 * ```
 */
export async function verifyAuditChain(
  db: Kysely<any>,
  options: { chainFirst?: boolean; pageSize?: number; onProgress?: (p: { done: number; total: number }) => void } = {},
): Promise<AuditVerification> {
  if (options.chainFirst ?? true) await chainAuditLog(db);
  const pageSize = options.pageSize ?? 5000;
  if (db.isTransaction) return verifyInSnapshot(db, pageSize, options.onProgress);
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only')
    .execute((trx) => verifyInSnapshot(trx, pageSize, options.onProgress));
}

/** The latest checkpoint left by {@link pruneAuditLog}, or null when nothing was pruned. */
async function latestCheckpoint(db: Kysely<any>): Promise<{ chainSeq: number; hash: string } | null> {
  const { rows } = await sql<{ chain_seq: number | string; hash: string }>`
    select chain_seq, hash from swan_audit_checkpoint order by chain_seq desc limit 1`.execute(db);
  return rows[0] ? { chainSeq: Number(rows[0].chain_seq), hash: rows[0].hash } : null;
}

async function verifyInSnapshot(db: Kysely<any>, pageSize: number, onProgress?: (p: { done: number; total: number }) => void): Promise<AuditVerification> {
  // a pruned prefix: verification is exact from the checkpoint on
  const checkpoint = await latestCheckpoint(db);
  const start = checkpoint?.chainSeq ?? 0;
  // entries to check, for `onProgress` (`swan audit verify` draws its progress from it)
  let total = 0;
  if (onProgress) {
    const { rows } = await sql<{ n: number }>`select coalesce(max(chain_seq), 0)::int as n from swan_audit_chain`.execute(db);
    total = Math.max(0, Number(rows[0]?.n ?? 0) - start);
    onProgress({ done: 0, total });
  }
  const from = checkpoint ? { checkpoint } : {};
  let prev = checkpoint?.hash ?? ZERO_HASH;
  let expectedSeq = start + 1;
  let entries = 0;
  let after = start;
  for (;;) {
    const { rows } = await sql<ChainRow>`
      select e.id, c.chain_seq, c.prev_hash, c.hash,
             to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as occurred,
             e.actor_id, e.actor_role, e.action, e.resource, e.resource_id, e.outcome, e.reason, e.details::text as details
        from swan_audit_chain c join swan_audit_log e on e.id = c.entry_id
       where c.chain_seq > ${after}
       order by c.chain_seq
       limit ${pageSize}`.execute(db);
    for (const row of rows) {
      const seq = Number(row.chain_seq);
      const broken = seq !== expectedSeq || row.prev_hash !== prev || row.hash !== auditHash({ ...row, chain_seq: seq }, prev);
      if (broken) return { valid: false, entries, firstBrokenId: Number(row.id), ...from };
      prev = row.hash as string;
      expectedSeq = seq + 1;
      entries += 1;
      after = seq;
    }
    if (rows.length > 0) onProgress?.({ done: entries, total: Math.max(total, entries) });
    if (rows.length < pageSize) break;
  }
  const { rows: head } = await sql<{ chain_seq: number; hash: string }>`select chain_seq, hash from swan_audit_head`.execute(db);
  const h = head[0];
  const headMatches = h ? Number(h.chain_seq) === expectedSeq - 1 && h.hash === prev : entries === 0 && !checkpoint;
  if (!headMatches) {
    // the newest entries were removed: the break is right after the last entry still present
    const { rows: next } = await sql<{ id: number }>`
      select entry_id as id from swan_audit_chain where chain_seq > ${after} order by chain_seq limit 1`.execute(db);
    return { valid: false, entries, firstBrokenId: next[0] ? Number(next[0].id) : 0, ...from };
  }
  return { valid: true, entries, ...from };
}

/** Options of {@link pruneAuditLog}. */
export interface PruneAuditOptions {
  /** Entries that occurred before this instant are removed (a gap-free prefix of the chain: it stops at the first newer link). */
  before: Date;
  /**
   * Export the removed segment first: one JSON line per link (chain_seq, prev_hash, hash and the
   * entry's fields, enough to recompute it with {@link auditHash}), written to this new file (mode
   * 600; an existing file is refused), whose SHA-256 is computed before anything is removed and
   * kept in the checkpoint.
   */
  exportTo?: string;
  /** Links removed per transaction (default 5,000). */
  batchSize?: number;
  /** Count what would be removed; remove nothing. */
  dryRun?: boolean;
}

/** Result of {@link pruneAuditLog}. */
export interface PruneAuditResult {
  /** Entries removed (or, with `dryRun`, that would be). */
  removed: number;
  /** The checkpoint verification now starts from (null when nothing was ever pruned). */
  checkpoint: { chainSeq: number; hash: string } | null;
  /** SHA-256 (hex) of the export file, when `exportTo` was given and something was removed. */
  exportSha256?: string;
}

/**
 * Audit retention: removes the oldest entries (those before `before`, a prefix of the chain)
 * while keeping the chain verifiable. Links what is pending, recomputes the segment to remove
 * from the last checkpoint on (a broken segment is refused, `CONFLICT`: verify and investigate
 * first), optionally exports it to a file, then calls `swan_audit_prune()` per batch, which
 * removes the entries and records a checkpoint (sequence and hash of the last removed link)
 * atomically. {@link verifyAuditChain} is exact from the latest checkpoint on; deleting any entry
 * after it is refused by the table's trigger and, done by a superuser anyway, found by verify.
 *
 * @example
 * ```ts
 * const { removed, checkpoint } = await pruneAuditLog(db, { before: new Date(Date.now() - 6 * 365 * 86_400_000), exportTo: '/backups/audit-2019.jsonl' });
 * ```
 */
export async function pruneAuditLog(db: Kysely<any>, options: PruneAuditOptions): Promise<PruneAuditResult> {
  const before = options.before;
  if (!(before instanceof Date) || Number.isNaN(before.getTime())) throw new SwanError({ code: 'VALIDATION_FAILED', message: 'before must be a valid Date' });
  const batchSize = Math.max(1, Math.trunc(options.batchSize ?? 5000));
  await chainAuditLog(db);
  const checkpoint = await latestCheckpoint(db);
  const start = checkpoint?.chainSeq ?? 0;
  const { rows: [bound] } = await sql<{ first_kept: number | string | null; head: number | string | null }>`
    select (select min(c.chain_seq) from swan_audit_chain c join swan_audit_log e on e.id = c.entry_id
             where c.chain_seq > ${start} and e.occurred_at >= ${before.toISOString()}::timestamptz) as first_kept,
           (select chain_seq from swan_audit_head) as head`.execute(db);
  const end = bound?.first_kept != null ? Number(bound.first_kept) - 1 : Number(bound?.head ?? 0);
  if (end <= start) return { removed: 0, checkpoint };
  if (options.dryRun) return { removed: end - start, checkpoint };

  // recompute the segment (and export it) before removing anything
  const cuts: { seq: number; hash: string }[] = [];
  const digest = options.exportTo ? createHash('sha256') : null;
  const fd = options.exportTo ? openSync(options.exportTo, 'wx', 0o600) : null;
  try {
    let prev = checkpoint?.hash ?? ZERO_HASH;
    let after = start;
    while (after < end) {
      const { rows } = await sql<ChainRow>`
        select e.id, c.chain_seq, c.prev_hash, c.hash,
               to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as occurred,
               e.actor_id, e.actor_role, e.action, e.resource, e.resource_id, e.outcome, e.reason, e.details::text as details
          from swan_audit_chain c join swan_audit_log e on e.id = c.entry_id
         where c.chain_seq > ${after} and c.chain_seq <= ${end}
         order by c.chain_seq limit ${batchSize}`.execute(db);
      if (!rows.length) throw new SwanError({ code: 'CONFLICT', message: `The audit chain has a gap after link ${after}: run verify before pruning` });
      let lines = '';
      for (const row of rows) {
        const seq = Number(row.chain_seq);
        if (seq !== after + 1 || row.prev_hash !== prev || row.hash !== auditHash({ ...row, chain_seq: seq }, prev)) {
          throw new SwanError({ code: 'CONFLICT', message: `The audit chain is broken at entry ${Number(row.id)}: nothing was pruned; run verify and investigate` });
        }
        prev = row.hash as string;
        after = seq;
        if (fd !== null) lines += `${JSON.stringify({ ...row, id: Number(row.id), chain_seq: seq })}\n`;
      }
      if (fd !== null) {
        writeSync(fd, lines);
        digest!.update(lines, 'utf8');
      }
      cuts.push({ seq: after, hash: prev });
    }
  } finally {
    if (fd !== null) closeSync(fd);
  }
  const exportSha256 = digest?.digest('hex');
  let removed = 0;
  for (const cut of cuts) {
    const { rows } = await sql<{ n: number | string }>`
      select swan_audit_prune(${cut.seq}::bigint, ${cut.hash}::text, ${exportSha256 ?? null}::text) as n`.execute(db);
    removed += Number(rows[0]?.n ?? 0);
  }
  const last = cuts[cuts.length - 1]!;
  return { removed, checkpoint: { chainSeq: last.seq, hash: last.hash }, ...(exportSha256 ? { exportSha256 } : {}) };
}
