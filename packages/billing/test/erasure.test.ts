import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { eraseClientRow, testEngines } from '@swan/test-utils';
import { events, newSubscription } from './fake-stripe.js';
import { startHarness, type Harness } from './harness.js';

const DAY = 86_400;

describe.each(testEngines())('billing erasure on $name', (engine) => {
  let h: Harness;
  beforeAll(async () => { h = await startHarness(engine); });
  afterAll(() => h?.close());

  const row = async (subscriptionId: string) => (await sql<Record<string, any>>`
    select * from client_subscriptions where stripe_subscription_id = ${subscriptionId}`.execute(h.t.admin)).rows[0];
  const snapshot = async () => (await sql<{ t: string }>`select
      (select coalesce(string_agg(s::text, '|' order by s.id), '') from client_subscriptions s)
      || '#' || (select coalesce(string_agg(e::text, '|' order by e.event_id), '') from stripe_events e)
      || '#' || (select coalesce(string_agg(o::text, '|' order by o.id), '') from test_outbox o) as t`.execute(h.t.admin)).rows[0]!.t;

  /** A client with an active subscription created by webhooks, and an older one that ended. */
  async function subscribed() {
    const clientId = await h.createClient();
    const t0 = Math.floor(Date.now() / 1000) - 60 * DAY;
    const old = newSubscription('tier_1', t0);
    const live = newSubscription('tier_2', t0 + 31 * DAY);
    live.customer = old.customer;
    for (const s of [old, live]) {
      h.fake.subscriptions.set(s.id, s);
      expect((await h.deliverEvent(events.checkoutCompleted(s, clientId, h.fake.checkout(s, clientId), s.start))).body.outcome).toBe('applied');
    }
    Object.assign(old, { status: 'canceled', canceledAt: t0 + 30 * DAY, endedAt: t0 + 30 * DAY });
    expect((await h.deliverEvent(events.subscription('deleted', old, t0 + 30 * DAY))).body.outcome).toBe('applied');
    return { clientId, old, live };
  }

  it('client_erased cancels the live subscription, deletes the customer, keeps bookkeeping columns only; later webhooks change nothing', async () => {
    const { clientId, old, live } = await subscribed();
    const other = await subscribed();
    // erased in the database; the outbox handler has not run yet: webhooks already change nothing
    await eraseClientRow(h.t.admin, clientId);
    const calls = h.fake.calls.length;
    const before = await snapshot();
    live.tier = 'tier_3';
    const early = await h.deliverEvent(events.subscription('updated', live, Math.floor(Date.now() / 1000)));
    expect(early).toEqual({ status: 200, body: { success: true, received: true, outcome: 'ignored' } });
    expect(await snapshot()).toBe(before);
    expect(h.fake.calls.length).toBe(calls); // not even a Stripe fetch
    live.tier = 'tier_2';

    await h.billing.handleClientErased({ payload: { clientId } });
    expect(h.fake.calls.slice(calls)).toEqual([`DELETE /v1/subscriptions/${live.id}`, `DELETE /v1/customers/${live.customer}`]);
    expect(h.fake.subscriptions.get(live.id)!.status).toBe('canceled');
    expect(h.fake.deletedCustomers.has(live.customer)).toBe(true);
    const r = await row(live.id);
    expect(r).toMatchObject({
      client_id: clientId, tier: 'tier_2', status: 'canceled', stripe_customer_id: null, stripe_subscription_item_id: null,
      monthly_price_usd: '125.00', cancel_at_period_end: false, stripe_price_id: expect.any(String),
    });
    expect(r!.canceled_at).toBeInstanceOf(Date);
    expect(r!.ended_at).toBeInstanceOf(Date);
    expect(r!.current_period_end).toBeInstanceOf(Date);
    expect(await row(old.id)).toMatchObject({ status: 'canceled', stripe_customer_id: null, stripe_subscription_item_id: null });
    // the other client is untouched
    expect(await row(other.live.id)).toMatchObject({ status: 'active', stripe_customer_id: other.live.customer });
    expect(h.fake.subscriptions.get(other.live.id)!.status).toBe('active');

    // Stripe's own webhooks about the cancellation, and any later one: acknowledged, nothing written
    const after = await snapshot();
    for (const e of [events.subscription('deleted', h.fake.subscriptions.get(live.id)!, Math.floor(Date.now() / 1000) + 1),
      events.invoice('paid', live, Math.floor(Date.now() / 1000) + 2), events.checkoutCompleted(live, clientId, h.fake.checkout(live, clientId), live.start)]) {
      expect((await h.deliverEvent(e)).body).toEqual({ success: true, received: true, outcome: 'ignored' });
    }
    expect(await snapshot()).toBe(after);
    // no portal for an erased client (no customer id left)
    await expect(h.billing.createPortalSession({ id: clientId, role: 'client' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('is idempotent: a retry after partial success (subscription canceled, customer deleted, row not yet written) finishes; Stripe down → UNAVAILABLE, retried', async () => {
    const { clientId, live } = await subscribed();
    await eraseClientRow(h.t.admin, clientId);
    h.fake.failNext(1);
    await expect(h.billing.handleClientErased({ payload: { clientId } })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect((await row(live.id))!.stripe_customer_id).toBe(live.customer);
    // a first run that reached Stripe but died before the local write
    await h.fake.client().subscriptions.cancel(live.id);
    await h.fake.client().customers.del(live.customer);
    const calls = h.fake.calls.length;
    await h.billing.handleClientErased({ payload: { clientId } });
    expect(h.fake.calls.slice(calls)).toEqual([`DELETE /v1/subscriptions/${live.id}`, `DELETE /v1/customers/${live.customer}`]); // both 404: done
    expect(await row(live.id)).toMatchObject({ status: 'canceled', stripe_customer_id: null });
    // and once more: nothing left to do, no Stripe call
    await h.billing.handleClientErased({ payload: { clientId } });
    expect(h.fake.calls.length).toBe(calls + 2);
    // a client without subscriptions: nothing at Stripe
    const none = await h.createClient();
    await eraseClientRow(h.t.admin, none);
    await h.billing.handleClientErased({ payload: { clientId: none } });
    expect(h.fake.calls.length).toBe(calls + 2);
    await expect(h.billing.handleClientErased({ payload: {} })).rejects.toMatchObject({ permanent: true });
  });
});
