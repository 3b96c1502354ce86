/**
 * A local stand-in for the few Stripe API endpoints @swan/billing calls, so tests and the bench run
 * the real `stripe` SDK over HTTP: GET /v1/subscriptions/:id, DELETE /v1/subscriptions/:id (cancel
 * now; 404 once canceled, as Stripe answers), DELETE /v1/customers/:id (cancels the customer's
 * subscriptions; 404 once deleted), GET /v1/checkout/sessions (?subscription=),
 * POST /v1/billing_portal/sessions. Objects follow the pinned API version
 * (periods on subscription items; invoices point at their subscription through `parent`).
 * Also builds realistic, signed webhook events.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { STRIPE_API_VERSION, createStripeClient } from '../src/index.js';

export const WEBHOOK_SECRET = 'whsec_test_swan_billing_secret';
export const PRICES = { tier_1: 'price_swan_t1', tier_2: 'price_swan_t2', tier_3: 'price_swan_t3' } as const;
const AMOUNTS = { tier_1: 5000, tier_2: 12500, tier_3: 20000 } as const;
export type Tier = keyof typeof PRICES;

const rid = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
const DAY = 86_400;

export interface SubState {
  id: string;
  customer: string;
  tier: Tier;
  status: Stripe.Subscription.Status;
  itemId: string;
  start: number;
  periodStart: number;
  periodEnd: number;
  trialStart: number | null;
  trialEnd: number | null;
  cancelAtPeriodEnd: boolean;
  canceledAt: number | null;
  endedAt: number | null;
  latestInvoice: string | null;
}

function price(tier: Tier) {
  return {
    id: PRICES[tier], object: 'price', active: true, billing_scheme: 'per_unit', created: 1_700_000_000, currency: 'usd',
    custom_unit_amount: null, livemode: false, lookup_key: null, metadata: {}, nickname: null, product: `prod_${tier}`,
    recurring: { interval: 'month', interval_count: 1, meter: null, trial_period_days: null, usage_type: 'licensed' },
    tax_behavior: 'unspecified', tiers_mode: null, transform_quantity: null, type: 'recurring',
    unit_amount: AMOUNTS[tier], unit_amount_decimal: String(AMOUNTS[tier]),
  };
}

/** A subscription object as the pinned API version returns it. */
export function subscriptionJson(s: SubState) {
  return {
    id: s.id, object: 'subscription', application: null, application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: s.periodStart, billing_cycle_anchor_config: null, billing_mode: { type: 'flexible' },
    billing_thresholds: null, cancel_at: s.cancelAtPeriodEnd ? s.periodEnd : null, cancel_at_period_end: s.cancelAtPeriodEnd,
    canceled_at: s.canceledAt, cancellation_details: { comment: null, feedback: null, reason: s.canceledAt ? 'cancellation_requested' : null },
    collection_method: 'charge_automatically', created: s.start, currency: 'usd', customer: s.customer,
    days_until_due: null, default_payment_method: 'pm_card_visa', default_source: null, default_tax_rates: [],
    description: null, discounts: [], ended_at: s.endedAt, invoice_settings: { account_tax_ids: null, issuer: { type: 'self' } },
    items: {
      object: 'list', has_more: false, total_count: 1, url: `/v1/subscription_items?subscription=${s.id}`,
      data: [{
        id: s.itemId, object: 'subscription_item', billing_thresholds: null, created: s.start,
        current_period_start: s.periodStart, current_period_end: s.periodEnd, discounts: [], metadata: {},
        plan: { id: PRICES[s.tier], object: 'plan', active: true, amount: AMOUNTS[s.tier], currency: 'usd', interval: 'month', interval_count: 1, product: `prod_${s.tier}` },
        price: price(s.tier), quantity: 1, subscription: s.id, tax_rates: [],
      }],
    },
    latest_invoice: s.latestInvoice, livemode: false, metadata: {}, next_pending_invoice_item_invoice: null,
    on_behalf_of: null, pause_collection: null, payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_invoice_item_interval: null, pending_setup_intent: null, pending_update: null, schedule: null,
    start_date: s.start, status: s.status, test_clock: null, transfer_data: null,
    trial_end: s.trialEnd, trial_settings: { end_behavior: { missing_payment_method: 'create_invoice' } }, trial_start: s.trialStart,
  };
}

