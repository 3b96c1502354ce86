import { sql, type Kysely, type Transaction } from 'kysely';
import { errors, isUuid, withService } from '@swan/core';
import type Stripe from 'stripe';
import type { TierId } from './tiers.js';
import type { BillingOptions, SubscriptionRow, SubscriptionStatus, WebhookResult } from './types.js';

/** Stripe subscription statuses stored in `client_subscriptions.status`. */
export const SUBSCRIPTION_STATUSES = [
  'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused',
] as const;

/** The Stripe event types the webhook acts on; every other type is acknowledged and ignored. */
export const HANDLED_EVENT_TYPES = [
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.payment_failed',
  'invoice.paid',
] as const;
const HANDLED = new Set<string>(HANDLED_EVENT_TYPES);

/** Statuses that hold their tier (`past_due` does within the grace period). */
export const ENTITLED = new Set<string>(['trialing', 'active']);
const FAILING = new Set<string>(['past_due', 'unpaid', 'incomplete']);
const ENDED = new Set<string>(['canceled', 'incomplete_expired']);

/** Database role setting of the webhook processor and entitlement reads (see migrations/billing). */
const SERVICE_ROLE = 'billing_service';

export const asService = <T>(db: Kysely<any>, fn: (trx: Transaction<any>) => Promise<T>): Promise<T> => withService(db, SERVICE_ROLE, fn);

const signatureInvalid = () =>
  errors.webhookSignatureInvalid('Stripe webhook signature is missing, invalid or too old');

const toDate = (unix: number | null | undefined): Date | null => (unix == null ? null : new Date(unix * 1000));
const idOf = (value: string | { id: string } | null | undefined): string | null =>
  value == null ? null : typeof value === 'string' ? value : value.id;

/** The subscription (and, for checkout sessions, the client) an event is about. */
function subjectOf(event: Stripe.Event): { subscriptionId: string | null; clientId: string | null } {
  const object = event.data.object as unknown as Record<string, any>;
  switch (event.type) {
    case 'checkout.session.completed':
      return {
        subscriptionId: object.mode === 'subscription' ? idOf(object.subscription) : null,
        clientId: isUuid(object.client_reference_id) ? object.client_reference_id : null,
      };
    case 'invoice.paid':
    case 'invoice.payment_failed':
      // current API versions: invoice.parent.subscription_details.subscription; older: invoice.subscription
      return { subscriptionId: idOf(object.parent?.subscription_details?.subscription ?? object.subscription), clientId: null };
    default:
      return { subscriptionId: idOf(object.id), clientId: null };
  }
}

const DATE_COLUMNS = ['billing_cycle_start', 'current_period_start', 'current_period_end', 'trial_start', 'trial_end',
  'canceled_at', 'ended_at', 'past_due_since', 'last_event_at', 'synced_at', 'created_at', 'updated_at'] as const;

/** A stored row and its version (`xmin`), for the optimistic update. */
type StoredRow = SubscriptionRow & { row_version: string };

/** What {@link createBilling}'s lookup found before the Stripe fetch. */
interface Lookup {
  done: boolean;
  prev: StoredRow | undefined;
  /** The client id whose existence `clientOk` answers (`null`: none asked). */
  checkedClient: string | null;
  clientOk: boolean | null;
  /** The stored row's client is erased: the event is acknowledged and changes nothing. */
  erased: boolean;
}

/** The columns a re-fetched subscription sets. */
type Snapshot = Pick<SubscriptionRow, 'tier' | 'status' | 'stripe_customer_id' | 'stripe_price_id' | 'stripe_subscription_item_id'
  | 'monthly_price_usd' | 'billing_cycle_start' | 'current_period_start' | 'current_period_end' | 'cancel_at_period_end'
  | 'trial_start' | 'trial_end' | 'canceled_at' | 'ended_at' | 'past_due_since' | 'synced_at'>;

/** A `client_subscriptions` row read through `to_jsonb` (timestamps back to `Date`). */
function rowFromJson(json: Record<string, unknown>): StoredRow {
  const row: Record<string, unknown> = { ...json, monthly_price_usd: String(json.monthly_price_usd) };
  for (const c of DATE_COLUMNS) row[c] = json[c] == null ? null : new Date(json[c] as string);
  return row as unknown as StoredRow;
}

