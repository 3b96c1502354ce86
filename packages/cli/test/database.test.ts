import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, chainAuditLog, createDatabase, withActor } from '@swan/core';
import { migrationRegistry, resolveMigrationSets } from '@swan/cli';
import { postgresBase, swan, targets, using, type Target } from './harness.js';

/** `package/name` of every migration of these packages and their dependencies, from the packages themselves. */
async function migrationNames(packages: string[]): Promise<string[]> {
  const sets = await resolveMigrationSets(packages);
  return sets.flatMap((s) => s.migrations.map((m) => `${s.package}/${m.name}`));
}

describe.each(targets)('swan migrate and audit verify on $name', ({ create }) => {
  let target: Target;
  beforeAll(async () => {
    target = await create();
  });
  afterAll(() => target.dispose());

  it('reports a missing table as DATABASE_NOT_MIGRATED with the hint to migrate', async () => {
    // an embedded directory that exists but holds no migrated database, or a fresh PostgreSQL database
    const r = await swan(['outbox', 'stats', ...target.args]);
    expect(r.code).toBe(1);
    expect(r.lines()).toEqual([{ error: { code: 'DATABASE_NOT_MIGRATED', message: expect.stringMatching(/swan_outbox.*does not exist/), hint: 'run `swan migrate`' } }]);
  });

  it('applies pending migrations once, with progress as JSON lines, and reports them as JSON', async () => {
    const first = await swan(['migrate', '--packages', 'core', ...target.args]);
    expect(first.code, first.stderr).toBe(0);
    const core = (await migrationNames(['core'])).filter((m) => m.startsWith('core/'));
    expect(first.json()).toEqual({ packages: ['core'], applied: core });
    const progress = first.lines();
    expect(progress[0]).toEqual({ event: 'progress', command: 'migrate', done: 0, total: core.length });
    expect(progress.at(-1)).toEqual({ event: 'progress', command: 'migrate', done: core.length, total: core.length });
    expect(first.stderr).not.toContain('\r');
    // without --packages: every package of the registry, core already done
    const all = await swan(['migrate', ...target.args]);
    expect(all.code, all.stderr).toBe(0);
    expect([...all.json().packages].sort()).toEqual(Object.keys(migrationRegistry).sort());
    const rest = (await migrationNames(Object.keys(migrationRegistry))).filter((m) => !m.startsWith('core/'));
    expect([...all.json().applied].sort()).toEqual(rest.sort());
    const again = await swan(['migrate', ...target.args]);
    expect(again.json().applied).toEqual([]);
    expect(again.lines()).toEqual([{ event: 'progress', command: 'migrate', done: 0, total: 0 }]);
  });

  it('verifies an intact chain (exit 0) with progress, and finds a row altered by the owner (exit 1)', async () => {
    const actor = { id: '00000000-0000-4000-8000-000000000001', role: 'admin' as const };
    await using(target.openApp, async (app) => {
      for (let i = 0; i < 5; i++) await withActor(app, actor, (trx) => appendAudit(trx, { actor, action: 'CLI_TEST', resource: 'test', details: { i } }));
      await chainAuditLog(app);
    });
    const intact = await swan(['audit', 'verify', ...target.appArgs]);
    expect(intact.code, intact.stderr).toBe(0);
    expect(intact.json()).toEqual({ valid: true, entries: 5 });
    expect(intact.lines()).toEqual([
      { event: 'progress', command: 'audit verify', done: 0, total: 5 },
      { event: 'progress', command: 'audit verify', done: 5, total: 5 },
    ]);

    const id = await using(target.open, async (owner) => {
      const { rows } = await sql<{ id: number }>`select entry_id as id from swan_audit_chain where chain_seq = 3`.execute(owner);
      await owner.transaction().execute(async (trx) => {
        await sql`set local session_replication_role = replica`.execute(trx);
        await sql`update swan_audit_log set details = '{"i": 99}' where id = ${rows[0]!.id}`.execute(trx);
      });
      return Number(rows[0]!.id);
    });
    const broken = await swan(['audit', 'verify', ...target.args]);
    expect(broken.code).toBe(1);
    expect(broken.json()).toEqual({ valid: false, entries: 2, firstBrokenId: id });
  });

  it('draws a bar instead of JSON lines on a terminal (the broken chain above stops it at 0/5)', async () => {
    const r = await swan(['audit', 'verify', ...target.args], {}, { isTTY: true, columns: 100 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`\raudit verify [${'.'.repeat(40)}] 0/5 entries\n`);
  });
});

describe('swan migrate on an embedded database', () => {
  it('creates the directory given with --embedded', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'swan-cli-embedded-'));
    const dir = join(parent, 'new', 'db');
    try {
      const r = await swan(['migrate', '--packages', 'core', '--embedded', dir], { DATABASE_URL: 'postgres://ignored@127.0.0.1:1/x' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().applied.length).toBeGreaterThan(0);
      expect((await swan(['audit', 'verify', '--embedded', dir])).json()).toEqual({ valid: true, entries: 0 });
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe('database errors: a code and a hint, not INTERNAL with driver text', () => {
  it('connection refused: is PostgreSQL running at host:port?', async () => {
    const r = await swan(['audit', 'verify', '--database-url', 'postgres://postgres@127.0.0.1:1/test']);
    expect(r.code).toBe(1);
    expect(r.lines()).toEqual([{ error: { code: 'DATABASE_UNREACHABLE', message: expect.stringContaining('ECONNREFUSED'), hint: 'is PostgreSQL running at 127.0.0.1:1?' } }]);
  });

  it('unknown host (DATABASE_URL): is PostgreSQL running at host:port?', async () => {
    const r = await swan(['outbox', 'stats'], { DATABASE_URL: 'postgres://postgres@swan-no-such-host.invalid:5433/test' });
    expect(r.code).toBe(1);
    expect(r.lines()[0].error).toMatchObject({ code: 'DATABASE_UNREACHABLE', hint: 'is PostgreSQL running at swan-no-such-host.invalid:5433?' });
  });

  describe.runIf(postgresBase)('on PostgreSQL', () => {
    const role = `swan_cli_nobody_${randomBytes(4).toString('hex')}`;
    let target: Target;
    beforeAll(async () => {
      target = await targets.find((t) => t.name === 'postgres')!.create();
      await using(target.open, async (owner) => {
        await sql.raw(`create role ${role} login`).execute(owner);
        // PostgreSQL 15+ no longer lets PUBLIC create in schema public; older versions do
        await sql.raw('revoke create on schema public from public').execute(owner);
      });
    });
    afterAll(async () => {
      await target.dispose();
      await using(() => createDatabase({ url: postgresBase!, poolSize: 1 }), (root) => sql.raw(`drop role if exists ${role}`).execute(root));
    });

    const as = (user: string) => {
      const url = new URL(target.args[1]!);
      url.username = user;
      url.password = '';
      return url.toString();
    };

    it('permission denied for schema public: run migrations as the owning role', async () => {
      const r = await swan(['migrate', '--database-url', as(role)]);
      expect(r.code).toBe(1);
      expect(r.lines().at(-1)).toEqual({
        error: { code: 'DATABASE_PERMISSION_DENIED', message: 'permission denied for schema public', hint: 'run migrations as the owning role, see docs/deployment.md' },
      });
    });

    it('an unknown role: check the URL', async () => {
      const r = await swan(['audit', 'verify', '--database-url', as(`${role}_missing`)]);
      expect(r.code).toBe(1);
      expect(r.lines()[0].error).toMatchObject({ code: 'DATABASE_AUTH_FAILED', hint: expect.stringContaining('database URL') });
      expect(r.stderr).not.toContain('INTERNAL');
    });
  });
});
