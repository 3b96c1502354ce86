import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwanError, classifyPgError, createDatabase, isRetryablePgError, isUniqueViolation, pgErrorCode } from '@swan/core';
import { testEngines, type TestDatabase } from '@swan/test-utils';

/** What `fn` throws (fails the test when it does not). */
async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe.each(testEngines())('classifyPgError on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await engine.create();
    await sql`create table pg_errors_t (id int primary key)`.execute(t.admin);
    await sql`insert into pg_errors_t values (1)`.execute(t.admin);
  });
  afterAll(() => t.close());

  it('recognizes a unique violation, also by constraint and through a SwanError cause', async () => {
    const e = await thrown(() => sql`insert into pg_errors_t values (1)`.execute(t.admin));
    expect(classifyPgError(e)).toEqual({ kind: 'unique_violation', code: '23505', retryable: false });
    expect(isUniqueViolation(e)).toBe(true);
    expect(isUniqueViolation(e, 'pg_errors_t_pkey')).toBe(true);
    expect(isUniqueViolation(e, 'another_constraint')).toBe(false);
    const wrapped = new SwanError({ code: 'CONFLICT', message: 'Already there', cause: e });
    expect(classifyPgError(wrapped).kind).toBe('unique_violation');
    expect(pgErrorCode(wrapped)).toBe('23505');
  });

  it('recognizes a missing table or function as undefined_object', async () => {
    const table = await thrown(() => sql`select * from pg_errors_missing`.execute(t.admin));
    expect(classifyPgError(table)).toMatchObject({ kind: 'undefined_object', code: '42P01' });
    const fn = await thrown(() => sql`select pg_errors_missing_fn()`.execute(t.admin));
    expect(classifyPgError(fn)).toMatchObject({ kind: 'undefined_object', code: '42883' });
  });

  it('leaves other errors as other, not retryable', async () => {
    const e = await thrown(() => sql`select 1 / 0`.execute(t.admin));
    expect(classifyPgError(e)).toEqual({ kind: 'other', code: '22012', retryable: false });
    expect(classifyPgError(new Error('plain'))).toEqual({ kind: 'other', code: undefined, retryable: false });
    expect(classifyPgError(new SwanError({ code: 'NOT_FOUND', message: 'x' })).kind).toBe('other');
    expect(classifyPgError(undefined).kind).toBe('other');
  });
});

describe.runIf(testEngines().some((e) => e.name === 'postgres'))('classifyPgError on PostgreSQL only', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await testEngines().find((e) => e.name === 'postgres')!.create();
    await sql`create table pg_errors_s (id int primary key, n int)`.execute(t.admin);
    await sql`insert into pg_errors_s values (1, 0), (2, 0)`.execute(t.admin);
  });
  afterAll(() => t.close());

  it('recognizes a serialization failure as retryable', async () => {
    const a = t.admin.transaction().setIsolationLevel('serializable');
    const errors: unknown[] = [];
    let release!: () => void;
    const bothRead = new Promise<void>((r) => (release = r));
    let reads = 0;
    const work = (read: number, write: number) => a.execute(async (trx) => {
      await sql`select n from pg_errors_s where id = ${read}`.execute(trx);
      if (++reads === 2) release();
      await bothRead;
      await sql`update pg_errors_s set n = n + 1 where id = ${write}`.execute(trx);
    }).catch((e: unknown) => errors.push(e));
    await Promise.all([work(1, 2), work(2, 1)]);
    expect(errors).toHaveLength(1);
    expect(classifyPgError(errors[0])).toEqual({ kind: 'serialization_failure', code: '40001', retryable: true });
    expect(isRetryablePgError(errors[0])).toBe(true);
  });

  it('recognizes insufficient privilege and a refused connection', async () => {
    const app = await thrown(() => sql`create table pg_errors_app (id int)`.execute(t.db));
    expect(classifyPgError(app)).toMatchObject({ kind: 'insufficient_privilege', code: '42501' });
    const refused = createDatabase({ url: 'postgres://postgres@127.0.0.1:1/test', poolSize: 1 });
    const e = await thrown(() => sql`select 1`.execute(refused));
    await refused.destroy().catch(() => undefined);
    expect(classifyPgError(e)).toMatchObject({ kind: 'connection', code: 'ECONNREFUSED', retryable: true, address: { host: '127.0.0.1', port: 1 } });
  });
});

describe('classifyPgError without a database', () => {
  it('finds the code inside an AggregateError and a cause chain', () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED', address: '::1', port: 5432 });
    const aggregate = new AggregateError([socket], 'connect failed');
    expect(classifyPgError(new Error('outer', { cause: aggregate }))).toMatchObject({ kind: 'connection', address: { host: '::1', port: 5432 } });
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND base'), { code: 'ENOTFOUND', hostname: 'base' });
    expect(classifyPgError(dns)).toMatchObject({ kind: 'connection', code: 'ENOTFOUND', address: { host: 'base' } });
    expect(classifyPgError(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toMatchObject({ kind: 'deadlock', retryable: true });
    expect(classifyPgError(Object.assign(new Error('password authentication failed'), { code: '28P01' })).kind).toBe('authentication');
  });
});
