/**
 * The ai_service catalog scan of pii.test.ts, run with EVERY package's migrations installed (as the
 * example server installs them), so security-definer functions and views that other packages add
 * are checked too: none that ai_service may execute or select reaches the PII or key tables.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { withActor, type MigrationSet } from '@swan/core';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { migrations as billingMigrations } from '@swan/billing';
import { migrations as checkinsMigrations } from '@swan/checkins';
import { migrations as consentMigrations } from '@swan/consent';
import { migrations as outboxMigrations } from '@swan/outbox';
import { migrations as schemaMigrations } from '@swan/schema';
import { migrations as piiMigrations } from '@swan/pii';
import { ai } from './fixtures.js';

/** Every package with migrations, in the example server's order (pii before those referencing it). */
const ALL: MigrationSet[] = [outboxMigrations, piiMigrations, consentMigrations, schemaMigrations, billingMigrations, checkinsMigrations];

describe.each(testEngines())('ai_service catalog scan with every package installed on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await engine.create(ALL);
  });
  afterAll(() => t.close());

  it('installs every package', async () => {
    const { rows } = await sql<{ p: string }>`select distinct package as p from swan_migrations order by 1`.execute(t.admin);
    expect(rows.map((r) => r.p)).toEqual(['core', ...ALL.map((s) => s.package)].sort());
  });

  it('no view or privileged function executable by ai_service reaches PII or key tables (or the PII functions)', async () => {
    const { rows: views } = await sql<{ v: string }>`select distinct v.view_name as v from information_schema.view_table_usage v
       where v.table_name in ('client_profile_pii', 'client_data_keys') and has_table_privilege('ai_service', format('%I.%I', v.view_schema, v.view_name), 'select')`.execute(t.admin);
    expect(views).toEqual([]);
    // security definer (or a role switch) runs as its owner: those are the paths around RLS and grants
    const { rows: privileged } = await sql<{ f: string; src: string }>`select p.oid::regprocedure::text as f, p.prosrc as src
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname not in ('pg_catalog', 'information_schema')
         and (p.prosecdef or exists (select 1 from unnest(p.proconfig) c where c like 'role=%'))`.execute(t.admin);
    expect(privileged.length).toBeGreaterThan(0); // the scan sees pii's own functions
    const touchesPii = (src: string) => /client_profile_pii|client_data_keys|swan_pii_/i.test(src);
    expect(privileged.filter((p) => touchesPii(p.src)).length).toBeGreaterThan(0);
    const { rows: executable } = await sql<{ f: string }>`select p.oid::regprocedure::text as f from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname not in ('pg_catalog', 'information_schema') and has_function_privilege('ai_service', p.oid, 'execute')`.execute(t.admin);
    const callable = new Set(executable.map((r) => r.f));
    expect(privileged.filter((p) => touchesPii(p.src) && callable.has(p.f)).map((p) => p.f)).toEqual([]);
  });

  it('ai_service still reads training data and aliases with everything installed', async () => {
    const { rows } = await withActor(t.db, ai, (trx) => sql<{ n: number }>`select count(*)::int as n from client_profile_training t join client_aliases a using (client_id)`.execute(trx));
    expect(rows[0]!.n).toBe(0);
    await expect(withActor(t.db, ai, (trx) => sql`select * from client_profile_pii where client_id = ${randomUUID()}`.execute(trx))).rejects.toThrow(/permission denied/);
  });
});
