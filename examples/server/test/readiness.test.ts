/**
 * `GET /healthz` is liveness, `GET /readyz` readiness (issue 24): 200 when the database answers,
 * every migration is applied and the required services are up; else 503 naming the failed check.
 */
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from './helpers.js';

describe('readiness', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.dispose();
  });
  const boot = async (env: Record<string, string>) => {
    const server = await bootServer(env, [], []);
    servers.push(server);
    return server;
  };
  const ready = async (server: TestServer) => {
    const res = await fetch(`${server.url}/readyz`);
    return { status: res.status, body: (await res.json()) as any };
  };

  it('200 with every check when the database, the migrations and the configured services are fine', async () => {
    const server = await boot({});
    expect(await ready(server)).toEqual({
      status: 200,
      body: { success: true, status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'not used', nats: 'not used' } },
    });
  });

  it('503 naming the migration that is not applied', async () => {
    const server = await boot({});
    await sql`delete from swan_migrations where package = 'outbox' and name = '0003_trace_context'`.execute(server.ctx.db);
    const { status, body } = await ready(server);
    expect(status).toBe(503);
    expect(body).toMatchObject({ success: false, error: { code: 'UNAVAILABLE', details: { failed: ['migrations'], checks: { database: 'ok', migrations: expect.stringContaining('outbox/0003_trace_context') } } } });
    expect(body.error.message).toContain('migrations');
    // liveness is not readiness
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('503 when a configured Redis or NATS is down', async () => {
    // nothing listens on port 1
    const server = await boot({ REDIS_URL: 'redis://127.0.0.1:1', NATS_URL: 'nats://127.0.0.1:1' });
    const { status, body } = await ready(server);
    expect(status).toBe(503);
    expect(body.error.details.failed).toEqual(['redis', 'nats']);
    expect(body.error.details.checks).toMatchObject({ database: 'ok', migrations: 'ok', redis: expect.stringMatching(/^down/), nats: expect.stringMatching(/^down/) });
  }, 60_000);
});
