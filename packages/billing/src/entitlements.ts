import { errors, isUuid, withActor, type Actor } from '@swan/core';
import { isTierId, tierRank, type TierId } from './tiers.js';
import type { Billing, BillingOptions, SubscriptionRow } from './types.js';
import { asService, ENTITLED } from './webhooks.js';

/**
 * Entitlements: the tier a client holds now (`trialing` and `active`, and `past_due` within the
 * grace period), the `requireTier` guard, and the client's subscriptions as an actor sees them.
 */
export function createEntitlements(options: BillingOptions): Pick<Billing, 'getActiveTier' | 'requireTier' | 'listSubscriptions'> {
  const { db } = options;
  const now = options.now ?? (() => new Date());
  const graceMs = (options.pastDueGraceDays ?? 3) * 86_400_000;

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
    getActiveTier,

    requireTier(tier, guardOptions = {}) {
      if (!isTierId(tier)) throw errors.validation(`Unknown tier ${String(tier)}`);
      return async (req) => {
        if (!req.actor) throw errors.unauthenticated();
        const clientId = guardOptions.clientId ? guardOptions.clientId(req) : req.actor.id;
        const active = clientId ? await getActiveTier(clientId) : null;
        if (tierRank(active) < tierRank(tier)) {
          throw errors.subscriptionRequired(`This feature needs the ${tier} subscription or higher`, { requiredTier: tier, activeTier: active });
        }
      };
    },

    listSubscriptions,
  };
}
