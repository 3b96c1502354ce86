import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withActor } from '@swan/core';
import { testEngines } from '@swan/test-utils';
import { ClaimHeldError, CHECKINS_SERVICE_ACTOR, createCheckins, PHONE_PURPOSE } from '../src/index.js';
import { inboundFields } from './fake-twilio.js';
import { admin, startHarness, type Harness } from './harness.js';

const LA = 'America/Los_Angeles';
const soon = () => new Date(Date.now() - 1000).toISOString();

describe.each(testEngines())('check-ins on $name', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(engine);
    await h.startWorker();
  }, 60_000);
  afterAll(async () => h?.close());

  const schedule = (clientId: string, kind: 'morning' | 'evening' = 'morning', scheduledFor = soon()) =>
    h.t.db.transaction().execute((trx) => h.checkins.scheduleCheckIn(trx, { clientId, kind, scheduledFor, timezone: LA }));
  const message = async (eventId: string) =>
    (await sql<any>`select * from checkin_messages where event_id = ${eventId}::uuid`.execute(h.t.admin)).rows[0];

  it('sends one SMS per event, by alias, read through an audited purpose-stated PII access', async () => {
    const c = await h.createClient(1);
    const { eventId } = await schedule(c.clientId);
    await h.drain();
    const sent = h.fake.sentTo(c.phone!);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toContain(c.alias);
    expect(sent[0]!.body).not.toContain(c.fullName.split(' ')[0]!);
    expect(sent[0]!.idempotencyKey).toBe(eventId);
    expect(await message(eventId)).toMatchObject({ status: 'sent', message_sid: sent[0]!.sid });
    const audit = await sql<any>`select actor_id, outcome, reason from swan_audit_log
      where resource_id = ${c.clientId} and action = 'PII_ACCESS'`.execute(h.t.admin);
    expect(audit.rows).toEqual([{ actor_id: CHECKINS_SERVICE_ACTOR.id, outcome: 'allowed', reason: 'service_delivery' }]);
    expect(JSON.stringify(audit.rows)).not.toContain(PHONE_PURPOSE);
    // a redelivered event (at least once) does not text again
    const again = await h.checkins.handleCheckInEvent({ eventId, eventType: 'morning_checkin_scheduled', payload: { clientId: c.clientId, scheduledFor: soon(), timezone: LA } });
    expect(again).toBe('already_sent');
    expect(h.fake.sentTo(c.phone!)).toHaveLength(1);
    const [ev] = (await h.outboxRows()).filter((r) => r.event_id === eventId);
    expect(ev).toMatchObject({ status: 'completed', payload: { clientId: c.clientId, timezone: LA } });
  });

  it('rejects bad input with VALIDATION_FAILED and writes nothing', async () => {
    const before = await h.count('swan_outbox');
    for (const bad of [
      { kind: 'noon', scheduledFor: soon(), timezone: LA },
      { kind: 'morning', scheduledFor: 'tomorrow', timezone: LA },
      { kind: 'morning', scheduledFor: '2025-11-05T07:00:00', timezone: LA },
      { kind: 'morning', scheduledFor: soon(), timezone: 'Mars/Olympus' },
    ]) {
      await expect(h.t.db.transaction().execute((trx) => h.checkins.scheduleCheckIn(trx, { clientId: randomUUID(), ...bad } as never)))
        .rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect(await h.count('swan_outbox')).toBe(before);
  });

  it('Twilio down for a while: events retry with backoff and are all delivered once when it returns', async () => {
    const clients = await Promise.all([2, 3, 4, 5].map((n) => h.createClient(n)));
    h.fake.down = true;
    const failedBefore = h.fake.requests.length;
    const ids: string[] = [];
    for (const c of clients) ids.push((await schedule(c.clientId, 'evening')).eventId);
    while (h.fake.requests.length - failedBefore < 12) await new Promise((r) => setTimeout(r, 10));
    h.fake.down = false;
    await h.drain();
    for (const c of clients) expect(h.fake.sentTo(c.phone!)).toHaveLength(1);
    const rows = (await h.outboxRows()).filter((r) => ids.includes(r.event_id));
    expect(rows.every((r) => r.status === 'completed')).toBe(true);
    expect(rows.some((r) => r.attempts > 0)).toBe(true);
  });

  it('an opted-out client is never texted; START opts back in', async () => {
    const c = await h.createClient(6);
    expect((await h.inbound(inboundFields(c.phone!, ' stop '))).status).toBe(200);
    expect(await h.checkins.isOptedOut(c.clientId)).toBe(true);
    const { eventId } = await schedule(c.clientId);
    await h.drain();
    expect(h.fake.sentTo(c.phone!)).toHaveLength(0);
    expect(await message(eventId)).toMatchObject({ status: 'opted_out', message_sid: null });

    const start = await h.inbound(inboundFields(c.phone!, 'START'));
    expect(start.body).toContain('subscribed to Swan check-ins again');
    await schedule(c.clientId);
    await h.drain();
    expect(h.fake.sentTo(c.phone!)).toHaveLength(1);
  });

  it('21610 and invalid numbers are dead-lettered at once; 21610 also opts the client out', async () => {
    const unsub = await h.createClient(7);
    const invalid = await h.createClient(8);
    h.fake.rejections.set(unsub.phone!, { status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' });
    h.fake.rejections.set(invalid.phone!, { status: 400, code: 21211, message: "The 'To' number is not a valid phone number." });
    const a = await schedule(unsub.clientId);
    const b = await schedule(invalid.clientId);
    await h.drain();
    const rows = (await h.outboxRows()).filter((r) => [a.eventId, b.eventId].includes(r.event_id));
    expect(rows.map((r) => [r.status, r.attempts])).toEqual([['dead', 1], ['dead', 1]]);
    const dead = await h.outbox.dead();
    const reasons = dead.filter((d) => [a.eventId, b.eventId].includes(d.eventId)).map((d) => d.lastError).join(' ');
    expect(reasons).toContain('21610');
    expect(reasons).toContain('21211');
    expect(reasons).not.toContain(unsub.phone!);
    expect(await h.checkins.isOptedOut(unsub.clientId)).toBe(true);
    expect(await h.checkins.isOptedOut(invalid.clientId)).toBe(false);
    h.fake.rejections.clear();
    const c = await schedule(unsub.clientId);
    await h.drain();
    expect(h.fake.sentTo(unsub.phone!)).toHaveLength(0);
    expect(await message(c.eventId)).toMatchObject({ status: 'opted_out' });
  });

  it("Twilio's answer lost after it accepted the message: the retry finds it at Twilio and texts once", async () => {
    const c = await h.createClient(14);
    const requestsBefore = h.fake.requests.length;
    h.fake.loseAnswers = 1;
    const { eventId } = await schedule(c.clientId);
    await h.drain();
    const sent = h.fake.sentTo(c.phone!);
    expect(sent).toHaveLength(1);
    expect(await message(eventId)).toMatchObject({ status: 'sent', message_sid: sent[0]!.sid, claim_token: null, unconfirmed_at: null });
    const [ev] = (await h.outboxRows()).filter((r) => r.event_id === eventId);
    expect(ev).toMatchObject({ status: 'completed' });
    expect(ev!.attempts).toBeGreaterThanOrEqual(1);
    expect(h.fake.requests.slice(requestsBefore).map((r) => r.method)).toEqual(['POST', 'GET']); // the send, then the reconciling list
  });

  it('a second run of an event while the first holds the send claim sends nothing and retries later', async () => {
    const c = await h.createClient(15);
    const event = { eventId: randomUUID(), eventType: 'morning_checkin_scheduled', payload: { clientId: c.clientId, scheduledFor: soon(), timezone: LA } };
    h.fake.delayMs = 300;
    try {
      const first = h.checkins.handleCheckInEvent(event);
      while (!(await message(event.eventId))?.claim_token) await new Promise((r) => setTimeout(r, 5));
      const second = await h.checkins.handleCheckInEvent(event).catch((e) => e);
      expect(second).toBeInstanceOf(ClaimHeldError);
      expect(second.unavailable).toBe(true);
      expect(await first).toBe('sent');
    } finally {
      h.fake.delayMs = 0;
    }
    expect(await h.checkins.handleCheckInEvent(event)).toBe('already_sent');
    expect(h.fake.sentTo(c.phone!)).toHaveLength(1);
  });

  it('erasure deletes replies and the opt-out record and ends schedules in its own transaction; later check-ins find no phone', async () => {
    const c = await h.createClient(16);
    const other = await h.createClient(17);
    await h.inbound(inboundFields(c.phone!, 'Slept badly, back pain'));
    await h.inbound(inboundFields(c.phone!, 'STOP'));
    await h.inbound(inboundFields(other.phone!, 'STOP'));
    await withActor(h.t.db, admin, (trx) => h.checkins.setDailySchedule(trx, { clientId: c.clientId, kind: 'evening', localTime: '20:00', timezone: LA }));
    const rows = async (table: string, clientId: string) =>
      (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)} where client_id = ${clientId}::uuid`.execute(h.t.admin)).rows[0]!.n;
    expect(await rows('checkin_responses', c.clientId)).toBe(2);
    // an admin cannot delete a live client's replies (only the erasure can)
    await withActor(h.t.db, admin, (trx) => sql`delete from checkin_responses where client_id = ${c.clientId}::uuid`.execute(trx));
    expect(await rows('checkin_responses', c.clientId)).toBe(2);
    expect(h.checkins.handlers).not.toHaveProperty('client_erased');

    await h.pii.erase(c.clientId, admin, 'GDPR art. 17 request');
    // no worker ran: the erasure's transaction did it
    expect(await rows('checkin_responses', c.clientId)).toBe(0);
    expect(await rows('checkin_contacts', c.clientId)).toBe(0);
    const schedules = await sql<any>`select active from checkin_schedules where client_id = ${c.clientId}::uuid`.execute(h.t.admin);
    expect(schedules.rows).toEqual([{ active: false }]);
    // the stored schedule and its queued occurrence are gone with it
    expect((await sql`select 1 from swan_outbox_schedules where name like ${`checkin:${c.clientId}:%`}`.execute(h.t.admin)).rows).toEqual([]);
    expect((await h.outboxRows()).filter((r) => r.payload.clientId === c.clientId && r.payload.recurring)).toEqual([]);
    expect(await rows('checkin_responses', other.clientId)).toBe(1);
    expect(await h.checkins.isOptedOut(other.clientId)).toBe(true);

    const { eventId } = await schedule(c.clientId);
    await h.drain();
    expect(await message(eventId)).toMatchObject({ status: 'no_phone' });
    expect(h.fake.sentTo(c.phone!)).toHaveLength(0);
    // the erased number is nobody now
    expect((await h.inbound(inboundFields(c.phone!, 'hello'))).body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
  });

  describe('inbound webhook', () => {
    it('stores a verified reply, links it to the last check-in, publishes ids only', async () => {
      const c = await h.createClient(10);
      const { eventId } = await schedule(c.clientId);
      await h.drain();
      const fields = inboundFields(c.phone!, 'Energy 7, knee a bit sore');
      const res = await h.inbound(fields);
      expect(res).toMatchObject({ status: 200, contentType: 'text/xml; charset=utf-8' });
      expect(res.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Message>Thanks/);
      const stored = await sql<any>`select * from checkin_responses where message_sid = ${fields.MessageSid}`.execute(h.t.admin);
      expect(stored.rows).toHaveLength(1);
      expect(stored.rows[0]).toMatchObject({ client_id: c.clientId, checkin_event_id: eventId, body: 'Energy 7, knee a bit sore', keyword: null });
      const events = (await h.outboxRows()).filter((r) => r.event_type === 'checkin_response_received' && r.payload.clientId === c.clientId);
      expect(events).toHaveLength(1);
      expect(events[0]!.payload).toEqual({ clientId: c.clientId, messageId: stored.rows[0].id, checkinId: eventId });
      expect(JSON.stringify(events[0]!.payload)).not.toContain('knee');

      // replayed webhook: same answer, nothing stored twice
      const replay = await h.inbound(fields);
      expect(replay.status).toBe(200);
      expect((await sql<any>`select count(*)::int as n from checkin_responses where message_sid = ${fields.MessageSid}`.execute(h.t.admin)).rows[0].n).toBe(1);
      expect((await h.outboxRows()).filter((r) => r.event_type === 'checkin_response_received' && r.payload.clientId === c.clientId)).toHaveLength(1);
    });

    it('forged signature → 403 FORBIDDEN, unknown sender → empty TwiML, nothing stored', async () => {
      const c = await h.createClient(11);
      const responses = await h.count('checkin_responses');
      const events = await h.count('swan_outbox');
      const fields = inboundFields(c.phone!, 'STOP');
      const forged = twilio.getExpectedTwilioSignature('not-the-auth-token', 'https://swan.example/webhooks/twilio/sms', fields);
      const denied = await h.inbound(fields, forged);
      expect(denied).toMatchObject({ status: 403, body: { success: false, error: { code: 'FORBIDDEN' } } });
      // signed for another URL, or fields changed after signing
      const otherUrl = twilio.getExpectedTwilioSignature('test_auth_token_0123456789abcdef', 'https://evil.example/webhooks/twilio/sms', fields);
      expect((await h.inbound(fields, otherUrl)).status).toBe(403);
      const signed = twilio.getExpectedTwilioSignature('test_auth_token_0123456789abcdef', 'https://swan.example/webhooks/twilio/sms', fields);
      expect((await h.inbound({ ...fields, Body: 'START' }, signed)).status).toBe(403);
      expect((await h.call('/webhooks/twilio/sms', { body: fields, rawBody: Buffer.from('x'), headers: {} })).status).toBe(403);
      expect(await h.checkins.isOptedOut(c.clientId)).toBe(false);

      const unknown = await h.inbound(inboundFields('+14155550000', 'hello'));
      expect(unknown).toMatchObject({ status: 200, body: '<?xml version="1.0" encoding="UTF-8"?><Response/>' });
      expect(await h.count('checkin_responses')).toBe(responses);
      expect(await h.count('swan_outbox')).toBe(events);
    });

    it('a signed reply whose text PostgreSQL can not store (NUL, unpaired surrogate, overlong) is 400 VALIDATION_FAILED; nothing stored', async () => {
      const c = await h.createClient(19);
      const responses = await h.count('checkin_responses');
      const events = await h.count('swan_outbox');
      for (const text of ['STOP\u0000', 'ok \ud800', 'x'.repeat(10_001)]) {
        const res = await h.inbound(inboundFields(c.phone!, text));
        expect(res).toMatchObject({ status: 400, body: { success: false, error: { code: 'VALIDATION_FAILED', details: { field: 'Body' } } } });
      }
      expect(await h.count('checkin_responses')).toBe(responses);
      expect(await h.count('swan_outbox')).toBe(events);
      expect(await h.checkins.isOptedOut(c.clientId)).toBe(false);
    });

    it('the sender lookup failing (database down) is 503 UNAVAILABLE, so Twilio retries; nothing stored', async () => {
      const c = await h.createClient(18);
      const down = createCheckins({
        db: h.t.db, events: h.outbox, from: '+15005550006', authToken: 'test_auth_token_0123456789abcdef', twilio: null,
        pii: { phoneFor: h.pii.phoneFor.bind(h.pii), findClientByPhone: () => Promise.reject(new Error('Connection terminated unexpectedly')) },
      });
      const before = await h.count('checkin_responses');
      await expect(down.receive(inboundFields(c.phone!, 'STOP'))).rejects.toMatchObject({ code: 'UNAVAILABLE', status: 503 });
      expect(await h.count('checkin_responses')).toBe(before);
      expect(await h.checkins.isOptedOut(c.clientId)).toBe(false);
    });

    it('HELP answers with help text; STOP answers with nothing (Twilio confirms it)', async () => {
      const c = await h.createClient(12);
      expect((await h.inbound(inboundFields(c.phone!, 'help'))).body).toContain('Reply STOP to unsubscribe');
      expect((await h.inbound(inboundFields(c.phone!, 'Unsubscribe'))).body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
      expect(await h.checkins.isOptedOut(c.clientId)).toBe(true);
    });
  });

  describe('POST /api/clients/:clientId/checkins', () => {
    const path = '/api/clients/:clientId/checkins';
    it('202 with the event id for an admin or the assigned trainer; 403/404 otherwise; 400 writes nothing', async () => {
      const c = await h.createClient(13);
      const body = { kind: 'evening', scheduledFor: '2030-01-15T02:00:00Z', timezone: LA };
      const res = await h.call(path, { actor: admin, params: { clientId: c.clientId }, body });
      expect(res).toMatchObject({ status: 202, body: { success: true } });
      const ev = (await h.outboxRows()).find((r) => r.event_id === res.body.eventId);
      expect(ev).toMatchObject({ event_type: 'evening_checkin_scheduled', status: 'pending', payload: { clientId: c.clientId, scheduledFor: '2030-01-15T02:00:00.000Z', timezone: LA } });

      const trainer = { id: randomUUID(), role: 'trainer' as const };
      expect((await h.call(path, { actor: trainer, params: { clientId: c.clientId }, body })).body.error.code).toBe('FORBIDDEN');
      await h.pii.assignTrainer(admin, trainer.id, c.clientId);
      expect((await h.call(path, { actor: trainer, params: { clientId: c.clientId }, body })).status).toBe(202);
      expect((await h.call(path, { actor: admin, params: { clientId: randomUUID() }, body })).status).toBe(404);

      const before = await h.count('swan_outbox');
      for (const bad of [{ ...body, kind: 'noon' }, { ...body, timezone: 'PST8PDT!' }, { ...body, scheduledFor: 42 }, [], null]) {
        expect(await h.call(path, { actor: admin, params: { clientId: c.clientId }, body: bad })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
      }
      expect((await h.call(path, { actor: admin, params: { clientId: 'nope' }, body })).status).toBe(400);
      expect(await h.count('swan_outbox')).toBe(before);
    });
  });

  it('no Twilio call ever happened while an HTTP request was being handled', () => {
    expect(h.fake.sent.length).toBeGreaterThan(5);
    expect(h.fake.duringRequest).toEqual([]);
  });
});
