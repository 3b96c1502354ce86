import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { assertRowLevelSecuritySafe, createDatabase, migrate, migrations, SwanError, type MigrationSet } from '@swan/core';
// @ts-expect-error plain ESM script without types
import { render, targets } from '../../../scripts/gen-migrations.mjs';

const demo = (text: string): MigrationSet => ({
  package: 'demo',
  migrations: [
    { name: '0001_t', sql: 'create table demo_t (id int primary key); grant select on demo_t to swan_app;' },
    { name: '0002_u', sql: text },
  ],
});

describe('bundled migrations', () => {
  it('every generated migrations.ts matches migrations/<package>/ (run `pnpm gen` after editing SQL)', () => {
    for (const { pkg, file } of targets() as { pkg: string; file: string }[]) {
      expect(readFileSync(file, 'utf8'), `packages/${pkg}/src/generated/migrations.ts is stale`).toBe(render(pkg));
    }
  });

  it('core ships one baseline, then numbered changes', () => {
    expect(migrations.migrations.map((m) => m.name)).toEqual(['0001_core', '0002_audit_checkpoint', '0003_migrations_readable']);
  });
});

describe.each(testEngines())('migrator on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => { t = await engine.create(); });
  afterAll(() => t?.close());

  it('applies once, records checksums, and is a no-op the second time', async () => {
    const first = await migrate(t.admin, [migrations, demo('insert into demo_t values (1);')]);
    expect(first.applied).toEqual(['demo/0001_t', 'demo/0002_u']);
    expect((await migrate(t.admin, [migrations, demo('insert into demo_t values (1);')])).applied).toEqual([]);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from swan_migrations where package = 'demo'`.execute(t.admin);
    expect(rows[0]!.n).toBe(2);
  });

  it('refuses to run when an applied file changed, and applies nothing', async () => {
    await expect(migrate(t.admin, [migrations, demo('insert into demo_t values (2);')])).rejects.toMatchObject({ code: 'MIGRATION_CHECKSUM_MISMATCH' });
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from demo_t`.execute(t.admin);
    expect(rows[0]!.n).toBe(1);
  });

  it('rolls back a failing file entirely', async () => {
    const bad: MigrationSet = { package: 'bad', migrations: [{ name: '0001_x', sql: 'create table bad_t (id int); select 1/0;' }] };
    await expect(migrate(t.admin, [migrations, bad])).rejects.toThrow(/division by zero/);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename = 'bad_t'`.execute(t.admin);
    expect(rows[0]!.n).toBe(0);
  });

  it('refuses a database migrated by a pre-release (squashed chains), says what to do, and changes nothing', async () => {
    // what a pre-release (0.0.x) recorded: the old chains' files, under their old names
    const old = [
      ['core', '0001_roles'], ['core', '0002_audit_log'], ['core', '0006_audit_chain_cursor'],
      ['pii', '0001_pii'], ['pii', '0007_stamp_room'], ['schema', '0001_master_prompts'],
    ];
    for (const [pkg, name] of old) {
      await sql`insert into swan_migrations (package, name, checksum) values (${pkg}, ${name}, ${'0'.repeat(64)})`.execute(t.admin);
    }
    try {
      const before = (await sql<{ k: string }>`select package || '/' || name || ':' || checksum as k from swan_migrations order by 1`.execute(t.admin)).rows;
      const pending: MigrationSet = { package: 'pending', migrations: [{ name: '0001_p', sql: 'create table pending_t (id int);' }] };
      const error = await migrate(t.admin, [migrations, pending]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SwanError);
      expect(error).toMatchObject({
        code: 'MIGRATION_PRE_RELEASE',
        details: {
          migrations: ['core/0001_roles', 'core/0002_audit_log', 'core/0006_audit_chain_cursor', 'pii/0007_stamp_room', 'schema/0001_master_prompts'],
          hint: 'recreate the database (development data), or see docs/deployment.md#upgrading-from-a-pre-release',
        },
      });
      expect((error as SwanError).message).toMatch(/migrated by a pre-release Swan \(0\.0\.x\), whose migrations were squashed into one baseline per package for 0\.1\.0/);
      expect((error as SwanError).message).toMatch(/records core\/0001_roles and 4 more\); nothing was changed\. To go on: recreate the database \(development data\), or see docs\/deployment\.md#upgrading-from-a-pre-release$/);
      const after = (await sql<{ k: string }>`select package || '/' || name || ':' || checksum as k from swan_migrations order by 1`.execute(t.admin)).rows;
      expect(after).toEqual(before);
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename = 'pending_t'`.execute(t.admin);
      expect(rows[0]!.n).toBe(0);
    } finally {
      await sql`delete from swan_migrations where checksum = ${'0'.repeat(64)}`.execute(t.admin);
    }
    // the same database without them migrates again
    expect((await migrate(t.admin, [migrations])).applied).toEqual([]);
  });

  it('needs the sets a set depends on', async () => {
    await expect(migrate(t.admin, [{ package: 'x', dependsOn: ['pii'], migrations: [] }])).rejects.toMatchObject({ code: 'MIGRATION_MISSING_DEPENDENCY' });
  });

  if (engine.name === 'postgres') {
    it('two instances starting at once apply each file exactly once', async () => {
      const fresh = await engine.create();
      const a = createDatabase({ url: fresh.adminUrl!.replace('swan_app', 'postgres') });
      const b = createDatabase({ url: fresh.adminUrl!.replace('swan_app', 'postgres') });
      try {
        const set: MigrationSet = { package: 'race', migrations: Array.from({ length: 5 }, (_, i) => ({ name: `000${i + 1}_r`, sql: `create table race_${i} (id int); select pg_sleep(0.02);` })) };
        const [ra, rb] = await Promise.all([migrate(a, [migrations, set]), migrate(b, [migrations, set])]);
        expect([...ra.applied, ...rb.applied].sort()).toEqual(set.migrations.map((m) => `race/${m.name}`));
      } finally {
        await Promise.all([a.destroy(), b.destroy()]);
        await fresh.close();
      }
    });

    it('the startup guard refuses a role that could bypass row-level security, and accepts swan_app', async () => {
      await expect(assertRowLevelSecuritySafe(t.admin)).rejects.toMatchObject({ code: 'UNSAFE_DATABASE_ROLE' });
      await expect(assertRowLevelSecuritySafe(t.db)).resolves.toMatchObject({ enforced: true, role: 'swan_app' });
    });
  } else {
    it('the startup guard reports PGlite as not enforced (development engine)', async () => {
      await expect(assertRowLevelSecuritySafe(t.db)).resolves.toMatchObject({ engine: 'pglite', enforced: false });
    });
  }
});
