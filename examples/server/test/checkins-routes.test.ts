/**
 * Check-ins in the example server (Express adapter, PGlite, in-process outbox workers), with the
 * SDK's own RequestClient talking to a fake Twilio API over HTTP through TWILIO_API_BASE.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withActor, withService } from '@swan/core';
import { bootServer, mintToken, type TestServer } from './helpers.js';
import { serveFakeTwilio } from './fakes.js';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, FROM, inboundFields, twilioSignature } from '../../../packages/checkins/test/fake-twilio.js';

const PUBLIC_URL = 'http://swan.test';

describe('check-ins in the example server', () => {
  const fake = new FakeTwilio();
  let api: Awaited<ReturnType<typeof serveFakeTwilio>>;
  let server: TestServer;
  let adminToken: string;

  beforeAll(async () => {
    api = await serveFakeTwilio(fake);
    server = await bootServer({
      TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_FROM: FROM, TWILIO_API_BASE: api.url, PUBLIC_URL,
    }, [], []);
    adminToken = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '1h' });
  }, 60_000);
  afterAll(async () => {
    await server?.dispose();
    await api?.close();
  });

  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', body, headers });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type'), text, json: () => JSON.parse(text) };
  };
  const createClient = async (phone: string) => {
    const res = await post('/api/clients', JSON.stringify({
      pii: { full_name: 'Grace Hopper', date_of_birth: '1985-12-09', email: `${randomUUID()}@example.com`, phone_number: phone, emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' } },
      training: { training_goals: ['mobility'] },
    }), { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' });
    expect(res.status).toBe(201);
    return res.json().client as { clientId: string; alias: string };
  };
  const webhook = (fields: Record<string, string>, signature?: string) => post('/webhooks/twilio/sms', new URLSearchParams(fields).toString(), {
    'content-type': 'application/x-www-form-urlencoded',
    'x-twilio-signature': signature ?? twilioSignature(`${PUBLIC_URL}/webhooks/twilio/sms`, fields),
  });

  it('202 on schedule, SMS sent later by the worker through TWILIO_API_BASE; replies verified, limited, TwiML', async () => {
    const phone = '+14155552671';
    const client = await createClient(phone);
    const res = await post(`/api/clients/${client.clientId}/checkins`, JSON.stringify({ kind: 'morning', scheduledFor: new Date().toISOString(), timezone: 'America/New_York' }),
      { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    expect(res.json()).toMatchObject({ success: true, eventId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const deadline = Date.now() + 15_000;
    while (fake.sentTo(phone).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(fake.sentTo(phone)).toHaveLength(1);
    expect(fake.sentTo(phone)[0]).toMatchObject({ from: FROM, idempotencyKey: res.json().eventId });
    expect(fake.sentTo(phone)[0]!.body).toContain(client.alias);
    expect(fake.sentTo(phone)[0]!.body).not.toContain('Grace');

    const requests = fake.requests.length;
    const forged = await webhook(inboundFields(phone, 'STOP'), 'bm90IGEgc2lnbmF0dXJl');
    expect(forged.status).toBe(403);
    expect(forged.json()).toMatchObject({ success: false, error: { code: 'FORBIDDEN' } });
    const reply = await webhook(inboundFields(phone, 'HELP'));
    expect(reply).toMatchObject({ status: 200 });
    expect(reply.type).toMatch(/^text\/xml/);
    expect(reply.text).toContain('<Message>Swan check-ins');
    expect((await webhook(inboundFields(phone, 'fine thanks'))).status).toBe(200);
    const limited = await webhook(inboundFields(phone, 'again'));
    expect(limited.status).toBe(429);
    expect(fake.requests.length).toBe(requests); // answering replies never calls Twilio's API
  });

  it('oversized webhook body → 413; bad check-in input → 400', async () => {
    const big = inboundFields('+14155550001', 'x'.repeat(20_000));
    const res = await webhook(big);
    expect(res.status).toBe(413);
    expect(res.json()).toMatchObject({ success: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
    const bad = await post(`/api/clients/${randomUUID()}/checkins`, JSON.stringify({ kind: 'lunch', scheduledFor: 'now', timezone: 'Nowhere/Special' }),
      { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'VALIDATION_FAILED' });
    const client = await mintToken({ sub: randomUUID(), role: 'client' }, { expiresIn: '1h' });
    expect((await post(`/api/clients/${randomUUID()}/checkins`, '{}', { authorization: `Bearer ${client}`, 'content-type': 'application/json' })).status).toBe(403);
  });

  it('POST /api/clients/:id/erase: replies and opt-out gone, schedule ended, in the erasure\'s transaction', async () => {
    const phone = '+14155552699';
    const client = await createClient(phone);
    expect((await webhook(inboundFields(phone, 'Sore knee today'))).status).toBe(200);
    const db = server.ctx.db;
    const admin = { id: randomUUID(), role: 'admin' as const };
    const checkins = server.ctx.services.checkins as { setDailySchedule(trx: unknown, input: unknown): Promise<unknown> };
    await withActor(db, admin, (trx) => checkins.setDailySchedule(trx, { clientId: client.clientId, kind: 'evening', localTime: '20:00', timezone: 'America/New_York' }));
    // read as the check-ins service (row-level security)
    const replies = () => withService(db, 'checkins_service', async (trx) => Number((await sql<{ n: number }>`
      select count(*)::int as n from checkin_responses where client_id = ${client.clientId}::uuid`.execute(trx)).rows[0]!.n));
    expect(await replies()).toBe(1);

    const erased = await post(`/api/clients/${client.clientId}/erase`, JSON.stringify({ reason: 'GDPR art. 17' }),
      { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' });
    expect(erased.status).toBe(200);
    expect(await replies()).toBe(0); // no worker involved
    const schedules = await withService(db, 'checkins_service', (trx) => sql<{ active: boolean }>`
      select active from checkin_schedules where client_id = ${client.clientId}::uuid`.execute(trx));
    expect(schedules.rows).toEqual([{ active: false }]);
  });
});
