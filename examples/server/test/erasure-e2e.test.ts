/**
 * Erasure end to end through the example server (every module, in-process outbox workers), with
 * the real `stripe` and `twilio` SDKs talking to fakes at their HTTP boundaries (STRIPE_API_BASE,
 * TWILIO_API_BASE). On PGlite always, on PostgreSQL with DATABASE_URL (there also `pg_dump
 * --data-only`). A client with consents (known IP, through TRUST_PROXY and X-Forwarded-For, and
 * user agent), a subscription created by webhooks, check-in replies and an opt-out, PII reads with
 * notes, a lookup, a restriction and its lifting, and a consent revocation with reasons is erased;
 * then: Stripe received the subscription cancellation and the customer deletion; no reply or
 * opt-out row remains; the local subscription row keeps bookkeeping columns and no Stripe customer
 * id; the audit chain verifies; a later webhook for the erased customer writes nothing; and no
 * table holds the client's name, email, phone, IP address, user agent, reply texts, notes or
 * reasons. Before the erasure the only plaintext of them is the reply text (until the erasure
 * deletes it): notes, reasons and consent proof are sealed under the client's data key.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '@swan/core';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { events, newSubscription, PRICES, sign, startFakeStripe, WEBHOOK_SECRET, type FakeStripe } from '../../../packages/billing/test/fake-stripe.js';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, FROM, inboundFields, twilioSignature } from '../../../packages/checkins/test/fake-twilio.js';
import { bootServer, mintToken, type TestServer } from './helpers.js';
import { serveFakeTwilio } from './fakes.js';

const PUBLIC_URL = 'http://swan.test';
const USER_AGENT = `ErasureProbe/7.3 (consent proof; e2e ${randomBytes(4).toString('hex')})`;
const IP = `198.51.100.${1 + Math.floor(Math.random() * 250)}`;

/**
 * Every row of every table in `public`, as text, read as the database owner (row-level security
 * does not apply to it); without `except`'s tables.
 */
async function everyTableAsText(owner: Kysely<any>, except: string[] = []): Promise<string> {
  const { rows: tables } = await sql<{ name: string }>`
    select tablename as name from pg_tables where schemaname = 'public' and tablename <> all(${except}::text[]) order by tablename`.execute(owner);
  expect(tables.length).toBeGreaterThan(10);
  const parts: string[] = [];
  for (const { name } of tables) {
    const { rows } = await sql<{ t: string | null }>`select string_agg(x::text, E'\n') as t from ${sql.table(name)} x`.execute(owner);
    parts.push(`-- ${name}\n${rows[0]!.t ?? ''}`);
  }
  return parts.join('\n');
}