function checkoutSessionJson(s: SubState, clientId: string, id: string) {
  return {
    id, object: 'checkout.session', after_expiration: null, allow_promotion_codes: false,
    amount_subtotal: AMOUNTS[s.tier], amount_total: AMOUNTS[s.tier], billing_address_collection: 'auto',
    cancel_url: 'https://swanstudios.example/pricing?canceled=true', client_reference_id: clientId,
    created: s.start, currency: 'usd', customer: s.customer, customer_creation: 'always',
    customer_details: { email: 'buyer@example.com', name: null, phone: null, tax_exempt: 'none', tax_ids: [] },
    customer_email: null, expires_at: s.start + DAY, invoice: s.latestInvoice, livemode: false, locale: 'auto',
    metadata: { tier: s.tier, product: 'personal_training_ai' }, mode: 'subscription', payment_intent: null,
    payment_link: `plink_${s.tier}`, payment_method_collection: 'always', payment_status: s.trialEnd ? 'no_payment_required' : 'paid',
    status: 'complete', submit_type: null, subscription: s.id,
    success_url: `https://swanstudios.example/dashboard?subscription=success&tier=${s.tier}`, ui_mode: 'hosted', url: null,
  };
}

function invoiceJson(s: SubState, id: string, paid: boolean) {
  return {
    id, object: 'invoice', account_country: 'US', amount_due: AMOUNTS[s.tier], amount_paid: paid ? AMOUNTS[s.tier] : 0,
    amount_remaining: paid ? 0 : AMOUNTS[s.tier], attempt_count: 1, attempted: true, auto_advance: !paid,
    billing_reason: 'subscription_cycle', collection_method: 'charge_automatically', created: s.periodStart,
    currency: 'usd', customer: s.customer, customer_email: null, lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${id}/lines` },
    hosted_invoice_url: `https://invoice.stripe.com/i/acct_test_swan/test_${id}`, livemode: false, metadata: {}, next_payment_attempt: paid ? null : s.periodStart + 3 * DAY,
    parent: { quote_details: null, subscription_details: { metadata: {}, subscription: s.id }, type: 'subscription_details' },
    period_end: s.periodStart, period_start: s.periodStart, status: paid ? 'paid' : 'open', total: AMOUNTS[s.tier],
  };
}

export interface FakeStripe {
  url: string;
  port: number;
  /** Requests served, by `METHOD path`. */
  calls: string[];
  /** `Stripe-Version` header of every request served. */
  versions: string[];
  /** TCP connections accepted so far (keep-alive reuse shows as few connections, many calls). */
  connections(): number;
  subscriptions: Map<string, SubState>;
  /** Customers deleted through `DELETE /v1/customers/:id`. */
  deletedCustomers: Set<string>;
  /** Makes the next N requests fail with 500 (Stripe outage). */
  failNext(n: number): void;
  /**
   * Holds the next subscription retrieve: its answer is the state at arrival, sent only when the
   * returned function is called (a slow response racing newer deliveries).
   */
  holdNext(): () => void;
  /** A `stripe` SDK client pointed at this server (pinned API version, no retries). */
  client(): Stripe;
  close(): Promise<void>;
  /** Registers the checkout session that created a subscription (for `?subscription=` look-ups). */
  checkout(sub: SubState, clientId: string): string;
  sessions: Map<string, { sub: string; clientId: string }>;
}

