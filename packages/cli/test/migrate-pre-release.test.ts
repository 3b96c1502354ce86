import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '@swan/core';
import { postgresUrl } from '@swan/test-utils';
import { runCli, type CliIo } from '@swan/cli';

/** A database the CLI is pointed at (`args`); `open()` is an owner handle for the test's own checks. */
interface Target {
  args: string[];
  open(): Kysely<any>;
  dispose(): Promise<void>;
}

function pglite(): Target {
  const dir = mkdtempSync(join(tmpdir(), 'swan-cli-pre-'));
  return { args: ['--embedded', dir], open: () => createDatabase({ dataDir: dir }), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
}

async function postgres(base: string): Promise<Target> {
  const name = `swan_cli_pre_${randomBytes(5).toString('hex')}`;
  const root = createDatabase({ url: base, poolSize: 1 });
  await sql.raw(`create database ${name}`).execute(root);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    args: ['--database-url', url.toString()],
    open: () => createDatabase({ url: url.toString(), poolSize: 1 }),
    async dispose() {
      await sql.raw(`drop database if exists ${name} with (force)`).execute(root);
      await root.destroy();
    },
  };
}

const engines: Array<{ name: string; create: () => Promise<Target> }> = [{ name: 'pglite', create: async () => pglite() }];
const pg = postgresUrl();
if (pg) engines.push({ name: 'postgres', create: () => postgres(pg) });

async function count(db: Kysely<any>, query: ReturnType<typeof sql<{ n: number }>>): Promise<number> {
  return (await query.execute(db)).rows[0]!.n;
}

describe.each(engines)('swan migrate on a database of a pre-release on $name', ({ create }) => {
  let target: Target;
  beforeAll(async () => {
    target = await create();
    // the bookkeeping a pre-release (0.0.x) left: its core chain, before the squash into 0001_core
    const db = target.open();
    try {
      await sql`create table swan_migrations (package text not null, name text not null, checksum text not null,
        applied_at timestamptz not null default now(), primary key (package, name))`.execute(db);
      for (const name of ['0001_roles', '0002_audit_log', '0003_audit_chain_bulk', '0004_audit_log_by_subject', '0005_audit_links', '0006_audit_chain_cursor']) {
        await sql`insert into swan_migrations (package, name, checksum) values ('core', ${name}, ${'a'.repeat(64)})`.execute(db);
      }
    } finally {
      await db.destroy();
    }
  });
  afterAll(() => target?.dispose());

  it('exits non-zero with MIGRATION_PRE_RELEASE and what to do, and creates nothing', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {} };
    expect(await runCli(['migrate', ...target.args], io)).not.toBe(0);
    expect(out.join('')).toBe('');
    const { error } = JSON.parse(err.join('')) as { error: { code: string; message: string } };
    expect(error.code).toBe('MIGRATION_PRE_RELEASE');
    expect(error.message).toContain('migrated by a pre-release Swan (0.0.x)');
    expect(error.message).toContain('recreate the database (development data), or see docs/deployment.md#upgrading-from-a-pre-release');
    const db = target.open();
    try {
      expect(await count(db, sql`select count(*)::int as n from pg_tables where schemaname = 'public' and tablename <> 'swan_migrations'`)).toBe(0);
      expect(await count(db, sql`select count(*)::int as n from swan_migrations`)).toBe(6);
    } finally {
      await db.destroy();
    }
  });
});