describe.each(testEngines())('erasure end to end on $name', (engine) => {
  let stripe: FakeStripe;
  const twilio = new FakeTwilio();
  let twilioApi: Awaited<ReturnType<typeof serveFakeTwilio>>;
  let t: TestDatabase | undefined;
  let owner: Kysely<any>;
  let server: TestServer;
  let admin: string;
  const suffix = randomBytes(4).toString('hex');
  const person = {
    fullName: `Zebulon Quartermaine ${suffix}`,
    preferredName: `Zebby${suffix}`,
    email: `zebulon.q.${suffix}@example.org`,
    phone: `+1415555${String(3000 + Math.floor(Math.random() * 6000)).padStart(4, '0')}`,
  };
  const replies = [`Knee hurts after squats ${suffix}`, 'STOP'];
  const marker = `Sealed${randomBytes(5).toString('hex')}`;
  const texts = {
    notes: [`weekly session planning ${marker}-n1`, `billing support ticket ${marker}-n2`],
    restriction: `accuracy contested ${marker}-r1`,
    lift: `accuracy verified ${marker}-r2`,
    revocation: `no more photos ${marker}-c1`,
    erasure: `GDPR art. 17 request ${marker}-e1`,
  };

  beforeAll(async () => {
    stripe = await startFakeStripe();
    twilioApi = await serveFakeTwilio(twilio);
    const env: Record<string, string> = {
      STRIPE_SECRET_KEY: 'sk_test_erasure', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_BASE: stripe.url,
      STRIPE_PAYMENT_LINK_TIER_2: 'https://buy.stripe.com/test_two', STRIPE_PRICE_TIER_2: PRICES.tier_2,
      STRIPE_PAYMENT_LINK_TIER_1: 'https://buy.stripe.com/test_one', STRIPE_PRICE_TIER_1: PRICES.tier_1,
      STRIPE_PAYMENT_LINK_TIER_3: 'https://buy.stripe.com/test_three', STRIPE_PRICE_TIER_3: PRICES.tier_3,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_FROM: FROM, TWILIO_API_BASE: twilioApi.url,
      PUBLIC_URL, TRUST_PROXY: 'loopback',
    };
    if (engine.name === 'postgres') {
      t = await engine.create([]);
      env.DATABASE_URL = t.adminUrl!;
    }
    server = await bootServer(env, [], []);
    // PGlite: the server's one session, a superuser outside withActor; PostgreSQL: the owner
    owner = t ? createDatabase({ url: t.adminUrl!, poolSize: 1 }) : server.ctx.db;
    admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '1h' });
  }, 90_000);
  afterAll(async () => {
    await server?.dispose();
    if (t) await owner?.destroy();
    await t?.close();
    await stripe?.close();
    await twilioApi?.close();
  });

  const call = async (method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
  const stripeWebhook = (event: unknown) => {
    const body = JSON.stringify(event);
    return call('POST', '/webhooks/stripe', null, body, { 'stripe-signature': sign(body) });
  };
  const smsWebhook = async (fields: Record<string, string>) => {
    const res = await fetch(`${server.url}/webhooks/twilio/sms`, {
      method: 'POST', body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(`${PUBLIC_URL}/webhooks/twilio/sms`, fields) },
    });
    return res.status;
  };
  const count = async (table: string, clientId: string) =>
    (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)} where client_id = ${clientId}::uuid`.execute(owner)).rows[0]!.n;
  const until = async (what: string, check: () => Promise<boolean>, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** The event types the in-process workers handle (the others wait for a worker elsewhere). */
  const handled = () => Object.keys(server.ctx.services.outboxHandlers as Record<string, unknown>);
  /** Outbox drained (the next occurrences of the nightly schedules aside) and the audit chain caught up: nothing in the background writes any more. */
  const quiet = () => until('a quiet database', async () => {
    const { rows } = await sql<{ busy: number }>`select
        (select count(*)::int from swan_outbox where status in ('pending', 'processing') and event_type = any(${handled()}::text[])
           and coalesce(idempotency_key, '') not like 'schedule:%')
      + (select count(*)::int from swan_audit_log l where not exists (select 1 from swan_audit_chain c where c.entry_id = l.id)) as busy`.execute(owner);
    return rows[0]!.busy === 0;
  });

  it('reaches Stripe, check-ins and every table; later webhooks write nothing; the audit chain verifies', async () => {
    // --- a client with everything
    const created = await call('POST', '/api/clients', admin, {
      pii: {
        full_name: person.fullName, preferred_name: person.preferredName, date_of_birth: '1988-02-29', email: person.email,
        phone_number: person.phone, emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' },
      },
      training: { training_goals: ['mobility'] },
    });
    expect(created.status).toBe(201);
    const clientId = created.body.client.clientId as string;
    const client = await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '1h' });

    for (const consentType of ['data_collection', 'ai_processing', 'photo_analysis']) {
      const granted = await call('POST', '/api/consent/grant', client, { clientId, consentType, consentVersion: '3.0', consentGranted: true }, { 'user-agent': USER_AGENT, 'x-forwarded-for': IP });
      expect(granted.status).toBe(200);
    }
    expect((await call('POST', '/api/consent/revoke', client, { clientId, consentType: 'photo_analysis', reason: texts.revocation })).status).toBe(200);
    // the proof reads back opened while the client's key exists
    const ledger = await call('GET', `/api/consent/${clientId}`, client);
    expect(ledger.body.consents.find((c: { consentType: string }) => c.consentType === 'ai_processing')).toMatchObject({ ipAddress: IP, userAgent: USER_AGENT });
    expect(ledger.body.consents.find((c: { consentType: string }) => c.consentType === 'photo_analysis')).toMatchObject({ revokedReason: texts.revocation });
    expect((await call('POST', `/api/clients/${clientId}/restrict`, admin, { reason: texts.restriction })).status).toBe(200);
    expect((await call('POST', `/api/clients/${clientId}/unrestrict`, admin, { reason: texts.lift })).status).toBe(200);

    const sub = newSubscription('tier_2', Math.floor(Date.now() / 1000) - 3600);
    stripe.subscriptions.set(sub.id, sub);
    expect((await stripeWebhook(events.checkoutCompleted(sub, clientId, stripe.checkout(sub, clientId), sub.start))).body)
      .toEqual({ success: true, received: true, outcome: 'applied' });
    expect((await stripeWebhook(events.subscription('created', sub, sub.start + 1))).body.outcome).toMatch(/^(applied|stale)$/);

    for (const text of replies) expect(await smsWebhook(inboundFields(person.phone, text))).toBe(200);
    expect(await count('checkin_responses', clientId)).toBe(2);
    expect(await count('checkin_contacts', clientId)).toBe(1);

    const [first, second] = texts.notes as [string, string];
    for (const query of [`purpose=session_planning&note=${encodeURIComponent(first)}`, `purpose=billing_support&reason=${encodeURIComponent(second)}`]) {
      const read = await call('GET', `/api/clients/${clientId}/pii?${query}`, admin);
      expect(read.status).toBe(200);
      expect(read.body.pii.full_name).toBe(person.fullName);
    }
    // the client's own export shows the purposes and the notes, opened
    const exported = await call('GET', `/api/clients/${clientId}/export`, client);
    expect(exported.body.export.accessLog.filter((e: { action: string }) => e.action === 'PII_ACCESS').map((e: { reason: string; note: string }) => [e.reason, e.note]))
      .toEqual([['session_planning', first], ['billing_support', second]]);
    expect(exported.body.export.restrictions).toMatchObject([{ reason: texts.restriction, liftReason: texts.lift }]);
    await quiet();

    // the search below can fail: before erasure the reply text is in the database in plaintext
    const needles: Array<[string, string]> = [
      ['full name', person.fullName], ['preferred name', person.preferredName], ['email', person.email],
      ['email local part', person.email.split('@')[0]!], ['phone', person.phone], ['phone digits', person.phone.slice(2)],
      ['reply', replies[0]!], ['IP address', IP], ['user agent', USER_AGENT], ['notes and reasons', marker],
    ];
    const found = (text: string) => needles.filter(([, v]) => text.toLowerCase().includes(v.toLowerCase())).map(([w]) => w);
    expect(found(await everyTableAsText(owner))).toEqual(['reply']);

    // --- erasure
    const calls = stripe.calls.length;
    const erased = await call('POST', `/api/clients/${clientId}/erase`, admin, { reason: texts.erasure });
    expect(erased.status).toBe(200);
    // in the erasure's own transaction, before any worker
    expect(await count('checkin_responses', clientId)).toBe(0);
    expect(await count('checkin_contacts', clientId)).toBe(0);

    // through the outbox: the subscription canceled at once and the customer deleted at Stripe
    const subscriptionRow = async () => (await sql<Record<string, any>>`
      select * from client_subscriptions where stripe_subscription_id = ${sub.id}`.execute(owner)).rows[0]!;
    await until('the Stripe customer id to go', async () => (await subscriptionRow()).stripe_customer_id === null);
    expect(stripe.calls.slice(calls)).toEqual([`DELETE /v1/subscriptions/${sub.id}`, `DELETE /v1/customers/${sub.customer}`]);
    expect(stripe.subscriptions.get(sub.id)!.status).toBe('canceled');
    expect(stripe.deletedCustomers.has(sub.customer)).toBe(true);
    expect(await subscriptionRow()).toMatchObject({
      client_id: clientId, tier: 'tier_2', status: 'canceled', monthly_price_usd: '125.00', stripe_price_id: PRICES.tier_2,
      stripe_customer_id: null, stripe_subscription_item_id: null, current_period_end: expect.any(Date), canceled_at: expect.any(Date),
    });
    await quiet();

    const verify = await call('GET', '/api/audit/verify', admin);
    expect(verify).toMatchObject({ status: 200, body: { success: true, valid: true } });
    expect(verify.body.entries).toBeGreaterThan(0);

    // --- a webhook for the erased customer afterwards: acknowledged, nothing written anywhere
    // the chainer's bookkeeping (swan_audit_head's transaction-id horizon) may move on its own
    const written = () => everyTableAsText(owner, ['swan_audit_head']);
    const before = await written();
    const stripeCalls = stripe.calls.length;
    const late = { ...stripe.subscriptions.get(sub.id)!, tier: 'tier_3' as const };
    stripe.subscriptions.set(sub.id, late);
    for (const event of [events.subscription('deleted', late, Math.floor(Date.now() / 1000)), events.invoice('paid', late, Math.floor(Date.now() / 1000) + 1)]) {
      expect((await stripeWebhook(event)).body).toEqual({ success: true, received: true, outcome: 'ignored' });
    }
    await new Promise((r) => setTimeout(r, 400));
    await quiet();
    expect(await written()).toBe(before);
    expect(stripe.calls.length).toBe(stripeCalls);

    // --- none of the client's name, email, phone or reply texts anywhere in the database
    expect(found(before)).toEqual([]);
    if (t) {
      const { stdout } = await promisify(execFile)('pg_dump', ['--data-only', '--no-owner', t.adminUrl!], { maxBuffer: 256 * 1024 * 1024 });
      expect(stdout).toContain('client_subscriptions');
      expect(found(stdout)).toEqual([]);
    }
  }, 120_000);
});
