/**
 * Every event the example server publishes is consumed (issue 24, "Every event consumed"): in a
 * steady-state run without NATS, after every kind of request, no event stays pending longer than
 * the workers' poll interval. Stripe, Twilio and the alert webhook are fakes at their HTTP
 * boundaries; everything else is the server as shipped (PGlite, in-process workers).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Outbox } from '@swan/outbox';
import { validPrompt } from '../../../packages/schema/test/fixtures.js';
import { events, newSubscription, PRICES, sign, startFakeStripe, WEBHOOK_SECRET, type FakeStripe } from '../../../packages/billing/test/fake-stripe.js';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, FROM, inboundFields, twilioSignature } from '../../../packages/checkins/test/fake-twilio.js';
import { INFORMATIONAL_EVENTS } from '../src/modules/outbox.js';
import { alertReceiver, eventually, serveFakeTwilio } from './fakes.js';
import { bootServer, mintToken, type TestServer } from './helpers.js';

const PUBLIC_URL = 'http://swan.test';
/** The in-process workers' poll interval on PGlite (modules/outbox.ts). */
const POLL_SECONDS = 0.25;

describe('every event is consumed (no NATS)', () => {
  const twilio = new FakeTwilio();
  let twilioApi: Awaited<ReturnType<typeof serveFakeTwilio>>;
  let stripe: FakeStripe;
  let hook: Awaited<ReturnType<typeof alertReceiver>>;
  let server: TestServer;
  let admin: string;
  let outbox: Outbox;

  beforeAll(async () => {
    [twilioApi, stripe, hook] = await Promise.all([serveFakeTwilio(twilio), startFakeStripe(), alertReceiver()]);
    server = await bootServer({
      PUBLIC_URL,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_FROM: FROM, TWILIO_API_BASE: twilioApi.url,
      STRIPE_SECRET_KEY: 'sk_test_example', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_BASE: stripe.url,
      ...Object.fromEntries((['tier_1', 'tier_2', 'tier_3'] as const).flatMap((t, i) => [[`STRIPE_PAYMENT_LINK_TIER_${i + 1}`, `https://buy.stripe.com/test_${t}`], [`STRIPE_PRICE_TIER_${i + 1}`, PRICES[t]]])),
      ALERT_WEBHOOK_URL: `${hook.url}/alerts`,
    }, [], []);
    admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '1h' });
    outbox = server.ctx.services.outbox as Outbox;
  }, 60_000);
  afterAll(async () => {
    await server?.dispose();
    await Promise.all([twilioApi?.close(), stripe?.close(), hook?.close()]);
  });

  const send = async (method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
  const stripeWebhook = (event: unknown) => {
    const body = JSON.stringify(event);
    return send('POST', '/webhooks/stripe', undefined, body, { 'stripe-signature': sign(body), 'content-type': 'application/json' });
  };
  const twilioWebhook = (fields: Record<string, string>) => fetch(`${server.url}/webhooks/twilio/sms`, {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(`${PUBLIC_URL}/webhooks/twilio/sms`, fields) },
  });
  const createClient = async (phone: string) => {
    const res = await send('POST', '/api/clients', admin, {
      pii: { full_name: 'Ada Lovelace', date_of_birth: '1985-12-10', email: `${randomUUID()}@example.com`, phone_number: phone, emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' } },
      training: { training_goals: ['mobility'] },
    });
    expect(res.status).toBe(201);
    const { clientId, alias } = res.body.client as { clientId: string; alias: string };
    return { clientId, alias, token: await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '1h' }) };
  };

  /** Due pending or leased events, by type. */
  const unfinished = async () => (await sql<{ event_type: string; n: number }>`
    select event_type, count(*)::int as n from swan_outbox
     where (status = 'pending' and scheduled_for <= now()) or status = 'processing' group by event_type`.execute(server.ctx.db)).rows;
  /** After a kind of request: the workers take every due event within the poll interval. */
  const steady = async (what: string) => {
    const left = await eventually(async () => ((await unfinished()).length === 0 ? [] : null), 10_000);
    expect(left ?? await unfinished(), `${what}: events nobody consumes`).toEqual([]);
    expect((await outbox.stats()).oldestPendingAgeSeconds, what).toBeLessThanOrEqual(POLL_SECONDS);
  };

  it('every kind of request: each event is handled, relayed-to-nowhere types completed by the sink, nothing left pending', async () => {
    const phone = '+14155552801';
    const client = await createClient(phone);
    await steady('create client');

    expect((await send('PUT', `/api/trainers/${randomUUID()}/clients/${client.clientId}`, admin)).status).toBe(200);
    expect((await send('POST', `/api/clients/${client.clientId}/master-prompt`, admin, validPrompt())).status).toBe(201);
    await steady('master prompt');

    for (const consentType of ['ai_processing', 'photo_analysis']) {
      expect((await send('POST', '/api/consent/grant', client.token, { clientId: client.clientId, consentType, consentVersion: '3.0', consentGranted: true })).status).toBe(200);
    }
    await steady('consent grant');

    // Stripe: a subscription (subscription_activated), then a failed payment (payment_failed → dunning SMS)
    const s = newSubscription('tier_1', Math.floor(Date.now() / 1000));
    stripe.subscriptions.set(s.id, s);
    expect((await stripeWebhook(events.checkoutCompleted(s, client.clientId, stripe.checkout(s, client.clientId), s.start))).status).toBe(200);
    await steady('subscription');
    s.status = 'past_due';
    expect((await stripeWebhook(events.invoice('payment_failed', s, s.start + 60))).status).toBe(200);
    await steady('payment failed');
    const dunning = twilio.sentTo(phone);
    expect(dunning).toHaveLength(1);
    expect(dunning[0]!.body).toContain(`https://invoice.stripe.com/i/acct_test_swan/test_${s.latestInvoice}`);
    expect(dunning[0]!.body).toContain(client.alias);
    expect(dunning[0]!.body).not.toContain('Ada');

    // AI query and photo upload (queued for the host's AI workers)
    expect((await send('POST', '/api/ai-village/query', client.token, { query: 'How should I warm up?' })).status).toBe(202);
    expect((await send('POST', '/api/photo-upload', client.token, { objectKey: `uploads/${client.clientId}/front.jpg` })).status).toBe(202);
    await steady('AI requests');

    // check-in SMS, then the client's reply (checkin_response_received)
    expect((await send('POST', `/api/clients/${client.clientId}/checkins`, admin, { kind: 'morning', scheduledFor: new Date().toISOString(), timezone: 'America/New_York' })).status).toBe(202);
    await steady('check-in');
    expect(twilio.sentTo(phone)).toHaveLength(2);
    expect((await twilioWebhook(inboundFields(phone, 'Energy 7, plan: run'))).status).toBe(200);
    await steady('check-in reply');

    // a frequent violator: photo uploads are 5 a minute, the alert comes at 10 rejections
    let rejected = 0;
    for (let i = 0; i < 16; i++) if ((await send('POST', '/api/photo-upload', client.token, { objectKey: 'uploads/again.jpg' })).status === 429) rejected += 1;
    expect(rejected).toBeGreaterThanOrEqual(10);
    await steady('rate-limit alert');
    const rateAlert = await eventually(() => hook.alerts.find((a) => a.kind === 'rate_limit_alert'));
    expect(rateAlert).toMatchObject({ kind: 'rate_limit_alert', details: { policy: 'photoUpload', violations: 10 }, service: 'swan-example-server', alertId: expect.any(String) });
    // the limiter's key: an actor id (IPs and phone numbers would be keyed pseudonyms), never PII
    expect(rateAlert!.details.key).toBe(`actor:${client.clientId}`);
    expect(JSON.stringify(rateAlert)).not.toMatch(/Ada|Lovelace|example\.com/);
    expect(server.logger.entries.some((e) => e.level === 'error' && /^ALERT: rate limit photoUpload/.test(String(e.msg)))).toBe(true);

    // a check-in Twilio refuses for good: dead-lettered, and the dead letter raises an alert
    const invalid = '+14155552899';
    const refused = await createClient(invalid);
    twilio.rejections.set(invalid, { status: 400, code: 21211, message: "The 'To' number is not a valid phone number." });
    const checkin = await send('POST', `/api/clients/${refused.clientId}/checkins`, admin, { kind: 'evening', scheduledFor: new Date().toISOString(), timezone: 'America/New_York' });
    expect(checkin.status).toBe(202);
    await steady('refused check-in');
    expect((await outbox.dead({ eventType: 'evening_checkin_scheduled' })).map((e) => e.eventId)).toEqual([checkin.body.eventId]);
    const watch = server.ctx.services.deadLetterWatch as { check(): Promise<number> };
    expect(await watch.check()).toBeGreaterThan(0);
    await watch.check(); // a second look raises nothing new
    await steady('dead-letter alert');
    const deadAlerts = await eventually(() => {
      const found = hook.alerts.filter((a) => a.kind === 'dead_letter');
      return found.length ? found : null;
    });
    expect(deadAlerts).toEqual([expect.objectContaining({ details: { eventId: checkin.body.eventId, eventType: 'evening_checkin_scheduled', attempts: 1 } })]);

    // consent withdrawn, subscription canceled, client erased
    expect((await send('POST', '/api/consent/revoke', admin, { clientId: client.clientId, consentType: 'photo_analysis', reason: 'client asked by phone' })).status).toBe(200);
    s.status = 'canceled';
    s.endedAt = s.periodEnd;
    expect((await stripeWebhook(events.subscription('deleted', s, s.start + 120))).status).toBe(200);
    expect((await send('POST', `/api/clients/${refused.clientId}/erase`, admin, { reason: 'right to erasure request' })).status).toBe(200);
    await steady('revoke, cancel, erase');

    // every type published went through a consumer; the informational ones through the sink
    const stats = await outbox.stats();
    // what is pending is the next occurrence of each nightly schedule, queued ahead, and nothing else
    const { rows: pending } = await sql<{ key: string | null }>`
      select idempotency_key as key from swan_outbox where status = 'pending'`.execute(server.ctx.db);
    expect(pending.filter((r) => !r.key?.startsWith('schedule:'))).toEqual([]);
    expect(stats.byStatus.pending).toBe(pending.length);
    expect(stats.byStatus.processing).toBe(0);
    const published = Object.keys(stats.byType).sort();
    for (const type of ['consent_granted', 'consent_revoked', 'master_prompt_stored', 'subscription_activated', 'subscription_canceled', 'payment_failed',
      'checkin_response_received', 'client_erased', 'rate_limit_alert', 'morning_checkin_scheduled', 'evening_checkin_scheduled',
      'ai_query_submitted', 'photo_analysis_requested', 'ops_alert']) expect(published).toContain(type);
    const scheduledTypes = new Set(((server.ctx.services.outboxSchedules ?? []) as Array<{ eventType: string }>).map((sch) => sch.eventType));
    for (const type of published.filter((t) => !scheduledTypes.has(t))) {
      // the refused check-in is the one dead letter; everything else completed (the schedules' next occurrences aside)
      expect(stats.byType[type], type).toEqual(type === 'evening_checkin_scheduled' ? { dead: 1 } : { completed: expect.any(Number) });
    }
    const sunk = server.logger.entries.filter((e) => /built-in sink/.test(String(e.msg))).map((e) => e.eventType);
    for (const type of INFORMATIONAL_EVENTS.filter((t) => t !== 'client_erased')) expect(sunk).toContain(type);
  }, 180_000);

  it('an unreachable alert webhook delays the alert without losing it', async () => {
    const before = hook.alerts.length;
    hook.status = 503;
    const raise = server.ctx.alert!;
    await raise({ kind: 'test_alert', summary: 'webhook outage drill', details: { drill: 1 } });
    const attempt = async () => (await sql<{ status: string; attempts: number; last_error: string | null }>`
      select status, attempts, last_error from swan_outbox where event_type = 'ops_alert' and payload->>'kind' = 'test_alert'`.execute(server.ctx.db)).rows[0];
    // refused with 503: back to pending without counting an attempt
    const failed = await eventually(async () => ((await attempt())?.last_error ? attempt() : null));
    expect(failed).toMatchObject({ status: 'pending', attempts: 0, last_error: expect.stringContaining('503') });
    hook.status = 204;
    await sql`update swan_outbox set scheduled_for = now() where event_type = 'ops_alert' and status = 'pending'`.execute(server.ctx.db);
    const delivered = await eventually(() => hook.alerts.slice(before).find((a) => a.kind === 'test_alert'));
    expect(delivered).toMatchObject({ summary: 'webhook outage drill', details: { drill: 1 } });
  }, 60_000);
});