/** Starts the fake Stripe API on a free local port. */
export async function startFakeStripe(): Promise<FakeStripe> {
  const subscriptions = new Map<string, SubState>();
  const sessions = new Map<string, { sub: string; clientId: string }>();
  const deletedCustomers = new Set<string>();
  const cancelNow = (s: SubState) => {
    const now = Math.floor(Date.now() / 1000);
    Object.assign(s, { status: 'canceled', canceledAt: s.canceledAt ?? now, endedAt: now, cancelAtPeriodEnd: false });
  };
  const calls: string[] = [];
  const versions: string[] = [];
  let connections = 0;
  let failures = 0;
  let hold: Promise<void> | null = null;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': rid('req'), 'stripe-version': STRIPE_API_VERSION });
      res.end(JSON.stringify(body));
    };
    const missing = (what: string) => send(404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${what}` } });
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      calls.push(`${req.method} ${url.pathname}`);
      versions.push(String(req.headers['stripe-version'] ?? ''));
      if (failures > 0) {
        failures--;
        return send(500, { error: { type: 'api_error', message: 'fake outage' } });
      }
      if (!String(req.headers.authorization ?? '').startsWith('Bearer sk_test_')) return send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key' } });
      const sub = url.pathname.match(/^\/v1\/subscriptions\/([\w]+)$/);
      if (req.method === 'GET' && sub) {
        const s = subscriptions.get(sub[1]!);
        if (!s) return missing('subscription');
        const json = subscriptionJson(s);
        if (hold) {
          const wait = hold;
          hold = null;
          void wait.then(() => send(200, json));
          return;
        }
        return send(200, json);
      }
      if (req.method === 'DELETE' && sub) {
        const s = subscriptions.get(sub[1]!);
        if (!s || s.status === 'canceled' || s.status === 'incomplete_expired') return missing('subscription');
        cancelNow(s);
        return send(200, subscriptionJson(s));
      }
      const customer = url.pathname.match(/^\/v1\/customers\/([\w]+)$/);
      if (req.method === 'DELETE' && customer) {
        const id = customer[1]!;
        const owned = [...subscriptions.values()].filter((s) => s.customer === id);
        if (owned.length === 0 || deletedCustomers.has(id)) return missing('customer');
        deletedCustomers.add(id);
        for (const s of owned) if (s.status !== 'canceled' && s.status !== 'incomplete_expired') cancelNow(s);
        return send(200, { id, object: 'customer', deleted: true });
      }
      if (req.method === 'GET' && url.pathname === '/v1/checkout/sessions') {
        const wanted = url.searchParams.get('subscription');
        const data = [...sessions.entries()].filter(([, v]) => v.sub === wanted)
          .map(([id, v]) => checkoutSessionJson(subscriptions.get(v.sub)!, v.clientId, id));
        return send(200, { object: 'list', data, has_more: false, url: '/v1/checkout/sessions' });
      }
      if (req.method === 'POST' && url.pathname === '/v1/billing_portal/sessions') {
        const form = new URLSearchParams(body);
        const customer = form.get('customer');
        if (![...subscriptions.values()].some((s) => s.customer === customer)) return missing('customer');
        const id = rid('bps');
        return send(200, {
          id, object: 'billing_portal.session', configuration: 'bpc_test', created: Math.floor(Date.now() / 1000),
          customer, flow: null, livemode: false, locale: null, on_behalf_of: null,
          return_url: form.get('return_url'), url: `https://billing.stripe.com/p/session/test_${id}`,
        });
      }
      missing(`route ${req.method} ${url.pathname}`);
    });
  });
  server.on('connection', () => { connections++; });
  // like api.stripe.com, keep idle connections open longer than a client's idle socket timeout
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url, port, calls, versions, subscriptions, sessions, deletedCustomers,
    connections: () => connections,
    failNext(n) { failures = n; },
    holdNext() {
      let release!: () => void;
      hold = new Promise<void>((resolve) => { release = resolve; });
      return release;
    },
    client: () => createStripeClient({ secretKey: 'sk_test_swan', apiBase: url, maxNetworkRetries: 0 }),
    checkout(sub, clientId) {
      const id = rid('cs_test');
      sessions.set(id, { sub: sub.id, clientId });
      return id;
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A new subscription state (7-day trial when `trialDays` is set). */
export function newSubscription(tier: Tier, at: number, trialDays = 0): SubState {
  const trialEnd = trialDays ? at + trialDays * DAY : null;
  return {
    id: rid('sub'), customer: rid('cus'), tier, status: trialDays ? 'trialing' : 'active', itemId: rid('si'),
    start: at, periodStart: at, periodEnd: trialEnd ?? at + 30 * DAY, trialStart: trialDays ? at : null, trialEnd,
    cancelAtPeriodEnd: false, canceledAt: null, endedAt: null, latestInvoice: rid('in'),
  };
}

/** A webhook event envelope for the pinned API version. */
export function eventJson(type: string, object: unknown, created: number, extra: Record<string, unknown> = {}) {
  return {
    id: rid('evt'), object: 'event', api_version: STRIPE_API_VERSION, created,
    data: { object, ...extra }, livemode: false, pending_webhooks: 1,
    request: { id: rid('req'), idempotency_key: null }, type,
  };
}

export const events = {
  checkoutCompleted: (s: SubState, clientId: string, sessionId: string, at: number) =>
    eventJson('checkout.session.completed', checkoutSessionJson(s, clientId, sessionId), at),
  subscription: (type: 'created' | 'updated' | 'deleted', s: SubState, at: number) =>
    eventJson(`customer.subscription.${type}`, subscriptionJson(s), at),
  invoice: (type: 'paid' | 'payment_failed', s: SubState, at: number) =>
    eventJson(`invoice.${type}`, invoiceJson(s, s.latestInvoice ?? rid('in'), type === 'paid'), at),
};

/** Signs a body the way Stripe does (`t=…,v1=…`). */
export function sign(payload: string, options: { secret?: string; timestamp?: number } = {}): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload, secret: options.secret ?? WEBHOOK_SECRET, timestamp: options.timestamp ?? Math.floor(Date.now() / 1000),
  });
}
