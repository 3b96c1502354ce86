import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { withActor, type SwanRequest } from '@swan/core';
import { testEngines } from '@swan/test-utils';
import { createStripeClient, STRIPE_API_VERSION } from '../src/index.js';
import { events, newSubscription, sign, startFakeStripe, WEBHOOK_SECRET, type SubState } from './fake-stripe.js';
import { startHarness, type Harness } from './harness.js';

const DAY = 86_400;
const guardRequest = (clientId: string): SwanRequest => ({
  method: 'POST', path: '/api/ai-village/query', url: 'http://localhost/api/ai-village/query', params: {}, query: {},
  headers: {}, body: {}, actor: { id: clientId, role: 'client' }, ip: '127.0.0.1',
});
const noHeaders = { setHeader() {} };

/** What `requireTier(tier)` answers for the client: 'ok' or the error code. */
async function guard(h: Harness, clientId: string, tier: 'tier_1' | 'tier_2' | 'tier_3'): Promise<string> {
  try {
    await h.billing.requireTier(tier)(guardRequest(clientId), noHeaders);
    return 'ok';
  } catch (error) {
    return (error as { code: string }).code;
  }
}

async function rowOf(h: Harness, subscriptionId: string) {
  return h.t.admin.selectFrom('client_subscriptions').selectAll().where('stripe_subscription_id', '=', subscriptionId).executeTakeFirst();
}

/** The lifecycle of one subscription: each step changes Stripe's state, then emits events. */
function lifecycle(clientId: string, sessionId: (s: SubState) => string, t0: number) {
  const s = newSubscription('tier_1', t0, 7);
  const steps: Array<{ name: string; change: () => void; events: () => unknown[] }> = [
    { name: 'subscribe', change: () => {}, events: () => [events.checkoutCompleted(s, clientId, sessionId(s), t0 + 1), events.subscription('created', s, t0)] },
    { name: 'upgrade', change: () => { s.tier = 'tier_2'; }, events: () => [events.subscription('updated', s, t0 + 2 * DAY)] },
    {
      name: 'trial ends, payment fails',
      change: () => { s.status = 'past_due'; s.periodStart = s.trialEnd!; s.periodEnd = s.trialEnd! + 30 * DAY; },
      events: () => [events.subscription('updated', s, t0 + 7 * DAY), events.invoice('payment_failed', s, t0 + 7 * DAY + 1)],
    },
    { name: 'paid', change: () => { s.status = 'active'; }, events: () => [events.invoice('paid', s, t0 + 8 * DAY), events.subscription('updated', s, t0 + 8 * DAY + 1)] },
    { name: 'cancel at period end', change: () => { s.cancelAtPeriodEnd = true; s.canceledAt = t0 + 9 * DAY; }, events: () => [events.subscription('updated', s, t0 + 9 * DAY)] },
    { name: 'deleted', change: () => { s.status = 'canceled'; s.endedAt = s.periodEnd; }, events: () => [events.subscription('deleted', s, s.periodEnd)] },
  ];
  return { s, steps };
}

const comparable = (row: Record<string, unknown> | undefined) => {
  if (!row) return row;
  const { id: _id, client_id: _c, stripe_subscription_id: _s, stripe_customer_id: _cu, stripe_subscription_item_id: _i,
    synced_at: _sy, updated_at: _u, created_at: _cr, past_due_since: _p, ...rest } = row;
  return rest;
};

