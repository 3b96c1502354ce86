import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, testEngines, type TestDatabase } from '@swan/test-utils';
import { bootServer, getJson, probeModule } from './helpers.js';

const postgres = postgresUrl() ? testEngines().find((e) => e.name === 'postgres') : undefined;

describe.runIf(postgres)('example server on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await postgres!.create([]);
  });
  afterAll(() => t.close());

  it('migrates as the DATABASE_URL owner, then serves as swan_app behind the startup guard', async () => {
    const server = await bootServer({ DATABASE_URL: t.adminUrl! });
    try {
      const { status, body } = await getJson(`${server.url}/healthz`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ success: true, status: 'ok', database: 'postgres' });
      const listening = server.logger.entries.find((e) => e.msg === 'swan example server listening');
      expect(listening).toMatchObject({ database: { engine: 'postgres', role: 'swan_app', rowLevelSecurity: 'enforced' } });
    } finally {
      await server.dispose();
    }
  });

  it('refuses to start when the application connection could bypass row-level security', async () => {
    // DATABASE_APP_URL pointing at the superuser: the guard must refuse
    await expect(bootServer({ DATABASE_URL: t.adminUrl!, DATABASE_APP_URL: t.adminUrl! })).rejects.toMatchObject({
      code: 'UNSAFE_DATABASE_ROLE',
      message: expect.stringMatching(/could bypass row-level security/),
    });
  });

  it('does not migrate on boot when DATABASE_URL already is the application role', async () => {
    const server = await bootServer({ DATABASE_URL: t.appUrl! }, [], [probeModule], []);
    try {
      expect((await getJson(`${server.url}/healthz`)).body.database).toBe('postgres');
      expect(server.logger.entries.some((e) => String(e.msg).startsWith('migrations not run on boot'))).toBe(true);
    } finally {
      await server.dispose();
    }
  });
});
