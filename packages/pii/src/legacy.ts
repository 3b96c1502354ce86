import { sql, type Kysely } from 'kysely';
import { isUuid, SwanError } from '@swan/core';
import { SYSTEM_ACTOR } from './rotation.js';
import type { PiiService } from './service.js';

/** Options of {@link splitLegacyMasterPrompts}. */
export interface LegacySplitOptions {
  /** The PII service that encrypts and writes (its handle must be able to write as an admin). */
  service: PiiService;
  /** Report what would happen, write nothing (no backup either). */
  dryRun?: boolean;
  /** Source table (default `master_prompts`, columns `id uuid, data jsonb`). */
  table?: string;
  /** Called before the first source row and after each: rows looked at so far and the total (`swan legacy split` draws its progress from it). */
  onProgress?: (p: { done: number; total: number }) => void;
}

/** What {@link splitLegacyMasterPrompts} did or would do. Never contains PII: ids, paths and reasons only. */
export interface LegacySplitReport {
  dryRun: boolean;
  sourceRows: number;
  /** Rows with `data.client_profile`. */
  withProfile: number;
  migrated: number;
  alreadyMigrated: number;
  unmigrated: { id: string; reason: string }[];
  /**
   * Legacy ids present in client_profile_pii and client_profile_training: measured after a real
   * run; on a dry run, the ids already there (measured) plus the rows the run would create.
   */
  counts: { pii: number; training: number };
  /**
   * The count check, `pii = training = rows with a profile` (`withProfile`): false as soon
   * as a row with a `client_profile` was not migrated (malformed, conflicting) or a PII row lacks
   * its training row. Rows without any `client_profile` are reported in `unmigrated` but are not
   * profiles, so they do not count.
   */
  countCheck: boolean;
  backupTable: string | null;
}

type Json = Record<string, any>;
const obj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Maps one legacy document to the create body (the spec's migration, field by field). */
export function legacyToCreateBody(data: Json): unknown {
  const profile = data.client_profile as Json;
  const b = obj(profile.basic_info) ? profile.basic_info : {};
  const history = obj(profile.training_history) ? profile.training_history : {};
  const drop = (o: Json) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
  return {
    pii: drop({
      full_name: b.name, preferred_name: b.preferred_name, date_of_birth: b.date_of_birth, email: b.email,
      phone_number: b.phone, blood_type: b.blood_type, emergency_contact: b.emergency_contact ?? {}, address: b.address,
    }),
    training: drop({
      gender: b.gender, height_inches: b.height_inches, weight_lbs: b.weight_lbs,
      training_goals: profile.training_goals, injury_history: history.injury_history,
    }),
  };
}

function describe(e: unknown): string {
  if (e instanceof SwanError) {
    const paths = Array.isArray(e.details) ? (e.details as { path: string; message: string }[]).map((d) => `${d.path} ${d.message}`) : [];
    return paths.length ? `${e.code}: ${paths.join('; ')}` : `${e.code}: ${e.message}`;
  }
  return 'unexpected error';
}

/**
 * Splits legacy `master_prompts(id uuid, data jsonb)` documents into encrypted `client_profile_pii`
 * and `client_profile_training` rows (client id = legacy id). Idempotent (rows already migrated are
 * skipped), with a dry run, a backup table (`<table>_backup`, created once), a count check and a
 * report of every row it could not migrate and why. `db` must be able to read the source table.
 *
 * @example
 * ```ts
 * const report = await splitLegacyMasterPrompts(ownerDb, { service: pii, dryRun: true });
 * ```
 */
export async function splitLegacyMasterPrompts(db: Kysely<any>, options: LegacySplitOptions): Promise<LegacySplitReport> {
  const table = options.table ?? 'master_prompts';
  if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new SwanError({ code: 'VALIDATION_FAILED', message: 'Invalid source table name' });
  const dryRun = options.dryRun ?? false;
  const service = options.service;
  const { rows } = await sql<{ id: string; data: unknown }>`select id::text as id, data from ${sql.table(table)} order by id`.execute(db);
  let backupTable: string | null = null;
  if (!dryRun) {
    backupTable = `${table}_backup`;
    await sql`create table if not exists ${sql.table(backupTable)} as select * from ${sql.table(table)}`.execute(db);
  }
  const existing = await service.migratedIds(rows.map((r) => r.id).filter(isUuid));
  const report: LegacySplitReport = { dryRun, sourceRows: rows.length, withProfile: 0, migrated: 0, alreadyMigrated: 0, unmigrated: [], counts: { pii: 0, training: 0 }, countCheck: false, backupTable };
  const seenEmails = new Set<string>();
  const progress = (done: number) => options.onProgress?.({ done, total: rows.length });
  progress(0);
  for (const [i, row] of rows.entries()) {
    // the previous row is finished (each row ends in a `continue` or at the end of this body)
    if (i > 0) progress(i);
    const data = typeof row.data === 'string' ? safeParse(row.data) : row.data;
    if (!obj(data) || !obj(data.client_profile)) {
      report.unmigrated.push({ id: row.id, reason: 'no client_profile object (not counted as a profile)' });
      continue;
    }
    report.withProfile += 1;
    if (existing.has(row.id)) { report.alreadyMigrated += 1; continue; }
    const body = legacyToCreateBody(data);
    try {
      const input = service.validate(body);
      const email = service.index.email(input.pii.email)!.toString('hex');
      if (seenEmails.has(email) || (await service.findClientByEmail(input.pii.email, SYSTEM_ACTOR))) {
        throw new SwanError({ code: 'CONFLICT', message: 'email already belongs to another client' });
      }
      seenEmails.add(email);
      if (!dryRun) await service.createClient(SYSTEM_ACTOR, body, { clientId: row.id });
      report.migrated += 1;
    } catch (e) {
      report.unmigrated.push({ id: row.id, reason: describe(e) });
    }
  }
  if (rows.length > 0) progress(rows.length);
  const ids = rows.map((r) => r.id).filter(isUuid);
  const measured = await service.migratedCounts(ids);
  // a dry run writes nothing: project what a real run would leave behind
  report.counts = dryRun ? { pii: measured.pii + report.migrated, training: measured.training + report.migrated } : measured;
  report.countCheck = report.counts.pii === report.withProfile && report.counts.training === report.withProfile;
  return report;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
