import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Actor, EventPublisher, ExportContributor, Guard, SwanRequest } from '@swan/core';
import type { PaymentLinkClient, TierConfig, TierId } from './tiers.js';
import type { SUBSCRIPTION_STATUSES } from './webhooks.js';

export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/** A row of `client_subscriptions`. */
export interface SubscriptionRow {
  id: string;
  client_id: string;
  tier: TierId;
  status: SubscriptionStatus;
  stripe_subscription_id: string;
  /** `null` once the client is erased (the Stripe customer is deleted). */
  stripe_customer_id: string | null;
  stripe_price_id: string;
  /** `null` once the client is erased. */
  stripe_subscription_item_id: string | null;
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
  /**
   * How many processed event ids this instance remembers, so that a duplicate delivery it has
   * seen answers without a database round trip (default 10 000; `0` turns the cache off and every
   * duplicate is answered from `stripe_events`, like one landing on another instance).
   */
  processedCacheSize?: number;
  /** This process's clock: fetch times of snapshots and the past_due grace period (default `new Date()`; tests). */
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
  /**
   * The `client_erased` outbox handler: cancels the client's Stripe subscriptions at once, deletes
   * its Stripe customer, then keeps only bookkeeping columns locally (no customer id). Idempotent:
   * a retry after partial success finishes the job (Stripe's 404 for what is already gone counts
   * as done); a Stripe failure throws `UNAVAILABLE` so the outbox retries.
   */
  handleClientErased(event: { payload: { clientId?: unknown } }): Promise<void>;
  /** Data-subject export contributor (`subscriptions`). */
  exportContributor: ExportContributor;
}