describe.each(testEngines())('billing webhooks on $name', (engine) => {
  let h: Harness;
  beforeAll(async () => { h = await startHarness(engine); });
  afterAll(() => h?.close());

  it('end to end: subscribe, upgrade, payment failed, paid, cancel at period end, deleted', async () => {
    const clientId = await h.createClient();
    const t0 = Math.floor(Date.now() / 1000) - 20 * DAY;
    const { s, steps } = lifecycle(clientId, (sub) => h.fake.checkout(sub, clientId), t0);
    h.fake.subscriptions.set(s.id, s);
    expect(await guard(h, clientId, 'tier_1')).toBe('SUBSCRIPTION_REQUIRED');

    const expected = [
      { status: 'trialing', tier: 'tier_1', t1: 'ok', t2: 'SUBSCRIPTION_REQUIRED', cancel: false, outbox: ['subscription_activated'] },
      { status: 'trialing', tier: 'tier_2', t1: 'ok', t2: 'ok', cancel: false, outbox: [] },
      { status: 'past_due', tier: 'tier_2', t1: 'ok', t2: 'ok', cancel: false, outbox: ['payment_failed'] },
      { status: 'active', tier: 'tier_2', t1: 'ok', t2: 'ok', cancel: false, outbox: [] },
      { status: 'active', tier: 'tier_2', t1: 'ok', t2: 'ok', cancel: true, outbox: [] },
      { status: 'canceled', tier: 'tier_2', t1: 'SUBSCRIPTION_REQUIRED', t2: 'SUBSCRIPTION_REQUIRED', cancel: true, outbox: ['subscription_canceled'] },
    ];
    for (const [i, step] of steps.entries()) {
      const before = (await h.outbox()).length;
      step.change();
      for (const event of step.events()) {
        const res = await h.deliverEvent(event);
        expect(res, step.name).toMatchObject({ status: 200, body: { success: true, received: true } });
      }
      const want = expected[i]!;
      const row = await rowOf(h, s.id);
      expect(row, step.name).toMatchObject({ client_id: clientId, status: want.status, tier: want.tier, cancel_at_period_end: want.cancel });
      expect(row!.stripe_price_id).toBe(want.tier === 'tier_1' ? 'price_swan_t1' : 'price_swan_t2');
      expect(await guard(h, clientId, 'tier_1'), step.name).toBe(want.t1);
      expect(await guard(h, clientId, 'tier_2'), step.name).toBe(want.t2);
      expect(await guard(h, clientId, 'tier_3'), step.name).toBe('SUBSCRIPTION_REQUIRED');
      const published = (await h.outbox()).slice(before);
      expect(published.map((e) => e.event_type), step.name).toEqual(want.outbox);
      for (const e of published) {
        const base = { clientId, status: want.status, subscriptionId: row!.id, tier: want.tier };
        // a dunning message can refer to the invoice that failed
        expect(e.payload, e.event_type).toEqual(e.event_type === 'payment_failed'
          ? { ...base, invoiceId: s.latestInvoice, hostedInvoiceUrl: `https://invoice.stripe.com/i/acct_test_swan/test_${s.latestInvoice}` }
          : base);
      }
    }
    const row = (await rowOf(h, s.id))!;
    // trial and periods are Stripe's, read from the subscription item
    expect(row.trial_start!.getTime()).toBe(t0 * 1000);
    expect(row.trial_end!.getTime()).toBe((t0 + 7 * DAY) * 1000);
    expect(row.current_period_start.getTime()).toBe((t0 + 7 * DAY) * 1000);
    expect(row.current_period_end.getTime()).toBe((t0 + 37 * DAY) * 1000);
    expect(row.monthly_price_usd).toBe('125.00');
    expect(row.last_event_at.getTime()).toBe(s.periodEnd * 1000);
  });

  it('the same sequence shuffled, every event twice, interleaved with changes, ends in the same state', async () => {
    const t0 = Math.floor(Date.now() / 1000) - 20 * DAY;
    const refClient = await h.createClient();
    const ref = lifecycle(refClient, (sub) => h.fake.checkout(sub, refClient), t0);
    h.fake.subscriptions.set(ref.s.id, ref.s);
    for (const step of ref.steps) { step.change(); for (const e of step.events()) await h.deliverEvent(e); }

    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const shuffle = <T>(xs: T[]) => xs.map((x) => [random(), x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
    for (let round = 0; round < 3; round++) {
      const clientId = await h.createClient();
      const run = lifecycle(clientId, (sub) => h.fake.checkout(sub, clientId), t0);
      h.fake.subscriptions.set(run.s.id, run.s);
      let pending: unknown[] = [];
      for (const step of run.steps) {
        step.change();
        pending.push(...step.events());
        // deliver a random part of what is pending now, twice each, in random order
        const now = shuffle(pending).slice(0, Math.floor(random() * pending.length));
        for (const e of shuffle([...now, ...now])) expect((await h.deliverEvent(e)).status).toBe(200);
        pending = pending.filter((e) => !now.includes(e));
      }
      const all = shuffle([...pending, ...pending]);
      for (const e of all) expect((await h.deliverEvent(e)).status).toBe(200);
      expect(comparable(await rowOf(h, run.s.id))).toEqual(comparable(await rowOf(h, ref.s.id)));
      expect(await guard(h, clientId, 'tier_1')).toBe('SUBSCRIPTION_REQUIRED');
    }
  });

  it('never lets a slow, older snapshot overwrite a newer one', async () => {
    const clientId = await h.createClient();
    const s = newSubscription('tier_1', Math.floor(Date.now() / 1000));
    h.fake.subscriptions.set(s.id, s);
    await h.deliverEvent(events.checkoutCompleted(s, clientId, h.fake.checkout(s, clientId), s.start));
    const release = h.fake.holdNext();
    const callsBefore = h.fake.calls.length;
    const slow = h.deliverEvent(events.subscription('updated', s, s.start + 1)); // fetches tier_1, answer held
    await expect.poll(() => h.fake.calls.length).toBeGreaterThan(callsBefore); // its fetch is held now
    s.tier = 'tier_3';
    expect((await h.deliverEvent(events.subscription('updated', s, s.start + 2))).body.outcome).toBe('applied');
    release();
    expect((await slow).body).toMatchObject({ success: true, outcome: 'stale' });
    expect(await rowOf(h, s.id)).toMatchObject({ tier: 'tier_3', last_event_at: new Date((s.start + 2) * 1000) });
    expect(await guard(h, clientId, 'tier_3')).toBe('ok');
  });

  describe('rejected or ignored deliveries write nothing', () => {
    let body: string;
    beforeAll(async () => {
      const clientId = await h.createClient();
      const s = newSubscription('tier_2', Math.floor(Date.now() / 1000));
      h.fake.subscriptions.set(s.id, s);
      body = JSON.stringify(events.checkoutCompleted(s, clientId, h.fake.checkout(s, clientId), s.start), null, 2);
    });
    const cases: Array<[string, () => [string, string | null]]> = [
      ['forged signature (other secret)', () => [body, sign(body, { secret: 'whsec_attacker' })]],
      ['stale signature (10 minutes old)', () => [body, sign(body, { timestamp: Math.floor(Date.now() / 1000) - 600 })]],
      ['missing signature', () => [body, null]],
      ['garbage signature', () => [body, 't=1,v1=deadbeef']],
      ['body re-serialized by a JSON parser', () => [JSON.stringify(JSON.parse(body)), sign(body)]],
      ['tampered body', () => [body.replace('tier_2', 'tier_3'), sign(body)]],
      ['empty body', () => ['', sign('')]],
    ];
    it.each(cases)('%s → 400 WEBHOOK_SIGNATURE_INVALID', async (_name, make) => {
      const before = await h.counts();
      const calls = h.fake.calls.length;
      const [payload, signature] = make();
      const res = await h.deliver(payload, signature);
      expect(res).toEqual({ status: 400, body: { success: false, error: { code: 'WEBHOOK_SIGNATURE_INVALID', message: expect.any(String) } } });
      expect(JSON.stringify(res.body)).not.toContain(WEBHOOK_SECRET);
      expect(await h.counts()).toEqual(before);
      expect(h.fake.calls.length).toBe(calls);
    });

    it('a correctly signed body that is not JSON → 400 INVALID_JSON', async () => {
      const before = await h.counts();
      const res = await h.deliver('not json at all', sign('not json at all'));
      expect(res).toEqual({ status: 400, body: { success: false, error: { code: 'INVALID_JSON', message: expect.any(String) } } });
      expect(await h.counts()).toEqual(before);
    });

    it('unknown event types → 200 acknowledged, nothing written, Stripe not called', async () => {
      const before = await h.counts();
      const calls = h.fake.calls.length;
      for (const type of ['customer.created', 'payment_intent.succeeded', 'invoice.upcoming']) {
        const res = await h.deliverEvent({ ...JSON.parse(body), type });
        expect(res).toEqual({ status: 200, body: { success: true, received: true, outcome: 'unhandled' } });
      }
      expect(await h.counts()).toEqual(before);
      expect(h.fake.calls.length).toBe(calls);
    });

    it('Stripe unavailable → 503, nothing written; the redelivery applies', async () => {
      const before = await h.counts();
      h.fake.failNext(5);
      const res = await h.deliver(body);
      expect(res).toMatchObject({ status: 503, body: { error: { code: 'UNAVAILABLE' } } });
      expect(await h.counts()).toEqual(before);
      h.fake.failNext(0);
      expect((await h.deliver(body)).body.outcome).toBe('applied');
    });

    it('a client_reference_id of no known client is acknowledged and ignored (no row)', async () => {
      const s = newSubscription('tier_1', Math.floor(Date.now() / 1000));
      h.fake.subscriptions.set(s.id, s);
      const ghost = '00000000-0000-4000-8000-000000000000';
      const res = await h.deliverEvent(events.checkoutCompleted(s, ghost, h.fake.checkout(s, ghost), s.start));
      expect(res.body.outcome).toBe('ignored');
      expect(await rowOf(h, s.id)).toBeUndefined();
    });
  });

  it('20 concurrent deliveries of one event (two app instances) are processed once', async () => {
    const clientId = await h.createClient();
    const s = newSubscription('tier_3', Math.floor(Date.now() / 1000), 7);
    h.fake.subscriptions.set(s.id, s);
    const event = events.subscription('created', s, s.start);
    h.fake.checkout(s, clientId);
    const outboxBefore = (await h.outbox()).length;
    const instances = [h.makeBilling(), h.makeBilling({ db: h.t.connectApp(10) })];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => h.deliverEvent(event, instances[i % 2])));
    const outcomes = results.map((r) => r.body.outcome);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(19);
    const recorded = await sql<{ n: number }>`select count(*)::int as n from stripe_events where event_id = ${(event as { id: string }).id}`.execute(h.t.admin);
    expect(recorded.rows[0]!.n).toBe(1);
    expect((await h.outbox()).slice(outboxBefore).map((e) => e.event_type)).toEqual(['subscription_activated']);
    expect(await guard(h, clientId, 'tier_3')).toBe('ok');
  });

  it('two different first events of a new subscription racing (checkout + created): one row, one activation', async () => {
    const clientId = await h.createClient();
    const t = Math.floor(Date.now() / 1000);
    const s = newSubscription('tier_2', t, 7);
    h.fake.subscriptions.set(s.id, s);
    const outboxBefore = (await h.outbox()).length;
    const other = h.makeBilling({ db: h.t.connectApp(2) });
    // the checkout's fetch is held until the created event has inserted the row: its insert then
    // conflicts, rolls back, and the decision is taken again on the stored row
    const release = h.fake.holdNext();
    const callsBefore = h.fake.calls.length;
    const checkout = h.deliverEvent(events.checkoutCompleted(s, clientId, h.fake.checkout(s, clientId), t));
    await expect.poll(() => h.fake.calls.length).toBeGreaterThan(callsBefore); // its fetch is held now
    expect((await h.deliverEvent(events.subscription('created', s, t), other)).body.outcome).toBe('applied');
    release();
    expect(['applied', 'stale']).toContain((await checkout).body.outcome);
    const rows = await h.t.admin.selectFrom('client_subscriptions').select(['client_id', 'tier']).where('stripe_subscription_id', '=', s.id).execute();
    expect(rows).toEqual([{ client_id: clientId, tier: 'tier_2' }]);
    expect((await h.outbox()).slice(outboxBefore).map((e) => e.event_type)).toEqual(['subscription_activated']);
  });

  it('past_due keeps the tier within the grace period only', async () => {
    const clientId = await h.createClient();
    const s = newSubscription('tier_2', Math.floor(Date.now() / 1000));
    h.fake.subscriptions.set(s.id, s);
    h.fake.checkout(s, clientId);
    s.status = 'past_due';
    await h.deliverEvent(events.invoice('payment_failed', s, s.start));
    expect(await h.billing.getActiveTier(clientId)).toBe('tier_2');
    const saved = h.clock.now;
    try {
      h.clock.now = new Date(saved.getTime() + 2 * DAY * 1000);
      expect(await guard(h, clientId, 'tier_2')).toBe('ok');
      h.clock.now = new Date(saved.getTime() + 4 * DAY * 1000);
      expect(await guard(h, clientId, 'tier_1')).toBe('SUBSCRIPTION_REQUIRED');
      // unpaid never counts
      s.status = 'unpaid';
      h.clock.now = saved;
      await h.deliverEvent(events.subscription('updated', s, s.start + 10));
      expect(await h.billing.getActiveTier(clientId)).toBeNull();
    } finally {
      h.clock.now = saved;
    }
  });

  it('clients read only their own subscriptions; ai_service reads nothing', async () => {
    const [a, b] = [await h.createClient(), await h.createClient()];
    for (const clientId of [a, b]) {
      const s = newSubscription('tier_1', Math.floor(Date.now() / 1000));
      h.fake.subscriptions.set(s.id, s);
      await h.deliverEvent(events.checkoutCompleted(s, clientId, h.fake.checkout(s, clientId), s.start));
    }
    const seen = await withActor(h.t.db, { id: a, role: 'client' }, (trx) => trx.selectFrom('client_subscriptions').select('client_id').execute());
    expect(seen.map((r) => r.client_id)).toEqual([a]);
    expect(await withActor(h.t.db, { id: a, role: 'client' }, (trx) => trx.selectFrom('stripe_events').select('event_id').execute())).toEqual([]);
    const trainer = await withActor(h.t.db, { id: b, role: 'trainer' }, (trx) => trx.selectFrom('client_subscriptions').select('id').execute());
    expect(trainer).toEqual([]);
    await expect(withActor(h.t.db, { id: b, role: 'ai_service' }, (trx) => trx.selectFrom('client_subscriptions').select('id').execute()))
      .rejects.toThrow(/permission denied/);
    // nor through the webhook's look-up function
    await expect(withActor(h.t.db, { id: b, role: 'ai_service' }, (trx) =>
      sql`select * from swan_billing_webhook_lookup('evt_x', 'sub_x', null)`.execute(trx))).rejects.toThrow(/permission denied/);
    await expect(withActor(h.t.db, { id: a, role: 'client' }, (trx) =>
      trx.updateTable('client_subscriptions').set({ tier: 'tier_3' }).where('client_id', '=', a).execute()))
      .resolves.toMatchObject([{ numUpdatedRows: 0n }]);
    const exported = await withActor(h.t.db, { id: a, role: 'client' }, (trx) => h.billing.exportContributor.collect(trx, a));
    expect(exported).toHaveLength(1);
  });

  it('the Stripe client pins the API version and re-fetches over one kept-alive connection', async () => {
    const fake = await startFakeStripe();
    try {
      const stripe = createStripeClient({ secretKey: 'sk_test_pool', apiBase: fake.url, maxNetworkRetries: 0 });
      const s = newSubscription('tier_1', Math.floor(Date.now() / 1000));
      fake.subscriptions.set(s.id, s);
      for (let i = 0; i < 10; i++) expect((await stripe.subscriptions.retrieve(s.id)).items.data[0]!.current_period_start).toBe(s.periodStart);
      expect(fake.calls).toHaveLength(10);
      expect(fake.connections()).toBe(1);
      expect(new Set(fake.versions)).toEqual(new Set([STRIPE_API_VERSION]));
    } finally {
      await fake.close();
    }
  });

  it('clock skew between two app instances never lets an older snapshot win, nor blocks a newer one', async () => {
    const clientId = await h.createClient();
    const t = Math.floor(Date.now() / 1000);
    const s = newSubscription('tier_1', t);
    h.fake.subscriptions.set(s.id, s);
    // instance A's clock runs 10 minutes ahead of instance B's
    const ahead = h.makeBilling({ now: () => new Date(Date.now() + 600_000) });
    const behind = h.makeBilling({ now: () => new Date(Date.now()) });
    expect((await h.deliverEvent(events.checkoutCompleted(s, clientId, h.fake.checkout(s, clientId), t), behind)).body.outcome).toBe('applied');

    // A fetches tier_1 for an older event, slowly; B meanwhile applies the upgrade to tier_3
    const release = h.fake.holdNext();
    const callsBefore = h.fake.calls.length;
    const slow = h.deliverEvent(events.subscription('updated', s, t + 1), ahead);
    await expect.poll(() => h.fake.calls.length).toBeGreaterThan(callsBefore); // its fetch is held now
    s.tier = 'tier_3';
    expect((await h.deliverEvent(events.subscription('updated', s, t + 2), behind)).body.outcome).toBe('applied');
    release();
    expect((await slow).body.outcome).toBe('stale');
    expect(await rowOf(h, s.id)).toMatchObject({ tier: 'tier_3' });

    // A applies a newer event (its synced_at is 10 minutes in the future) ...
    s.status = 'past_due';
    expect((await h.deliverEvent(events.subscription('updated', s, t + 3), ahead)).body.outcome).toBe('applied');
    // ... and B's snapshot of a still newer event is not mistaken for an older one
    s.status = 'active';
    s.cancelAtPeriodEnd = true;
    expect((await h.deliverEvent(events.subscription('updated', s, t + 4), behind)).body.outcome).toBe('applied');
    expect(await rowOf(h, s.id)).toMatchObject({ tier: 'tier_3', status: 'active', cancel_at_period_end: true, last_event_at: new Date((t + 4) * 1000) });
  });

  it('a snapshot showing an ended subscription alive again, or an earlier period, is stale', async () => {
    const clientId = await h.createClient();
    const t = Math.floor(Date.now() / 1000) - 40 * DAY;
    const s = newSubscription('tier_2', t);
    h.fake.subscriptions.set(s.id, s);
    h.fake.checkout(s, clientId);
    const renewed = { ...s, periodStart: t + 30 * DAY, periodEnd: t + 60 * DAY };
    h.fake.subscriptions.set(s.id, renewed);
    expect((await h.deliverEvent(events.subscription('updated', renewed, t + 30 * DAY))).body.outcome).toBe('applied');
    // the same second, but Stripe answers with the earlier period (a lagging read): kept out
    h.fake.subscriptions.set(s.id, s);
    expect((await h.deliverEvent(events.subscription('updated', s, t + 30 * DAY))).body.outcome).toBe('stale');
    expect((await rowOf(h, s.id))!.current_period_start.getTime()).toBe((t + 30 * DAY) * 1000);
    const ended = { ...renewed, status: 'canceled' as const, canceledAt: t + 31 * DAY, endedAt: t + 31 * DAY };
    h.fake.subscriptions.set(s.id, ended);
    expect((await h.deliverEvent(events.subscription('deleted', ended, t + 31 * DAY))).body.outcome).toBe('applied');
    h.fake.subscriptions.set(s.id, renewed);
    expect((await h.deliverEvent(events.subscription('updated', renewed, t + 31 * DAY))).body.outcome).toBe('stale');
    expect(await rowOf(h, s.id)).toMatchObject({ status: 'canceled' });
  });
});
