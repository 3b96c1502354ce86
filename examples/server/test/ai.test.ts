import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { SEALED_PREFIX } from '@swan/core';
import { bootServer, mintToken, withFrozenRateLimits, type TestServer } from './helpers.js';

/** The AI-facing routes: rate limit, consent and (AI query) subscription guards, then one outbox event. */
describe.each(['express', 'fastify'])('AI routes on %s', (framework) => {
  let server: TestServer;
  let admin: string;
  let client: string;
  let clientId: string;
  let email: string;

  const post = async (path: string, token: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any, headers: res.headers };
  };

  beforeAll(async () => {
    server = await bootServer({ SWAN_FRAMEWORK: framework, RUN_WORKERS: 'false', STRIPE_PAYMENT_LINK_TIER_1: 'https://buy.stripe.com/test_one', STRIPE_PRICE_TIER_1: 'price_one' }, [], [], withFrozenRateLimits());
    admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '10m' });
    email = `dana-${randomUUID()}@example.org`;
    const created = await post('/api/clients', admin, {
      pii: { full_name: 'Dana Example', date_of_birth: '1984-02-29', email, emergency_contact: { name: 'Sam', relationship: 'partner', phone: '+14155550100' } },
      training: { gender: 'Female', height_inches: 66 },
    });
    expect(created.status).toBe(201);
    clientId = created.body.client.clientId;
    client = await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '10m' });
  });
  afterAll(() => server?.dispose());

  it("payment links carry the client's id and, read through audited PII access, the email", async () => {
    const res = await fetch(`${server.url}/api/billing/payment-links`, { headers: { authorization: `Bearer ${client}` } });
    const body = (await res.json()) as any;
    const url = new URL(body.tiers[0].url);
    expect(url.searchParams.get('client_reference_id')).toBe(clientId);
    expect(url.searchParams.get('prefilled_email')).toBe(email);
    const { rows } = await sql<{ reason: string; details: { note?: string } }>`select reason, details from swan_audit_log where resource_id = ${clientId} and action = 'PII_ACCESS'`.execute(server.ctx.db);
    // the purpose on record in plaintext, the note sealed under the client's key
    const prefill = rows.find((r) => r.reason === 'service_delivery' && r.details.note !== undefined);
    expect(prefill?.details.note).toMatch(new RegExp(`^${SEALED_PREFIX}`));
    expect(JSON.stringify(rows)).not.toContain('prefill Stripe checkout');
  });

  it('needs a client token', async () => {
    expect((await post('/api/ai-village/query', admin, { query: 'hi' })).status).toBe(403);
  });

  it('walks consent, subscription and the aiQuery limit, publishing one event per accepted query', async () => {
    const denied = await post('/api/ai-village/query', client, { query: 'How should I warm up?' });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('CONSENT_REQUIRED');
    expect(denied.headers.get('ratelimit-policy')).toBe('"aiQuery";q=10;w=60');
    expect(denied.headers.get('ratelimit')).toMatch(/^"aiQuery";r=9;t=\d+$/);

    const granted = await post('/api/consent/grant', client, { clientId, consentType: 'ai_processing', consentVersion: '3.0', consentGranted: true });
    expect(granted.status).toBe(200);
    const unpaid = await post('/api/ai-village/query', client, { query: 'How should I warm up?' });
    expect(unpaid.status).toBe(402);
    expect(unpaid.body.error.code).toBe('SUBSCRIPTION_REQUIRED');

    const now = new Date();
    const later = new Date(now.getTime() + 30 * 86400_000);
    await sql`insert into client_subscriptions (client_id, tier, status, stripe_subscription_id, stripe_customer_id, stripe_price_id,
                stripe_subscription_item_id, monthly_price_usd, billing_cycle_start, current_period_start, current_period_end, last_event_at, synced_at)
              values (${clientId}, 'tier_1', 'active', ${`sub_${framework}`}, 'cus_1', 'price_1', 'si_1', 50, ${now}, ${now}, ${later}, ${now}, ${now})`.execute(server.ctx.db);

    const invalid = await post('/api/ai-village/query', client, { query: '' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('VALIDATION_FAILED');

    const accepted = await post('/api/ai-village/query', client, { query: 'How should I warm up?' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ success: true, eventId: expect.any(String) });
    const { rows } = await sql<{ event_type: string; payload: Record<string, unknown> }>`
      select event_type, payload from swan_outbox where event_id = ${accepted.body.eventId}`.execute(server.ctx.db);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.event_type).toBe('ai_query_submitted');
    expect(JSON.stringify(rows[0]!.payload)).not.toMatch(/warm up|Dana/);

    // 4 requests so far were counted by the aiQuery policy (10/min): 6 more pass, the 11th is limited
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await post('/api/ai-village/query', client, { query: `q${i}` })).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 202, 429]);
    const limited = await post('/api/ai-village/query', client, { query: 'again' });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const { rows: count } = await sql<{ n: number }>`select count(*)::int as n from swan_outbox where event_type = 'ai_query_submitted'`.execute(server.ctx.db);
    expect(count[0]!.n).toBe(7);
  });

  it('photo uploads need photo_analysis consent and a storage key, no subscription', async () => {
    // a client without a subscription (API.md: consent and the photoUpload limit only)
    const created = await post('/api/clients', admin, {
      pii: { full_name: 'Robin Example', date_of_birth: '1990-05-01', email: `robin-${randomUUID()}@example.org`, emergency_contact: { name: 'Kim' } },
      training: {},
    });
    const clientId = created.body.client.clientId as string;
    const client = await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '10m' });
    const noConsent = await post('/api/photo-upload', client, { objectKey: 'uploads/front.jpg' });
    expect(noConsent.status).toBe(403);
    expect(noConsent.body.error.code).toBe('CONSENT_REQUIRED');
    await post('/api/consent/grant', client, { clientId, consentType: 'photo_analysis', consentVersion: '3.0', consentGranted: true });
    const bad = await post('/api/photo-upload', client, { objectKey: '../etc/passwd' });
    expect(bad.status).toBe(400);
    const ok = await post('/api/photo-upload', client, { objectKey: 'uploads/front.jpg' });
    expect(ok.status).toBe(202);
    expect(ok.headers.get('ratelimit-policy')).toBe('"photoUpload";q=5;w=60');
  });
});
