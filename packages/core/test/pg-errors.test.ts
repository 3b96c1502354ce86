import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { isDeadlock, isRetryable, isSerializationFailure, isUniqueViolation, pgErrorCode } from '@swan/core';

/** The error the engine raises for `statement`. */
async function failureOf(t: TestDatabase, statement: ReturnType<typeof sql>): Promise<unknown> {
  try {
    await statement.execute(t.admin);
  } catch (error) {
    return error;
  }
  throw new Error('expected the statement to fail');
}

const raise = (sqlstate: string) => sql`do $$ begin raise exception 'test' using errcode = '${sql.raw(sqlstate)}'; end $$`;

describe.each(testEngines())('PostgreSQL error classification on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await engine.create();
    await sql`create table pg_errors_test (id int constraint pg_errors_test_pk primary key, email text constraint pg_errors_test_email unique)`.execute(t.admin);
    await sql`insert into pg_errors_test values (1, 'a@example.org')`.execute(t.admin);
  });
  afterAll(() => t?.close());

  it('recognises a unique violation, by constraint when one is named', async () => {
    const e = await failureOf(t, sql`insert into pg_errors_test values (2, 'a@example.org')`);
    expect(pgErrorCode(e)).toBe('23505');
    expect(isUniqueViolation(e)).toBe(true);
    expect(isUniqueViolation(e, 'pg_errors_test_email')).toBe(true);
    expect(isUniqueViolation(e, 'pg_errors_test_pk')).toBe(false);
    expect(isRetryable(e)).toBe(false);
  });

  it('tells serialization failures and deadlocks (retryable) from other errors', async () => {
    const serialization = await failureOf(t, raise('40001'));
    expect([isSerializationFailure(serialization), isDeadlock(serialization), isRetryable(serialization)]).toEqual([true, false, true]);
    const deadlock = await failureOf(t, raise('40P01'));
    expect([isSerializationFailure(deadlock), isDeadlock(deadlock), isRetryable(deadlock)]).toEqual([false, true, true]);
    const missing = await failureOf(t, sql`select * from pg_errors_no_such_table`);
    expect(pgErrorCode(missing)).toBe('42P01');
    expect([isUniqueViolation(missing), isRetryable(missing)]).toEqual([false, false]);
  });

  it('answers false for anything that is not a database error', () => {
    for (const value of [undefined, null, 'x', new Error('23505'), { code: 23505 }]) {
      expect([pgErrorCode(value), isUniqueViolation(value), isRetryable(value)]).toEqual([undefined, false, false]);
    }
  });
});
