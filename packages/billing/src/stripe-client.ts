import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import Stripe from 'stripe';
import { tracedStripeHttpClient } from './telemetry.js';

/**
 * The Stripe API version this package is written and tested against: the version the installed
 * `stripe` SDK was generated for. Every client made by {@link createStripeClient} pins it, so
 * subscription objects always have the shape the code reads (periods on subscription items,
 * invoices pointing at their subscription through `parent.subscription_details`).
 */
export const STRIPE_API_VERSION = Stripe.API_VERSION;

export interface StripeClientOptions {
  /** `sk_live_…` / `sk_test_…` / `rk_…`. */
  secretKey: string;
  /**
   * Alternative API origin, e.g. `http://127.0.0.1:12111` (stripe-mock or a test fake). Mapped to
   * the SDK's `host`, `port` and `protocol` options.
   */
  apiBase?: string;
  /** Retries of idempotent failures by the SDK (default 2). */
  maxNetworkRetries?: number;
  /** Request timeout in ms (default 10 s; a webhook should answer quickly). */
  timeout?: number;
  /**
   * Connection pool of this client (default: a keep-alive agent of its own, most recently used
   * socket first, at most 64 sockets), so webhook re-fetches reuse warm connections instead of
   * paying a TCP and TLS handshake each.
   */
  httpAgent?: HttpAgent;
}

/**
 * A `stripe` client pinned to {@link STRIPE_API_VERSION}, optionally pointed at another origin.
 *
 * @example
 * ```ts
 * const stripe = createStripeClient({ secretKey: process.env.STRIPE_SECRET_KEY!, apiBase: process.env.STRIPE_API_BASE });
 * ```
 */
export function createStripeClient(options: StripeClientOptions): Stripe {
  const config: Stripe.StripeConfig = {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    timeout: options.timeout ?? 10_000,
    telemetry: false,
  };
  let protocol: 'http' | 'https' = 'https';
  if (options.apiBase) {
    const base = new URL(options.apiBase);
    protocol = base.protocol === 'http:' ? 'http' : 'https';
    config.protocol = protocol;
    config.host = base.hostname;
    config.port = base.port || (protocol === 'http' ? 80 : 443);
  }
  const pool = { keepAlive: true, scheduling: 'lifo', maxSockets: 64 } as const;
  config.httpAgent = options.httpAgent ?? (protocol === 'http' ? new HttpAgent(pool) : new HttpsAgent(pool));
  // every API call in a `stripe <METHOD> <path>` span (no-op without an OpenTelemetry SDK)
  config.httpClient = tracedStripeHttpClient(Stripe.createNodeHttpClient(config.httpAgent));
  return new Stripe(options.secretKey, config);
}

export type { Stripe };
