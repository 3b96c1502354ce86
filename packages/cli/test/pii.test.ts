import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalKeyProvider, PiiService, SYSTEM_ACTOR } from '@swan/pii';
import { swan, targets, using, type Target } from './harness.js';

const masterKey = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

const body = (n: number) => ({
  pii: { full_name: `Cli Person ${n}`, date_of_birth: '1980-01-0' + (1 + (n % 9)), email: `cli${n}.${randomUUID().slice(0, 8)}@example.com`, phone_number: `+1213555${String(1000 + n)}`, emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' } },
  training: { gender: 'female', height_inches: 66, weight_lbs: 150.5, training_goals: ['strength'] },
});

const legacy = (n: number) => ({
  client_profile: {
    basic_info: { name: `Legacy Person ${n}`, date_of_birth: '1985-04-0' + (1 + (n % 9)), email: `legacy${n}.${randomUUID().slice(0, 8)}@example.com`, phone: '213-373-42' + String(10 + n).slice(-2), emergency_contact: { name: `Kin ${n}`, relationship: 'parent', phone: '+12025550111' }, gender: 'male', height_inches: 70, weight_lbs: 180.25 },
    training_goals: ['endurance'],
  },
});

describe.each(targets)('swan keys rotate and swan legacy split on $name', ({ create }) => {
  let target: Target;
  const k1 = masterKey('old');
  const k2 = masterKey('new');
  const indexKey = randomBytes(32).toString('base64');
  beforeAll(async () => {
    target = await create();
    const r = await swan(['migrate', '--packages', 'pii', ...target.args]);
    expect(r.code, r.stderr).toBe(0);
    await using(target.openApp, async (db) => {
      const pii = new PiiService({ db, keys: LocalKeyProvider.fromEnv(k1), indexKey: Buffer.from(indexKey, 'base64') });
      for (let i = 0; i < 5; i++) await pii.createClient(SYSTEM_ACTOR, body(i));
    });
  });
  afterAll(() => target.dispose());

  it('rotates with a bar on a terminal, JSON lines otherwise, and reports the keys left under old master keys', async () => {
    const a = await swan(['keys', 'rotate', '--batch-size', '2', ...target.appArgs], { SWAN_MASTER_KEYS: `${k1},${k2}` }, { isTTY: true, columns: 80 });
    expect(a.code, a.stderr).toBe(0);
    expect(a.json()).toEqual({ rewrapped: 5, failed: 0, remaining: 0, currentKeyId: 'new' });
    expect(a.stderr).toMatch(/^\rkeys rotate \[\.+\] 0\/5 data keys\r.*\rkeys rotate \[#+\] 5\/5 data keys\n$/s);

    const k3 = masterKey('newest');
    const b = await swan(['keys', 'rotate', '--batch-size', '2', ...target.appArgs], { SWAN_MASTER_KEYS: `${k2},${k3}` });
    expect(b.code, b.stderr).toBe(0);
    expect(b.json()).toMatchObject({ rewrapped: 5, remaining: 0, currentKeyId: 'newest' });
    expect(b.stderr).not.toContain('\r');
    const steps = b.lines();
    expect(steps[0]).toEqual({ event: 'progress', command: 'keys rotate', done: 0, total: 5 });
    expect(steps.at(-1)).toEqual({ event: 'progress', command: 'keys rotate', done: 5, total: 5 });
    expect(steps.every((s) => s.event === 'progress' && s.command === 'keys rotate')).toBe(true);

    // keys only a retired master key can open are reported, and the exit code says so
    const c = await swan(['keys', 'rotate', ...target.appArgs], { SWAN_MASTER_KEYS: masterKey('unrelated') });
    expect(c.code).toBe(1);
    expect(c.json()).toMatchObject({ rewrapped: 0, failed: 5, remaining: 5 });
  });

  it('splits legacy master_prompts: a dry run writes nothing, a real run migrates, both with progress', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    await using(target.open, async (owner) => {
      await sql`create table master_prompts (id uuid primary key, data jsonb)`.execute(owner);
      const rows: [string, unknown][] = [[ids[0]!, legacy(0)], [ids[1]!, legacy(1)], [ids[2]!, { something_else: true }]];
      for (const [id, data] of rows) await sql`insert into master_prompts (id, data) values (${id}, ${JSON.stringify(data)}::jsonb)`.execute(owner);
    });
    const env = { SWAN_MASTER_KEYS: masterKey('legacy'), SWAN_INDEX_KEY: indexKey };

    const dry = await swan(['legacy', 'split', '--dry-run', ...target.args], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, sourceRows: 3, withProfile: 2, migrated: 2, countCheck: true, backupTable: null });
    expect(dry.json().unmigrated).toEqual([{ id: ids[2], reason: expect.stringContaining('no client_profile') }]);
    expect(dry.lines()).toEqual([0, 1, 2, 3].map((done) => ({ event: 'progress', command: 'legacy split', done, total: 3 })));
    const counted = () => using(target.open, async (owner) => {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from client_profile_pii where client_id = any(${ids}::uuid[])`.execute(owner);
      return Number(rows[0]!.n);
    });
    expect(await counted()).toBe(0);

    const real = await swan(['legacy', 'split', ...target.args], env);
    expect(real.code, real.stderr).toBe(0);
    expect(real.json()).toMatchObject({ dryRun: false, migrated: 2, counts: { pii: 2, training: 2 }, countCheck: true, backupTable: 'master_prompts_backup' });
    expect(real.lines().at(-1)).toEqual({ event: 'progress', command: 'legacy split', done: 3, total: 3 });
    expect(await counted()).toBe(2);
    // nothing in the report or the progress is PII
    expect(real.stdout + real.stderr).not.toContain('Legacy Person');

    // a row with a profile that can't be migrated fails the count check: exit 1
    await using(target.open, (owner) =>
      sql`insert into master_prompts (id, data) values (${randomUUID()}, ${JSON.stringify({ client_profile: { basic_info: { name: 'No Email' } } })}::jsonb)`.execute(owner));
    const failing = await swan(['legacy', 'split', '--dry-run', ...target.args], env);
    expect(failing.code).toBe(1);
    expect(failing.json()).toMatchObject({ countCheck: false, alreadyMigrated: 2 });
    expect((await swan(['legacy', 'split', '--table', 'Robert;drop', ...target.args], env)).code).toBe(2);
  });
});
