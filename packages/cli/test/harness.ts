import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { APP_DB_ROLE, createDatabase } from '@swan/core';
import { postgresUrl } from '@swan/test-utils';
import { runCli, type CliIo } from '@swan/cli';

/** Captured output of one `runCli` call. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON. */
  json(): any;
  /** The JSON lines of stderr (progress events, errors). */
  lines(): any[];
}

/** Runs `swan` in-process with captured streams (`isTTY` false unless given: progress as JSON lines). */
export async function swan(argv: string[], env: Record<string, string | undefined> = {}, options: { isTTY?: boolean; columns?: number } = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env, ...options };
  const code = await runCli(argv, io);
  const stdout = out.join('');
  const stderr = err.join('');
  return {
    code,
    stdout,
    stderr,
    json: () => JSON.parse(stdout),
    lines: () => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)),
  };
}

/** A database the CLI is pointed at, plus handles for the test's own setup and checks. */
export interface Target {
  name: 'pglite' | 'postgres';
  /** The CLI arguments that select it as the owner (`--embedded DIR` / `--database-url URL`). */
  args: string[];
  /** The CLI arguments that select it as the application role (swan_app on PostgreSQL). */
  appArgs: string[];
  /** Owner handle: destroy it before running the CLI on PGlite (one process per directory). */
  open(): Kysely<any>;
  /** Application handle (swan_app on PostgreSQL; the one session on PGlite). */
  openApp(): Kysely<any>;
  dispose(): Promise<void>;
}

function pgliteTarget(): Target {
  const dir = mkdtempSync(join(tmpdir(), 'swan-cli-'));
  return {
    name: 'pglite',
    args: ['--embedded', dir],
    appArgs: ['--embedded', dir],
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
    appArgs: ['--database-url', appUrl.toString()],
    open: () => createDatabase({ url: url.toString(), poolSize: 1 }),
    openApp: () => createDatabase({ url: appUrl.toString(), poolSize: 1 }),
    async dispose() {
      const r = createDatabase({ url: base, poolSize: 1 });
      await sql.raw(`drop database if exists ${name} with (force)`).execute(r);
      await r.destroy();
    },
  };
}

/** PGlite always, PostgreSQL when DATABASE_URL is set: `describe.each(targets)(…, ({ create }) => …)`. */
export const targets: { name: string; create: () => Promise<Target> }[] = [{ name: 'pglite', create: async () => pgliteTarget() }];
const pg = postgresUrl();
if (pg) targets.push({ name: 'postgres', create: () => postgresTarget(pg) });

/** The PostgreSQL URL of the test run, when there is one. */
export const postgresBase = pg;

/** Runs `fn` with a handle from `open` and destroys it afterwards. */
export async function using<T>(open: () => Kysely<any>, fn: (db: Kysely<any>) => Promise<T>): Promise<T> {
  const db = open();
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}
