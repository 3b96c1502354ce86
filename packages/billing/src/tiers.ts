import { errors } from '@swan/core';

/** The subscription tiers, lowest first. */
export const TIER_IDS = ['tier_1', 'tier_2', 'tier_3'] as const;
export type TierId = (typeof TIER_IDS)[number];

/** One purchasable tier: its Stripe Payment Link and recurring price. */
export interface TierConfig {
  id: TierId;
  name: string;
  monthlyPriceUsd: number;
  features: readonly string[];
  /** The tier's Stripe Payment Link, e.g. `https://buy.stripe.com/test_…`. */
  paymentLinkUrl: string;
  /** The recurring Stripe price the link sells (`price_…`); maps subscriptions back to tiers. */
  priceId: string;
}

/** Names, prices and features of the three tiers; links and price ids come from configuration. */
export const TIER_CATALOG: Readonly<Record<TierId, Omit<TierConfig, 'paymentLinkUrl' | 'priceId'>>> = {
  tier_1: {
    id: 'tier_1',
    name: 'Silver AI Wing – AI Foundation',
    monthlyPriceUsd: 50,
    features: ['Weekly AI check-ins', 'Basic progress tracking', 'Monthly reports'],
  },
  tier_2: {
    id: 'tier_2',
    name: 'Gold Swan Wing – AI Performance',
    monthlyPriceUsd: 125,
    features: ['Daily AI check-ins', 'Photo progress analysis', 'Weekly reports', 'Everything in Silver'],
  },
  tier_3: {
    id: 'tier_3',
    name: 'Platinum Galaxy Wing – AI Elite',
    monthlyPriceUsd: 200,
    features: ['Unlimited AI Village queries', 'Priority trainer review', 'Everything in Gold'],
  },
};

/** True for `tier_1`, `tier_2` or `tier_3`. */
export function isTierId(value: unknown): value is TierId {
  return typeof value === 'string' && (TIER_IDS as readonly string[]).includes(value);
}

/**
 * Position of a tier in `tier_1 < tier_2 < tier_3` (0 for none).
 *
 * @example
 * ```ts
 * tierRank('tier_2') >= tierRank('tier_1'); // true
 * ```
 */
export function tierRank(tier: TierId | null): number {
  return tier ? TIER_IDS.indexOf(tier) + 1 : 0;
}

/**
 * Builds the three tiers from the catalog plus each tier's Payment Link and price id.
 *
 * @example
 * ```ts
 * const tiers = defineTiers({
 *   tier_1: { paymentLinkUrl: 'https://buy.stripe.com/test_1', priceId: 'price_1' },
 *   tier_2: { paymentLinkUrl: 'https://buy.stripe.com/test_2', priceId: 'price_2' },
 *   tier_3: { paymentLinkUrl: 'https://buy.stripe.com/test_3', priceId: 'price_3' },
 * });
 * ```
 */
export function defineTiers(
  links: Record<TierId, Pick<TierConfig, 'paymentLinkUrl' | 'priceId'> & Partial<TierConfig>>,
): TierConfig[] {
  return TIER_IDS.map((id) => {
    const tier = { ...TIER_CATALOG[id], ...links[id], id };
    try {
      new URL(tier.paymentLinkUrl);
    } catch {
      throw errors.validation(`Payment Link URL of ${id} is not a URL`);
    }
    if (!tier.priceId) throw errors.validation(`Price id of ${id} is missing`);
    return tier;
  });
}

/**
 * The tier variables (`STRIPE_PAYMENT_LINK_TIER_1..3`, `STRIPE_PRICE_TIER_1..3`) that are unset or
 * empty in `env`, in tier order. A production start with Stripe configured needs none missing.
 *
 * @example
 * ```ts
 * missingTierVariables({ STRIPE_PAYMENT_LINK_TIER_1: 'https://buy.stripe.com/test_1' });
 * // ['STRIPE_PRICE_TIER_1', 'STRIPE_PAYMENT_LINK_TIER_2', 'STRIPE_PRICE_TIER_2', 'STRIPE_PAYMENT_LINK_TIER_3', 'STRIPE_PRICE_TIER_3']
 * ```
 */
export function missingTierVariables(env: Record<string, string | undefined>): string[] {
  return [1, 2, 3].flatMap((n) => [`STRIPE_PAYMENT_LINK_TIER_${n}`, `STRIPE_PRICE_TIER_${n}`]).filter((name) => !env[name]);
}

/**
 * Reads the tiers from `STRIPE_PAYMENT_LINK_TIER_1..3` and `STRIPE_PRICE_TIER_1..3`: every tier
 * whose link and price are both set, in tier order (none when nothing is configured). Nothing is
 * ever made up: a tier with a link but no price, or a price but no link, throws `CONFIG_INVALID`
 * naming each missing variable (`details.variables`); a link that is not a URL throws
 * `VALIDATION_FAILED`. Stripe test-mode links (`https://buy.stripe.com/test_…`) are accepted.
 *
 * @example
 * ```ts
 * const tiers = tiersFromEnv(process.env); // [] until the links and prices are set
 * ```
 */
export function tiersFromEnv(env: Record<string, string | undefined>): TierConfig[] {
  const missing: string[] = [];
  const tiers: TierConfig[] = [];
  TIER_IDS.forEach((id, i) => {
    const link = env[`STRIPE_PAYMENT_LINK_TIER_${i + 1}`] || undefined;
    const price = env[`STRIPE_PRICE_TIER_${i + 1}`] || undefined;
    if (!link && !price) return;
    if (!link) missing.push(`STRIPE_PAYMENT_LINK_TIER_${i + 1}`);
    if (!price) missing.push(`STRIPE_PRICE_TIER_${i + 1}`);
    if (!link || !price) return;
    try {
      new URL(link);
    } catch {
      throw errors.validation(`STRIPE_PAYMENT_LINK_TIER_${i + 1} is not a URL`);
    }
    tiers.push({ ...TIER_CATALOG[id], paymentLinkUrl: link, priceId: price });
  });
  if (missing.length) {
    throw errors.configInvalid(`A tier needs both its Payment Link and its price: set ${missing.join(', ')}`, { variables: missing });
  }
  return tiers;
}

/** Who is buying: the client id (sent as `client_reference_id`) and, when known, the email. */
export interface PaymentLinkClient {
  id: string;
  email?: string | null;
}

/**
 * The tier's Payment Link for one client. Payment Link metadata is per link, not per buyer, so the
 * buyer is carried in `client_reference_id` (returned on `checkout.session.completed`) and the
 * email is prefilled.
 *
 * @example
 * ```ts
 * paymentLinkFor({ id: clientId, email: 'a+b@example.com' }, tiers[0]);
 * // https://buy.stripe.com/test_1?client_reference_id=…&prefilled_email=a%2Bb%40example.com
 * ```
 */
export function paymentLinkFor(client: PaymentLinkClient, tier: Pick<TierConfig, 'paymentLinkUrl'>): string {
  const url = new URL(tier.paymentLinkUrl);
  url.searchParams.set('client_reference_id', client.id);
  if (client.email) url.searchParams.set('prefilled_email', client.email);
  return url.toString();
}
