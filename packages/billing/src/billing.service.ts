import { sql, type Kysely, type Transaction } from 'kysely';
import {
  withService,
  SwanError,
  isUuid,
  withActor,
  type Actor,
  type EventPublisher,
  type ExportContributor,
  type Guard,
  type SwanRequest,
} from '@swan/core';
import type Stripe from 'stripe';
import { isTierId, tierRank, paymentLinkFor, type PaymentLinkClient, type TierConfig, type TierId } from './tiers.js';

/** Stripe subscription statuses stored in `client_subscriptions.status`. */
export const SUBSCRIPTION_STATUSES = [
  'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

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

const ENTITLED = new Set<string>(['trialing', 'active']);
const FAILING = new Set<string>(['past_due', 'unpaid', 'incomplete']);
const ENDED = new Set<string>(['canceled', 'incomplete_expired']);

/** Database role setting of the webhook processor and entitlement reads (see migrations/billing). */
const SERVICE_ROLE = 'billing_service';

/** A row of `client_subscriptions`. */
export interface SubscriptionRow {
  id: string;
  client_id: string;
  tier: TierId;
  status: SubscriptionStatus;
  stripe_subscription_id: string;
  stripe_customer_id: string;
  stripe_price_id: string;
  stripe_subscription_item_id: string;
  monthly_price_usd: string;
  billing_cycle_start: Date;
  current_period_start: Date;
  current_period_end: Date;
  cancel_at_period_end: boolean;
  trial_start: Date | null;
  trial_end: Date | null;
  canceled_at: Date | null;
  ended_at: Date | null;
  past_due_since: Date | null;
  last_event_at: Date;
  synced_at: Date;
  created_at: Date;
  updated_at: Date;
}

/** What happened to one webhook delivery. */
export interface WebhookResult {
  eventId: string;
  eventType: string;
  /**
   * `applied`: state written; `stale`: a newer snapshot was already stored; `duplicate`: event id
   * already processed; `ignored`: handled type but nothing of ours (no subscription, unknown client
   * or price); `unhandled`: event type we do not act on (nothing written).
   */
  outcome: 'applied' | 'stale' | 'duplicate' | 'ignored' | 'unhandled';
}

/** Minimal logger (never receives secrets or PII). */
export interface BillingLogger {
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface BillingOptions {
  /** Application handle (`swan_app` on PostgreSQL). */
  db: Kysely<any>;
  /** A `stripe` client, e.g. from `createStripeClient()` (pinned API version). */
  stripe: Stripe;
  /** The endpoint's signing secret (`whsec_…`). */
  webhookSecret: string;
  tiers: readonly TierConfig[];
  /** When the outbox is installed: side effects are published in the webhook's transaction. */
  events?: EventPublisher;
  /** `past_due` keeps its tier for this many days after it was first seen (default 3). */
  pastDueGraceDays?: number;
  /** Where the Customer Portal sends the customer back, e.g. `${PUBLIC_URL}/pricing`. */
  portalReturnUrl: string;
  /** Signature timestamp tolerance in seconds (default: the SDK's 300). */
  webhookToleranceSeconds?: number;
  /** Clock of the past_due grace period (tests). */
  now?: () => Date;
  logger?: BillingLogger;
}

/** The billing service. Create one with {@link createBilling}. */
export interface Billing {
  readonly tiers: readonly TierConfig[];
  /** Verifies and applies one webhook delivery (raw body bytes and the `Stripe-Signature` header). */
  handleWebhook(rawBody: Buffer | string | undefined, signature: string | undefined): Promise<WebhookResult>;
  /** The highest tier the client is entitled to now, or `null`. */
  getActiveTier(clientId: string): Promise<TierId | null>;
  /** Guard: 402 `SUBSCRIPTION_REQUIRED` unless the client holds `tier` or higher. */
  requireTier(tier: TierId, options?: { clientId?: (req: SwanRequest) => string | undefined }): Guard;
  /** The client's subscriptions, newest first, read as `actor` (row-level security applies). */
  listSubscriptions(actor: Actor, clientId: string): Promise<SubscriptionRow[]>;
  /** Every tier with this client's Payment Link URL. */
  paymentLinks(client: PaymentLinkClient): Array<Omit<TierConfig, 'paymentLinkUrl' | 'priceId'> & { url: string }>;
  /** A Customer Portal session URL for the calling client; 404 `NOT_FOUND` without a subscription. */
  createPortalSession(actor: Actor): Promise<string>;
  /** Data-subject export contributor (`subscriptions`). */
  exportContributor: ExportContributor;
}

const signatureInvalid = () =>
  new SwanError({ code: 'WEBHOOK_SIGNATURE_INVALID', message: 'Stripe webhook signature is missing, invalid or too old' });

const asService = <T>(db: Kysely<any>, fn: (trx: Transaction<any>) => Promise<T>): Promise<T> => withService(db, SERVICE_ROLE, fn);

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

/** A `client_subscriptions` row read through `to_jsonb` (timestamps back to `Date`). */
function rowFromJson(json: Record<string, unknown>): SubscriptionRow {
  const row: Record<string, unknown> = { ...json, monthly_price_usd: String(json.monthly_price_usd) };
  for (const c of DATE_COLUMNS) row[c] = json[c] == null ? null : new Date(json[c] as string);
  return row as unknown as SubscriptionRow;
}

/** Thrown to roll back when another delivery recorded the same event id first. */
class AlreadyProcessed extends Error {}

/**
 * Creates the billing service: webhook processing, entitlements, Payment Links and the portal.
 *
 * Every handled event re-fetches the subscription from Stripe and stores that snapshot only when
 * it was fetched after the stored one, under a per-subscription transaction lock; the event id is
 * recorded in `stripe_events` in the same transaction as the row and the outbox events. So
 * duplicated, racing and out-of-order deliveries all converge on Stripe's current state.
 *
 * @example
 * ```ts
 * const billing = createBilling({
 *   db, stripe: createStripeClient({ secretKey }), webhookSecret,
 *   tiers: tiersFromEnv(process.env), events: outbox, portalReturnUrl: `${publicUrl}/pricing`,
 * });
 * const routes = billingRoutes(billing);
 * ```
 */
export function createBilling(options: BillingOptions): Billing {
  const { db, stripe, tiers } = options;
  const now = options.now ?? (() => new Date());
  const graceMs = (options.pastDueGraceDays ?? 3) * 86_400_000;
  const tierByPrice = new Map(tiers.map((t) => [t.priceId, t]));
  // Event ids known to be committed in stripe_events: duplicates skip the database round trip.
  const processed = new Set<string>();
  const remember = (id: string) => {
    if (processed.size >= 10_000) processed.delete(processed.values().next().value as string);
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
      throw new SwanError({ code: 'UNAVAILABLE', message: 'Stripe did not answer; the event will be retried', cause: error });
    }
  }

  async function record(trx: Transaction<any>, event: Stripe.Event, subscriptionId: string | null, outcome: string): Promise<boolean> {
    const inserted = await sql<{ event_id: string }>`
      insert into stripe_events (event_id, event_type, event_created, stripe_subscription_id, outcome)
      values (${event.id}, ${event.type}, ${toDate(event.created)}, ${subscriptionId}, ${outcome})
      on conflict (event_id) do nothing returning event_id`.execute(trx);
    return inserted.rows.length > 0;
  }

  async function publish(trx: Transaction<any>, event: Stripe.Event, eventType: string, row: Pick<SubscriptionRow, 'id' | 'client_id' | 'tier' | 'status'>) {
    if (!options.events) return;
    await options.events.publish(trx, {
      eventType,
      payload: { clientId: row.client_id, tier: row.tier, status: row.status, subscriptionId: row.id },
      aggregateType: 'client_subscription',
      aggregateId: row.id,
      idempotencyKey: `stripe:${event.id}:${eventType}`,
    });
  }

  async function apply(event: Stripe.Event, subscriptionId: string, clientHint: string | null, existing: { client_id: string } | undefined): Promise<WebhookResult['outcome']> {
    const asOf = new Date(); // when this snapshot's fetch started: orders concurrent snapshots
    const subscription = await fetchSubscription(subscriptionId);
    const item = subscription?.items.data.find((i) => tierByPrice.has(i.price.id));
    const tier = item ? tierByPrice.get(item.price.id)! : null;
    const clientId = existing?.client_id ?? clientHint ?? (subscription ? await clientFromCheckout(subscriptionId) : null)
      ?? (isUuid(subscription?.metadata?.swan_client_id) ? subscription!.metadata.swan_client_id! : null);

    return asService(db, async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtextextended(${`swan_billing:${subscriptionId}`}, 0))`.execute(trx);
      // a new statement after the lock, so its snapshot sees what the lock holder committed
      const state = (await sql<{ done: boolean; prev: Record<string, unknown> | null; client_ok: boolean }>`
        select exists (select 1 from stripe_events where event_id = ${event.id}) as done,
               (select to_jsonb(s) from client_subscriptions s where s.stripe_subscription_id = ${subscriptionId}) as prev,
               coalesce(swan_pii_client_exists(${clientId}::uuid), false) as client_ok`.execute(trx)).rows[0]!;
      if (state.done) return 'duplicate' as const;
      const prev = state.prev ? rowFromJson(state.prev) : undefined;

      const ignore = async (why: string) => {
        options.logger?.warn('stripe event ignored', { eventId: event.id, eventType: event.type, reason: why });
        if (!(await record(trx, event, subscriptionId, `ignored:${why}`))) throw new AlreadyProcessed();
        return 'ignored' as const;
      };
      if (!subscription || !item || !tier) return ignore(!subscription ? 'subscription_not_found' : 'unknown_price');
      if (!clientId) return ignore('unknown_client');
      if (!prev && !state.client_ok) return ignore('unknown_client');

      if (prev && prev.synced_at.getTime() > asOf.getTime()) {
        // a snapshot fetched later than ours is already stored: keep it
        await trx.updateTable('client_subscriptions')
          .set({ last_event_at: sql`greatest(last_event_at, ${toDate(event.created)})` })
          .where('id', '=', prev.id).execute();
        if (!(await record(trx, event, subscriptionId, 'stale'))) throw new AlreadyProcessed();
        return 'stale' as const;
      }

      const status = subscription.status as SubscriptionStatus;
      const snapshot = {
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
        updated_at: asOf,
      };
      const eventAt = toDate(event.created)!;
      const row = prev
        ? await trx.updateTable('client_subscriptions')
            .set({ ...snapshot, last_event_at: sql`greatest(last_event_at, ${eventAt})` })
            .where('id', '=', prev.id).returning(['id', 'client_id', 'tier', 'status']).executeTakeFirstOrThrow()
        : await trx.insertInto('client_subscriptions')
            .values({ ...snapshot, client_id: clientId, stripe_subscription_id: subscriptionId, last_event_at: eventAt })
            .returning(['id', 'client_id', 'tier', 'status']).executeTakeFirstOrThrow();
      if (!(await record(trx, event, subscriptionId, 'applied'))) throw new AlreadyProcessed();

      const was = prev?.status;
      if (ENTITLED.has(status) && !(was && (ENTITLED.has(was) || was === 'past_due'))) await publish(trx, event, 'subscription_activated', row);
      if (ENDED.has(status) && !(was && ENDED.has(was))) await publish(trx, event, 'subscription_canceled', row);
      if (event.type === 'invoice.payment_failed' && FAILING.has(status)) await publish(trx, event, 'payment_failed', row);
      return 'applied' as const;
    }).catch((error) => {
      if (error instanceof AlreadyProcessed) return 'duplicate' as const;
      throw error;
    });
  }

  async function getActiveTier(clientId: string): Promise<TierId | null> {
    if (!isUuid(clientId)) return null;
    const rows = await asService(db, (trx) =>
      trx.selectFrom('client_subscriptions').select(['tier', 'status', 'past_due_since'])
        .where('client_id', '=', clientId).where('status', 'in', ['trialing', 'active', 'past_due']).execute());
    const cutoff = now().getTime() - graceMs;
    let best: TierId | null = null;
    for (const r of rows) {
      const entitled = ENTITLED.has(r.status) || (r.status === 'past_due' && r.past_due_since != null && new Date(r.past_due_since).getTime() > cutoff);
      if (entitled && isTierId(r.tier) && tierRank(r.tier) > tierRank(best)) best = r.tier;
    }
    return best;
  }

  const listSubscriptions = (actor: Actor, clientId: string) =>
    withActor(db, actor, (trx) =>
      trx.selectFrom('client_subscriptions').selectAll().where('client_id', '=', clientId)
        .orderBy('updated_at', 'desc').execute()) as Promise<SubscriptionRow[]>;

  return {
    tiers,

    async handleWebhook(rawBody, signature) {
      if (!rawBody || rawBody.length === 0 || !signature) throw signatureInvalid();
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(rawBody, signature, options.webhookSecret, options.webhookToleranceSeconds);
      } catch {
        throw signatureInvalid();
      }
      const result = (outcome: WebhookResult['outcome']): WebhookResult => ({ eventId: event.id, eventType: event.type, outcome });
      if (!HANDLED.has(event.type)) return result('unhandled');
      if (processed.has(event.id)) return result('duplicate');
      const { subscriptionId, clientId } = subjectOf(event);
      const seen = (await asService(db, (trx) => sql<{ done: boolean; client_id: string | null }>`
        select exists (select 1 from stripe_events where event_id = ${event.id}) as done,
               (select client_id::text from client_subscriptions where stripe_subscription_id = ${subscriptionId}) as client_id`
        .execute(trx))).rows[0]!;
      if (seen.done) {
        remember(event.id);
        return result('duplicate');
      }
      let outcome: WebhookResult['outcome'];
      if (subscriptionId) {
        outcome = await apply(event, subscriptionId, clientId, seen.client_id ? { client_id: seen.client_id } : undefined);
      } else {
        outcome = (await asService(db, (trx) => record(trx, event, null, 'ignored:no_subscription'))) ? 'ignored' : 'duplicate';
      }
      remember(event.id);
      return result(outcome);
    },

    getActiveTier,

    requireTier(tier, guardOptions = {}) {
      if (!isTierId(tier)) throw new SwanError({ code: 'VALIDATION_FAILED', message: `Unknown tier ${String(tier)}` });
      return async (req) => {
        if (!req.actor) throw new SwanError({ code: 'UNAUTHENTICATED', message: 'Authentication required' });
        const clientId = guardOptions.clientId ? guardOptions.clientId(req) : req.actor.id;
        const active = clientId ? await getActiveTier(clientId) : null;
        if (tierRank(active) < tierRank(tier)) {
          throw new SwanError({
            code: 'SUBSCRIPTION_REQUIRED',
            message: `This feature needs the ${tier} subscription or higher`,
            details: { requiredTier: tier, activeTier: active },
          });
        }
      };
    },

    listSubscriptions,

    paymentLinks(client) {
      return tiers.map(({ paymentLinkUrl, priceId: _priceId, ...tier }) => ({ ...tier, url: paymentLinkFor(client, { paymentLinkUrl }) }));
    },

    async createPortalSession(actor) {
      const [latest] = await listSubscriptions(actor, actor.id);
      if (!latest) throw new SwanError({ code: 'NOT_FOUND', message: 'No subscription found' });
      try {
        const session = await stripe.billingPortal.sessions.create({ customer: latest.stripe_customer_id, return_url: options.portalReturnUrl });
        return session.url;
      } catch (error) {
        throw new SwanError({ code: 'UNAVAILABLE', message: 'Stripe Customer Portal is unavailable', cause: error });
      }
    },

    exportContributor: {
      name: 'subscriptions',
      async collect(trx, clientId) {
        return trx.selectFrom('client_subscriptions').selectAll().where('client_id', '=', clientId).orderBy('created_at').execute();
      },
    },
  };
}