/**
 * Is the snapshot fetched for `eventAt` (fetch started at `asOf`, this process's clock) older than
 * the stored one? Stripe's own ordering decides first, so that clock skew between app instances
 * cannot let an older snapshot win or block a newer one:
 * - Stripe never revives an ended subscription, and periods only move forward;
 * - an event older than the newest one applied (`last_event_at`, Stripe's clock) is stale: the
 *   stored snapshot was fetched after that newer event, so it is at least as new as ours;
 * - an event newer than every applied one wins: our fetch started after it was sent;
 * - only events of the same second fall back to the fetch times (`synced_at`, local clocks).
 */
function isOlder(prev: SubscriptionRow, eventAt: Date, asOf: Date, subscription: Stripe.Subscription, item: Stripe.SubscriptionItem): boolean {
  if (ENDED.has(prev.status) && !ENDED.has(subscription.status)) return true;
  if (item.current_period_start * 1000 < prev.current_period_start.getTime()) return true;
  const event = eventAt.getTime();
  const newest = prev.last_event_at.getTime();
  if (event !== newest) return event < newest;
  return prev.synced_at.getTime() > asOf.getTime();
}

/** Thrown to roll back when another delivery recorded the same event id first. */
class AlreadyProcessed extends Error {}

/** Thrown to roll back when a concurrent write changed the subscription's row since the lookup. */
class LostRace extends Error {}

/**
 * Webhooks and subscription sync: verifies a delivery, re-fetches the subscription from Stripe and
 * stores that snapshot unless the stored one is newer (Stripe's `event.created` against
 * `last_event_at` first, fetch times only for events of the same second). The event id is
 * recorded in `stripe_events` by the same statement that writes the row, an optimistic update of
 * the row version read before the fetch, in the transaction of the outbox events.
 */
