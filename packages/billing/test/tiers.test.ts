import { describe, expect, it } from 'vitest';
import type { SwanError } from '@swan/core';
import { missingTierVariables, tiersFromEnv } from '../src/index.js';

const link = (n: number) => `https://buy.stripe.com/test_${n}`;

describe('tiersFromEnv never invents Payment Links', () => {
  it('nothing configured: no tiers, every variable missing', () => {
    expect(tiersFromEnv({})).toEqual([]);
    expect(missingTierVariables({})).toEqual(['STRIPE_PAYMENT_LINK_TIER_1', 'STRIPE_PRICE_TIER_1', 'STRIPE_PAYMENT_LINK_TIER_2', 'STRIPE_PRICE_TIER_2', 'STRIPE_PAYMENT_LINK_TIER_3', 'STRIPE_PRICE_TIER_3']);
  });

  it('the tiers whose link and price are set, in order, with exactly those values (test-mode links included)', () => {
    const env = { STRIPE_PAYMENT_LINK_TIER_3: link(3), STRIPE_PRICE_TIER_3: 'price_3', STRIPE_PAYMENT_LINK_TIER_1: link(1), STRIPE_PRICE_TIER_1: 'price_1' };
    const tiers = tiersFromEnv(env);
    expect(tiers.map((t) => [t.id, t.paymentLinkUrl, t.priceId])).toEqual([['tier_1', link(1), 'price_1'], ['tier_3', link(3), 'price_3']]);
    expect(tiers[0]).toMatchObject({ name: 'Silver AI Wing – AI Foundation', monthlyPriceUsd: 50 });
    expect(JSON.stringify(tiers)).not.toMatch(/swan_tier|test_swan/);
    expect(missingTierVariables(env)).toEqual(['STRIPE_PAYMENT_LINK_TIER_2', 'STRIPE_PRICE_TIER_2']);
  });

  it('half a tier names the missing variables; a link that is no URL is refused', () => {
    let error: SwanError | undefined;
    try {
      tiersFromEnv({ STRIPE_PAYMENT_LINK_TIER_1: link(1), STRIPE_PRICE_TIER_2: 'price_2', STRIPE_PAYMENT_LINK_TIER_3: '', STRIPE_PRICE_TIER_3: '' });
    } catch (e) {
      error = e as SwanError;
    }
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', details: { variables: ['STRIPE_PRICE_TIER_1', 'STRIPE_PAYMENT_LINK_TIER_2'] } });
    expect(error!.message).toContain('STRIPE_PRICE_TIER_1');
    expect(() => tiersFromEnv({ STRIPE_PAYMENT_LINK_TIER_2: 'not a url', STRIPE_PRICE_TIER_2: 'price_2' })).toThrow(/STRIPE_PAYMENT_LINK_TIER_2 is not a URL/);
  });
});
