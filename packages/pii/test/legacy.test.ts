import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { migrations, splitLegacyMasterPrompts, type PiiService } from '@swan/pii';
import { admin, makeService } from './fixtures.js';

const good = (n: number) => ({
  client_profile: {
    basic_info: { name: `Legacy Person ${n}`, preferred_name: `LP${n}`, date_of_birth: '1985-04-0' + (1 + (n % 9)), email: `legacy${n}@example.com`, phone: '213-373-42' + String(10 + n).slice(-2), emergency_contact: { name: `Kin ${n}`, relationship: 'parent', phone: '+12025550111' }, age: 39, gender: 'male', height_inches: 70, weight_lbs: 180.25 },
    training_goals: ['endurance'],
    training_history: { injury_history: [{ area: 'knee' }] },
  },
});

describe.each(testEngines())('legacy master_prompts split on $name', (engine) => {
  let t: TestDatabase;
  let pii: PiiService;
  const ids = Array.from({ length: 9 }, () => randomUUID());
  beforeAll(async () => {
    t = await engine.create([migrations]);
    pii = makeService(t.db);
    await sql`create table master_prompts (id uuid primary key, data jsonb)`.execute(t.admin);
    const rows: [string, unknown][] = [
      [ids[0]!, good(0)], [ids[1]!, good(1)], [ids[2]!, good(2)],
      [ids[3]!, { client_profile: { basic_info: { name: 'No Birthday', email: 'nobday@example.com' } } }],
      [ids[4]!, { client_profile: { basic_info: { ...good(4).client_profile.basic_info, date_of_birth: '1985-02-30' } } }],
      [ids[5]!, { client_profile: { basic_info: { ...good(5).client_profile.basic_info, email: 'LEGACY0@example.com ' } } }],
      [ids[6]!, { something_else: true }],
      [ids[7]!, 'not an object'],
      [ids[8]!, { client_profile: { basic_info: { ...good(8).client_profile.basic_info, height_inches: 'tall' } } }],
    ];
    for (const [id, data] of rows) await sql`insert into master_prompts (id, data) values (${id}, ${JSON.stringify(data)}::jsonb)`.execute(t.admin);
  });
  afterAll(() => t.close());

  it('dry run reports without writing anything', async () => {
    const r = await splitLegacyMasterPrompts(t.admin, { service: pii, dryRun: true });
    // 7 rows have a profile, only 3 would make it: the projected count check fails
    expect(r).toMatchObject({ dryRun: true, sourceRows: 9, withProfile: 7, migrated: 3, alreadyMigrated: 0, counts: { pii: 3, training: 3 }, countCheck: false, backupTable: null });
    expect((await sql`select 1 from client_profile_pii`.execute(t.admin)).rows).toHaveLength(0);
    expect((await sql`select to_regclass('master_prompts_backup') as r`.execute(t.admin)).rows[0]).toEqual({ r: null });
  });

  it('migrates valid rows, reports the rest with reasons (no PII), backs up, checks counts, and is idempotent', async () => {
    const r = await splitLegacyMasterPrompts(t.admin, { service: pii });
    expect(r).toMatchObject({ dryRun: false, sourceRows: 9, withProfile: 7, migrated: 3, alreadyMigrated: 0, counts: { pii: 3, training: 3 }, countCheck: false, backupTable: 'master_prompts_backup' });
    const reasons = Object.fromEntries(r.unmigrated.map((u) => [u.id, u.reason]));
    expect(reasons[ids[3]!]).toMatch(/pii.date_of_birth/);
    expect(reasons[ids[4]!]).toMatch(/pii.date_of_birth/);
    // rows 0 and 5 share an email: whichever comes first is migrated, the other reported
    expect([reasons[ids[0]!], reasons[ids[5]!]].filter((x) => x !== undefined)).toEqual([expect.stringMatching(/CONFLICT/)]);
    expect(reasons[ids[6]!]).toMatch(/no client_profile/);
    expect(reasons[ids[7]!]).toMatch(/no client_profile/);
    expect(reasons[ids[8]!]).toMatch(/training.height_inches/);
    expect(JSON.stringify(r)).not.toMatch(/Legacy Person|legacy\d@|No Birthday/i);
    expect(r.unmigrated).toHaveLength(6);
    const got = await pii.getClientPII(ids[1]!, admin, 'session_planning: verify migration');
    expect(got).toMatchObject({ full_name: 'Legacy Person 1', email: 'legacy1@example.com', phone_number: '+12133734211' });
    expect(await pii.getTraining(ids[1]!, admin)).toMatchObject({ age: expect.any(Number), gender: 'male', weight_lbs: 180.25, training_goals: ['endurance'], injury_history: [{ area: 'knee' }] });
    expect((await sql`select count(*)::int as n from master_prompts_backup`.execute(t.admin)).rows[0]).toEqual({ n: 9 });
    const again = await splitLegacyMasterPrompts(t.admin, { service: pii });
    // the malformed and conflicting rows with a profile are still there: the check stays false
    expect(again).toMatchObject({ migrated: 0, alreadyMigrated: 3, counts: { pii: 3, training: 3 }, countCheck: false });
    const dry = await splitLegacyMasterPrompts(t.admin, { service: pii, dryRun: true });
    expect(dry).toMatchObject({ migrated: 0, alreadyMigrated: 3, counts: { pii: 3, training: 3 }, countCheck: false });
  });

  it('passes the count check on clean data, in the dry run and the real run, and fails it when a training row is missing', async () => {
    const clean = Array.from({ length: 4 }, () => randomUUID());
    await sql`create table legacy_clean (id uuid primary key, data jsonb)`.execute(t.admin);
    for (const [i, id] of clean.entries()) await sql`insert into legacy_clean (id, data) values (${id}, ${JSON.stringify(good(20 + i))}::jsonb)`.execute(t.admin);
    // a row without any client_profile is reported but is not a profile: it does not break the check
    await sql`insert into legacy_clean (id, data) values (${randomUUID()}, ${JSON.stringify({ notes: 'x' })}::jsonb)`.execute(t.admin);

    const dry = await splitLegacyMasterPrompts(t.admin, { service: pii, dryRun: true, table: 'legacy_clean' });
    expect(dry).toMatchObject({ sourceRows: 5, withProfile: 4, migrated: 4, counts: { pii: 4, training: 4 }, countCheck: true });
    expect(dry.unmigrated).toEqual([{ id: expect.any(String), reason: expect.stringMatching(/no client_profile/) }]);
    const real = await splitLegacyMasterPrompts(t.admin, { service: pii, table: 'legacy_clean' });
    expect(real).toMatchObject({ migrated: 4, counts: { pii: 4, training: 4 }, countCheck: true, backupTable: 'legacy_clean_backup' });
    expect(await splitLegacyMasterPrompts(t.admin, { service: pii, table: 'legacy_clean' })).toMatchObject({ migrated: 0, alreadyMigrated: 4, countCheck: true });

    // the counts are measured, not derived from the run: a lost training row fails the check
    await sql`delete from client_profile_training where client_id = ${clean[0]!}`.execute(t.admin);
    for (const dryRun of [true, false]) {
      const r = await splitLegacyMasterPrompts(t.admin, { service: pii, dryRun, table: 'legacy_clean' });
      expect(r).toMatchObject({ alreadyMigrated: 4, counts: { pii: 4, training: 3 }, countCheck: false });
    }
  });
});
