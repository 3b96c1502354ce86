import { sql, type Kysely, type Transaction } from 'kysely';
import { toErrorResponse, type EventPublisher, type SwanRequest } from '@swan/core';
import { migrations as piiMigrations } from '@swan/pii';
import { insertClientRow, type TestDatabase, type TestEngine } from '@swan/test-utils';
import { billingRoutes, createBilling, defineTiers, migrations as billingMigrations, type Billing, type BillingOptions } from '../src/index.js';
import { PRICES, sign, startFakeStripe, WEBHOOK_SECRET, type FakeStripe } from './fake-stripe.js';

export const TIERS = defineTiers({
  tier_1: { paymentLinkUrl: 'https://buy.stripe.com/test_tier1', priceId: PRICES.tier_1 },
  tier_2: { paymentLinkUrl: 'https://buy.stripe.com/test_tier2', priceId: PRICES.tier_2 },
  tier_3: { paymentLinkUrl: 'https://buy.stripe.com/test_tier3', priceId: PRICES.tier_3 },
});

/**
 * Outbox stand-in for tests: writes into `test_outbox` with the caller's transaction, so a rolled
 * back webhook leaves no event (the property the real outbox relies on).
 */
export const testPublisher: EventPublisher = {
  async publish(trx: Kysely<any> | Transaction<any>, event) {
    const r = await sql<{ id: string }>`insert into test_outbox (event_type, payload, idempotency_key)
      values (${event.eventType}, ${JSON.stringify(event.payload)}::jsonb, ${event.idempotencyKey ?? null})
      on conflict (idempotency_key) do update set event_type = excluded.event_type returning id::text`.execute(trx);
    return { eventId: r.rows[0]!.id };
  },
};

export interface Harness {
  t: TestDatabase;
  fake: FakeStripe;
  billing: Billing;
  clock: { now: Date };
  makeBilling(overrides?: Partial<BillingOptions>): Billing;
  createClient(): Promise<string>;
  /** POSTs a body to the webhook route's handler; returns the HTTP answer the adapters would send. */
  deliver(body: string, signature?: string | null, billing?: Billing): Promise<{ status: number; body: any }>;
  deliverEvent(event: unknown, billing?: Billing): Promise<{ status: number; body: any }>;
  counts(): Promise<{ events: number; subscriptions: number; outbox: number }>;
  outbox(): Promise<{ event_type: string; payload: any }[]>;
  close(): Promise<void>;
}

export async function startHarness(engine: TestEngine): Promise<Harness> {
  const t = await engine.create([piiMigrations, billingMigrations]);
  await sql`create table test_outbox (id bigserial primary key, event_type text not null, payload jsonb not null,
    idempotency_key text unique, created_at timestamptz not null default now())`.execute(t.admin);
  await sql`grant select, insert, update on test_outbox to swan_app`.execute(t.admin);
  await sql`grant usage on sequence test_outbox_id_seq to swan_app`.execute(t.admin);
  const fake = await startFakeStripe();
  const clock = { now: new Date() };
  const makeBilling = (overrides: Partial<BillingOptions> = {}) => createBilling({
    db: t.db, stripe: fake.client(), webhookSecret: WEBHOOK_SECRET, tiers: TIERS, events: testPublisher,
    portalReturnUrl: 'https://swan.example/pricing', now: () => clock.now, ...overrides,
  });
  const billing = makeBilling();
  const request = (body: string, signature: string | null): SwanRequest => ({
    method: 'POST', path: '/webhooks/stripe', url: 'http://localhost/webhooks/stripe', params: {}, query: {},
    headers: signature === null ? {} : { 'stripe-signature': signature, 'content-type': 'application/json' },
    body: undefined, rawBody: Buffer.from(body), actor: null, ip: '127.0.0.1',
  });
  const deliver: Harness['deliver'] = async (body, signature, b = billing) => {
    const route = billingRoutes(b).find((r) => r.path === '/webhooks/stripe')!;
    try {
      const res = await route.handler(request(body, signature === undefined ? sign(body) : signature));
      return { status: res.status, body: res.body };
    } catch (error) {
      const res = toErrorResponse(error);
      return { status: res.status, body: res.body };
    }
  };
  return {
    t, fake, billing, clock, makeBilling, deliver,
    deliverEvent: (event, b) => deliver(JSON.stringify(event, null, 2), undefined, b),
    createClient: () => insertClientRow(t.admin),
    async counts() {
      const r = await sql<{ events: number; subscriptions: number; outbox: number }>`select
        (select count(*)::int from stripe_events) as events,
        (select count(*)::int from client_subscriptions) as subscriptions,
        (select count(*)::int from test_outbox) as outbox`.execute(t.admin);
      return r.rows[0]!;
    },
    async outbox() {
      return (await sql<{ event_type: string; payload: any }>`select event_type, payload from test_outbox order by id`.execute(t.admin)).rows;
    },
    async close() {
      await fake.close();
      await t.close();
    },
  };
}
