import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DB_ROLE, appendAudit, chainAuditLog, createDatabase, withActor } from '@swan/core';
import { postgresUrl } from '@swan/test-utils';
import { migrationRegistry, runCli, resolveMigrationSets, type CliIo, type Command } from '@swan/cli';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function captureIo(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env };
  return { io, stdout: () => out.join(''), stderr: () => err.join(''), json: () => JSON.parse(out.join('')) };
}

/** A database the CLI is pointed at, plus an owner handle for the test's own checks. */
interface Target {
  name: string;
  args: string[];
  open(): Kysely<any>;
  /** The application's handle (swan_app on PostgreSQL). */
  openApp(): Kysely<any>;
  dispose(): Promise<void>;
}

function pgliteTarget(): Target {
  const dir = mkdtempSync(join(tmpdir(), 'swan-cli-'));
  return {
    name: 'pglite',
    args: ['--data-dir', dir],
    open: () => createDatabase({ dataDir: dir }),
    openApp: () => createDatabase({ dataDir: dir }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresTarget(base: string): Promise<Target> {
  const name = `swan_cli_${randomBytes(5).toString('hex')}`;
  const root = createDatabase({ url: base, poolSize: 1 });
  await sql.raw(`create database ${name}`).execute(root);
  await root.destroy();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const appUrl = new URL(url);
  appUrl.username = APP_DB_ROLE;
  appUrl.password = '';
  return {
    name: 'postgres',
    args: ['--database-url', url.toString()],
    open: () => createDatabase({ url: url.toString(), poolSize: 1 }),
    openApp: () => createDatabase({ url: appUrl.toString(), poolSize: 1 }),
    async dispose() {
      const r = createDatabase({ url: base, poolSize: 1 });
      await sql.raw(`drop database if exists ${name} with (force)`).execute(r);
      await r.destroy();
    },
  };
}

describe('swan: arguments', () => {
  it('lists the commands with --help and exits 2 without a command', async () => {
    const help = captureIo();
    expect(await runCli(['--help'], help.io)).toBe(0);
    expect(help.stdout()).toMatch(/migrate/);
    expect(help.stdout()).toMatch(/audit verify/);
    expect(await runCli([], captureIo().io)).toBe(2);
  });

  it('exits 2 on an unknown command, option or package, naming the problem', async () => {
    const unknown = captureIo();
    expect(await runCli(['frobnicate'], unknown.io)).toBe(2);
    expect(unknown.stderr()).toMatch(/unknown command "frobnicate"/);
    const option = captureIo();
    expect(await runCli(['migrate', '--nope'], option.io)).toBe(2);
    expect(option.stderr()).toMatch(/--nope/);
    const pkg = captureIo();
    expect(await runCli(['migrate', '--packages', 'core,nope', '--data-dir', '/nonexistent/never-created'], pkg.io)).toBe(2);
    expect(pkg.stderr()).toMatch(/Unknown package "nope"/);
  });

  it('matches the longest command name and passes positionals only to commands that take them', async () => {
    const seen: string[] = [];
    const commands: Command[] = [
      { name: 'audit', summary: 'a', positionals: true, run: async ({ positionals }) => (seen.push(`audit:${positionals.join(',')}`), 0) },
      { name: 'audit verify', summary: 'b', options: { fast: { type: 'boolean' } }, run: async ({ values }) => (seen.push(`verify:${String(values.fast)}`), 0) },
    ];
    expect(await runCli(['audit', 'verify', '--fast'], captureIo().io, commands)).toBe(0);
    expect(await runCli(['audit', 'x'], captureIo().io, commands)).toBe(0);
    expect(await runCli(['audit', 'verify', 'extra'], captureIo().io, commands)).toBe(2);
    expect(seen).toEqual(['verify:true', 'audit:x']);
  });

  it('adds the dependencies of the selected packages, core first', async () => {
    const registry = {
      core: async () => ({ package: 'core', migrations: [] }),
      pii: async () => ({ package: 'pii', migrations: [] }),
      consent: async () => ({ package: 'consent', dependsOn: ['pii'], migrations: [] }),
    };
    const sets = await resolveMigrationSets(['consent'], registry);
    expect(sets.map((s) => s.package).sort()).toEqual(['consent', 'core', 'pii']);
  });
});

const targets: Array<() => Promise<Target>> = [async () => pgliteTarget()];
const pg = postgresUrl();
if (pg) targets.push(() => postgresTarget(pg));

describe.each(targets.map((create, i) => ({ name: i === 0 ? 'pglite' : 'postgres', create })))('swan migrate and audit verify on $name', ({ create }) => {
  let target: Target;
  beforeAll(async () => {
    target = await create();
  });
  afterAll(() => target.dispose());

  it('applies pending migrations once and reports them as JSON', async () => {
    const first = captureIo();
    expect(await runCli(['migrate', '--packages', 'core', ...target.args], first.io), first.stderr()).toBe(0);
    expect(first.json()).toEqual({ packages: ['core'], applied: ['core/0001_core'] });
    // without --packages: every package of the registry, core already done
    const all = captureIo();
    expect(await runCli(['migrate', ...target.args], all.io), all.stderr()).toBe(0);
    expect([...all.json().packages].sort()).toEqual(Object.keys(migrationRegistry).sort());
    expect(all.json().applied.filter((m: string) => m.startsWith('core/'))).toEqual([]);
    const again = captureIo();
    expect(await runCli(['migrate', ...target.args], again.io)).toBe(0);
    expect(again.json().applied).toEqual([]);
  });

  it('verifies an intact chain (exit 0) and finds a row altered by the owner (exit 1)', async () => {
    const app = target.openApp();
    const actor = { id: '00000000-0000-4000-8000-000000000001', role: 'admin' as const };
    for (let i = 0; i < 5; i++) {
      await withActor(app, actor, (trx) => appendAudit(trx, { actor, action: 'CLI_TEST', resource: 'test', details: { i } }));
    }
    await chainAuditLog(app);
    await app.destroy();

    const intact = captureIo();
    expect(await runCli(['audit', 'verify', ...target.args], intact.io)).toBe(0);
    expect(intact.json()).toEqual({ valid: true, entries: 5 });

    const owner = target.open();
    const { rows } = await sql<{ id: number }>`select entry_id as id from swan_audit_chain where chain_seq = 3`.execute(owner);
    await owner.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      await sql`update swan_audit_log set details = '{"i": 99}' where id = ${rows[0]!.id}`.execute(trx);
    });
    await owner.destroy();

    const broken = captureIo();
    expect(await runCli(['audit', 'verify', ...target.args], broken.io)).toBe(1);
    expect(broken.json()).toEqual({ valid: false, entries: 2, firstBrokenId: Number(rows[0]!.id) });
  });
});

describe('the swan bin', () => {
  it('runs as a process: prints JSON on stdout and sets the exit code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swan-cli-bin-'));
    try {
      // the bin's source through tsx (resolving @swan/* to sources), so no build is needed
      const run = (args: string[]) =>
        promisify(execFile)(process.execPath, ['--import', 'tsx', 'packages/cli/src/cli.ts', ...args], { cwd: root, env: { ...process.env, DATABASE_URL: '' } });
      const migrated = await run(['migrate', '--packages', 'core', '--data-dir', dir]);
      expect(JSON.parse(migrated.stdout).applied).toContain('core/0001_core');
      const verified = await run(['audit', 'verify', '--data-dir', dir]);
      expect(JSON.parse(verified.stdout)).toEqual({ valid: true, entries: 0 });
      await expect(run(['nope'])).rejects.toMatchObject({ code: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