export function createWebhooks(options: BillingOptions): { handleWebhook(rawBody: Buffer | string | undefined, signature: string | undefined): Promise<WebhookResult> } {
  const { db, stripe, tiers } = options;
  const now = options.now ?? (() => new Date());
  const tierByPrice = new Map(tiers.map((t) => [t.priceId, t]));
  // Event ids known to be committed in stripe_events: duplicates skip the database round trip.
  const processed = new Set<string>();
  const cacheSize = options.processedCacheSize ?? 10_000;
  const remember = (id: string) => {
    if (cacheSize <= 0) return;
    if (processed.size >= cacheSize) processed.delete(processed.values().next().value as string);
    processed.add(id);
  };

  async function clientFromCheckout(subscriptionId: string): Promise<string | null> {
    const sessions = await stripe.checkout.sessions.list({ subscription: subscriptionId, limit: 1 });
    const ref = sessions.data[0]?.client_reference_id;
    return isUuid(ref) ? ref : null;
  }

  async function fetchSubscription(id: string): Promise<Stripe.Subscription | null> {
    try {
      return await stripe.subscriptions.retrieve(id);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return null;
      throw errors.unavailable('Stripe did not answer; the event will be retried', { cause: error });
    }
  }

  /**
   * One round trip, no transaction (`swan_billing_webhook_lookup` and `swan_billing_client_erased`):
   * has the event been processed, the stored row of the subscription (with its row version,
   * `xmin`), whether that row's client is erased and whether `clientId` is a known client. Read
   * before the Stripe fetch, so a duplicate never
   * calls Stripe; read again only when a concurrent write of the subscription won a race.
   */
  async function lookup(eventId: string, subscriptionId: string | null, clientId: string | null): Promise<Lookup> {
    const { rows } = await sql<{ done: boolean; prev: Record<string, unknown> | null; client_ok: boolean | null; erased: boolean }>`
      select done, prev, client_ok, coalesce(swan_billing_client_erased((prev ->> 'client_id')::uuid), false) as erased
        from swan_billing_webhook_lookup(${eventId}::text, ${subscriptionId}::text, ${clientId}::uuid)`.execute(db);
    const r = rows[0]!;
    return { done: r.done, prev: r.prev ? rowFromJson(r.prev) : undefined, checkedClient: clientId, clientOk: r.client_ok, erased: r.erased };
  }

  /**
   * Records the event with a non-applying outcome (`stale`, `ignored:…`) in one statement; for a
   * stale event also raises `last_event_at` of `bumpRowId`. `false`: another delivery recorded it.
   */
  async function recordOnly(event: Stripe.Event, subscriptionId: string | null, outcome: string, bumpRowId: string | null): Promise<boolean> {
    const { rows } = await asService(db, (trx) => sql<{ recorded: boolean }>`
      with ev as (
        insert into stripe_events (event_id, event_type, event_created, stripe_subscription_id, outcome)
        values (${event.id}::text, ${event.type}::text, ${toDate(event.created)}::timestamptz, ${subscriptionId}::text, ${outcome}::text)
        on conflict (event_id) do nothing returning 1),
      bump as (
        update client_subscriptions set last_event_at = greatest(last_event_at, ${toDate(event.created)}::timestamptz)
         where id = ${bumpRowId}::uuid and exists (select 1 from ev) returning 1)
      select exists (select 1 from ev) as recorded, (select count(*) from bump) as bumped`.execute(trx));
    return rows[0]!.recorded;
  }

  /**
   * Writes the snapshot and records the event in one statement, in the transaction of the outbox
   * events: an update of the row version read by {@link lookup} (optimistic: a concurrent write
   * makes it match nothing), or an insert for a new subscription (`on conflict do nothing`).
   * Returns the row id, `null` when a concurrent write got there first (retry with a fresh
   * lookup); throws {@link AlreadyProcessed} when another delivery recorded the event.
   */
  async function writeSnapshot(trx: Transaction<any>, event: Stripe.Event, subscriptionId: string, clientId: string, prev: StoredRow | undefined, s: Snapshot): Promise<string | null> {
    const eventAt = toDate(event.created)!;
    const ev = sql`insert into stripe_events (event_id, event_type, event_created, stripe_subscription_id, outcome)
      values (${event.id}::text, ${event.type}::text, ${eventAt}::timestamptz, ${subscriptionId}::text, 'applied')
      on conflict (event_id) do nothing returning 1`;
    const write = prev
      ? sql`update client_subscriptions set
              tier = ${s.tier}::text, status = ${s.status}::text, stripe_customer_id = ${s.stripe_customer_id}::text,
              stripe_price_id = ${s.stripe_price_id}::text, stripe_subscription_item_id = ${s.stripe_subscription_item_id}::text,
              monthly_price_usd = ${s.monthly_price_usd}::numeric, billing_cycle_start = ${s.billing_cycle_start}::timestamptz,
              current_period_start = ${s.current_period_start}::timestamptz, current_period_end = ${s.current_period_end}::timestamptz,
              cancel_at_period_end = ${s.cancel_at_period_end}::boolean, trial_start = ${s.trial_start}::timestamptz,
              trial_end = ${s.trial_end}::timestamptz, canceled_at = ${s.canceled_at}::timestamptz, ended_at = ${s.ended_at}::timestamptz,
              past_due_since = ${s.past_due_since}::timestamptz, synced_at = ${s.synced_at}::timestamptz,
              updated_at = ${s.synced_at}::timestamptz, last_event_at = greatest(last_event_at, ${eventAt}::timestamptz)
            where id = ${prev.id}::uuid and xmin = ${prev.row_version}::xid and exists (select 1 from ev)
              and not swan_billing_client_erased(client_id)
            returning id::text`
      : sql`insert into client_subscriptions (client_id, stripe_subscription_id, tier, status, stripe_customer_id, stripe_price_id,
              stripe_subscription_item_id, monthly_price_usd, billing_cycle_start, current_period_start, current_period_end,
              cancel_at_period_end, trial_start, trial_end, canceled_at, ended_at, past_due_since, synced_at, updated_at, last_event_at)
            select ${clientId}::uuid, ${subscriptionId}::text, ${s.tier}::text, ${s.status}::text, ${s.stripe_customer_id}::text,
              ${s.stripe_price_id}::text, ${s.stripe_subscription_item_id}::text, ${s.monthly_price_usd}::numeric,
              ${s.billing_cycle_start}::timestamptz, ${s.current_period_start}::timestamptz, ${s.current_period_end}::timestamptz,
              ${s.cancel_at_period_end}::boolean, ${s.trial_start}::timestamptz, ${s.trial_end}::timestamptz,
              ${s.canceled_at}::timestamptz, ${s.ended_at}::timestamptz, ${s.past_due_since}::timestamptz,
              ${s.synced_at}::timestamptz, ${s.synced_at}::timestamptz, ${eventAt}::timestamptz
             where exists (select 1 from ev) and coalesce(swan_pii_client_exists(${clientId}::uuid), false)
            on conflict (stripe_subscription_id) do nothing
            returning id::text`;
    const { rows } = await sql<{ recorded: boolean; id: string | null }>`
      with ev as (${ev}), w as (${write})
      select exists (select 1 from ev) as recorded, (select id from w) as id`.execute(trx);
    const r = rows[0]!;
    if (!r.recorded) throw new AlreadyProcessed();
    return r.id;
  }

  async function publish(trx: Transaction<any>, event: Stripe.Event, eventType: string, row: { id: string; client_id: string; tier: TierId; status: string }, extra: Record<string, string> = {}) {
    if (!options.events) return;
    await options.events.publish(trx, {
      eventType,
      payload: { clientId: row.client_id, tier: row.tier, status: row.status, subscriptionId: row.id, ...extra },
      aggregateType: 'client_subscription',
      aggregateId: row.id,
      idempotencyKey: `stripe:${event.id}:${eventType}`,
    });
  }

  /** `invoiceId` and, when Stripe sent one, `hostedInvoiceUrl` of an invoice event (for the dunning message). */
  function invoiceRefs(event: Stripe.Event): Record<string, string> {
    const invoice = event.data.object as { id?: unknown; hosted_invoice_url?: unknown };
    const refs: Record<string, string> = {};
    if (typeof invoice.id === 'string' && /^in_[A-Za-z0-9]{1,250}$/.test(invoice.id)) refs.invoiceId = invoice.id;
    const url = invoice.hosted_invoice_url;
    if (typeof url === 'string' && url.length <= 500 && url.startsWith('https://')) refs.hostedInvoiceUrl = url;
    return refs;
  }

  /** An event about an erased client's subscription: acknowledged, nothing written (not even the event id). */
  function ignoreErased(event: Stripe.Event): 'ignored' {
    options.logger?.warn('stripe event ignored', { eventId: event.id, eventType: event.type, reason: 'client_erased' });
    return 'ignored';
  }

  async function apply(event: Stripe.Event, subscriptionId: string, clientHint: string | null, seen: Lookup): Promise<WebhookResult['outcome']> {
    const asOf = now(); // when this snapshot's fetch started (tie-break of same-second events)
    const subscription = await fetchSubscription(subscriptionId);
    const item = subscription?.items.data.find((i) => tierByPrice.has(i.price.id));
    const tier = item ? tierByPrice.get(item.price.id)! : null;
    const eventAt = toDate(event.created)!;
    let clientFromStripe: string | null | undefined;

    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        if (attempt > 8) throw errors.conflict('Concurrent updates of this subscription; Stripe will retry the event');
        seen = await lookup(event.id, subscriptionId, seen.prev?.client_id ?? clientHint ?? clientFromStripe ?? null);
      }
      if (seen.done) return 'duplicate';
      if (seen.erased) return ignoreErased(event);
      const prev = seen.prev;
      const ignore = async (why: string) => {
        options.logger?.warn('stripe event ignored', { eventId: event.id, eventType: event.type, reason: why });
        return (await recordOnly(event, subscriptionId, `ignored:${why}`, null)) ? 'ignored' as const : 'duplicate' as const;
      };
      if (!subscription || !item || !tier) return ignore(!subscription ? 'subscription_not_found' : 'unknown_price');
      let clientId = prev?.client_id ?? clientHint;
      if (!clientId) {
        if (clientFromStripe === undefined) {
          clientFromStripe = (await clientFromCheckout(subscriptionId))
            ?? (isUuid(subscription.metadata?.swan_client_id) ? subscription.metadata.swan_client_id! : null);
        }
        clientId = clientFromStripe;
      }
      if (!clientId) return ignore('unknown_client');
      // a client found through Stripe is checked by the insert, then by the lookup of the retry
      if (!prev && seen.checkedClient === clientId && seen.clientOk === false) return ignore('unknown_client');

      if (prev && isOlder(prev, eventAt, asOf, subscription, item)) {
        return (await recordOnly(event, subscriptionId, 'stale', prev.id)) ? 'stale' : 'duplicate';
      }

      const status = subscription.status as SubscriptionStatus;
      const snapshot: Snapshot = {
        tier: tier.id,
        status,
        stripe_customer_id: idOf(subscription.customer)!,
        stripe_price_id: item.price.id,
        stripe_subscription_item_id: item.id,
        monthly_price_usd: item.price.unit_amount != null ? (item.price.unit_amount / 100).toFixed(2) : tier.monthlyPriceUsd.toFixed(2),
        billing_cycle_start: toDate(subscription.start_date)!,
        current_period_start: toDate(item.current_period_start)!,
        current_period_end: toDate(item.current_period_end)!,
        cancel_at_period_end: subscription.cancel_at_period_end || subscription.cancel_at != null,
        trial_start: toDate(subscription.trial_start),
        trial_end: toDate(subscription.trial_end),
        canceled_at: toDate(subscription.canceled_at),
        ended_at: toDate(subscription.ended_at),
        past_due_since: status === 'past_due' ? (prev?.status === 'past_due' && prev.past_due_since ? prev.past_due_since : now()) : null,
        synced_at: asOf,
      };
      const owner = clientId;
      const outcome = await asService(db, async (trx) => {
        const id = await writeSnapshot(trx, event, subscriptionId, owner, prev, snapshot);
        if (!id) throw new LostRace(); // a concurrent write of this subscription won: roll back, look again
        const row = { id, client_id: owner, tier: tier.id, status };
        const was = prev?.status;
        if (ENTITLED.has(status) && !(was && (ENTITLED.has(was) || was === 'past_due'))) await publish(trx, event, 'subscription_activated', row);
        if (ENDED.has(status) && !(was && ENDED.has(was))) await publish(trx, event, 'subscription_canceled', row);
        if (event.type === 'invoice.payment_failed' && FAILING.has(status)) await publish(trx, event, 'payment_failed', row, invoiceRefs(event));
        return 'applied' as const;
      }).catch((error) => {
        if (error instanceof AlreadyProcessed) return 'duplicate' as const;
        if (error instanceof LostRace) return null;
        throw error;
      });
      if (outcome) return outcome;
    }
  }

  return {
    async handleWebhook(rawBody, signature) {
      if (!rawBody || rawBody.length === 0 || !signature) throw signatureInvalid();
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(rawBody, signature, options.webhookSecret, options.webhookToleranceSeconds);
      } catch (error) {
        // the SDK parses the body only after the signature holds: a signed body that is not JSON
        if (error instanceof SyntaxError) throw errors.invalidJson('Stripe webhook body is not valid JSON');
        throw signatureInvalid();
      }
      const result = (outcome: WebhookResult['outcome']): WebhookResult => ({ eventId: event.id, eventType: event.type, outcome });
      if (!HANDLED.has(event.type)) return result('unhandled');
      if (processed.has(event.id)) return result('duplicate');
      const { subscriptionId, clientId } = subjectOf(event);
      const seen = await lookup(event.id, subscriptionId, clientId);
      if (seen.done) {
        remember(event.id);
        return result('duplicate');
      }
      if (seen.erased) return result(ignoreErased(event));
      const outcome = subscriptionId
        ? await apply(event, subscriptionId, clientId, seen)
        : (await recordOnly(event, null, 'ignored:no_subscription', null)) ? 'ignored' : 'duplicate';
      remember(event.id);
      return result(outcome);
    },
  };
}
