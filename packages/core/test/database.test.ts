import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { testEngines, type TestDatabase } from '@swan/test-utils';

describe.each(testEngines())('createDatabase on $name', (engine) => {
  let t: TestDatabase;
  beforeAll(async () => { t = await engine.create(); });
  afterAll(() => t?.close());

  // In a transaction Kysely still holds the connection (it sends ROLLBACK) when the socket's end
  // arrives; without a listener of our own node-postgres would throw that as an uncaught
  // exception, which fails this run even though the transaction rejected.
  it.runIf(engine.name === 'postgres')('a connection that dies in a transaction rejects it, leaves the pool and crashes nothing', async () => {
    const victim = t.connectApp(1);
    try {
      const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(victim)).rows[0]!.pid;
      const pending = victim.transaction().execute((trx) => sql`select pg_sleep(5)`.execute(trx));
      // handled from the start: it may reject before pg_terminate_backend's own answer arrives
      const rejected = expect(pending).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 200));
      await sql`select pg_terminate_backend(${pid})`.execute(t.admin);
      await rejected;
      expect((await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(victim)).rows[0]!.pid).not.toBe(pid);
    } finally {
      await victim.destroy();
    }
  });
});
