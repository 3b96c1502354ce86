import { htmlPageRoute } from './html.js';
import { escapeHtml, renderPage } from './layout.js';
import type { DocumentedRoute } from '@swan/core';
import { TIER_CATALOG, TIER_IDS, type TierConfig } from '@swan/billing';

const STYLE = `
.tiers { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 1rem; margin: 0 0 2rem; }
.tier { display: flex; flex-direction: column; }
.tier.current { border-color: var(--accent); box-shadow: 0 0 0 1px var(--accent); }
.price { margin: 0 0 1rem; }
.price .amount { font-size: 2.25rem; font-weight: 700; line-height: 1; }
.features { flex: 1; margin: 0 0 1.25rem; padding-left: 1.5rem; list-style-type: "✓  "; }
.features li { margin-bottom: .4rem; }
.features li::marker { color: var(--accent); font-weight: 700; }
.tier .cta { width: 100%; }
.tier p.cta { display: flex; align-items: center; justify-content: center; min-height: 2.75rem; margin: 0; border: 1px dashed var(--border); border-radius: 8px; color: var(--muted); }
.tier .badge { align-self: flex-start; margin: 0 0 .5rem; padding: .1rem .6rem; border-radius: 999px; background: var(--accent); color: var(--accent-text); font-size: .85rem; font-weight: 700; }
#account { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .75rem 1rem; }
#account p { margin: 0; }
`;

/**
 * `GET /pricing`: the customer's page. Three cards (name, monthly price, features, one call to
 * action at the same height on each card), and the client's account line above them:
 *
 * - signed out: a sign-in hint, and each card's button reads "Sign in to subscribe";
 * - signed in as a client: each button opens this client's Payment Link (`client_reference_id`
 *   and `prefilled_email`, from `GET /api/billing/payment-links`), the current plan is marked, and
 *   "Manage subscription" (only with a subscription) opens the Stripe Customer Portal
 *   (`POST /api/stripe/create-portal-session`);
 * - no Payment Links configured: the tiers are shown with a "billing is not configured" notice and
 *   no buttons, so nothing leads to a Stripe error page.
 *
 * The client arrives signed in with the token in the fragment (`/pricing#token=…`, never sent to
 * the server or its logs): it is kept in this tab's `sessionStorage` and removed from the address
 * bar at once. A real app would use its own session instead.
 */
export function pricingPageRoute(tiers: readonly TierConfig[]): DocumentedRoute {
  return htmlPageRoute('/pricing', (nonce) => page(tiers, nonce), { summary: 'Pricing page: the tiers and their Payment Links' });
}

function card(tier: Omit<TierConfig, 'paymentLinkUrl' | 'priceId'>, onSale: boolean): string {
  const cta = onSale
    ? `<a class="button cta subscribe" data-tier="${tier.id}" aria-disabled="true">Sign in to subscribe</a>`
    : '<p class="cta">Not available online yet</p>';
  return `<article class="tier card" data-tier="${tier.id}" aria-labelledby="${tier.id}-name">
  <h2 id="${tier.id}-name">${escapeHtml(tier.name)}</h2>
  <p class="price"><span class="amount">$${tier.monthlyPriceUsd}</span> <span class="muted">per month</span></p>
  <ul class="features">${tier.features.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>
  ${cta}
</article>`;
}

function page(tiers: readonly TierConfig[], nonce: string): string {
  const configured = tiers.length > 0;
  const cards = TIER_IDS.map((id) => {
    const onSale = tiers.find((t) => t.id === id);
    return card(onSale ?? TIER_CATALOG[id], Boolean(onSale));
  }).join('\n');
  const main = `<h1>Choose your plan</h1>
<p class="lede">AI coaching between your sessions with your SwanStudios trainer. Pay monthly, cancel any time.</p>
${configured ? '' : `<div class="notice warning" id="billing-unconfigured" role="note">
  <p><strong>Online subscriptions are not available yet.</strong> Billing is not configured on this server, so plans can't be bought here. Ask your trainer to sign you up.</p>
</div>`}
<section id="account" class="notice" aria-label="Your account">
  <p id="account-message">You're not signed in. Sign in to your SwanStudios account to subscribe or to manage your plan.</p>
  <button id="manage" type="button" hidden>Manage subscription</button>
</section>
<section class="tiers" aria-label="Plans">
${cards}
</section>`;
  return renderPage({ nonce, title: 'Plans and pricing — SwanStudios', style: STYLE, main, script: script(configured) });
}

const script = (configured: boolean) => `(function () {
  'use strict';
  var CONFIGURED = ${configured};
  var message = document.getElementById('account-message');
  var manage = document.getElementById('manage');
  var STATUS = { trialing: 'in its trial', active: 'active', past_due: 'waiting for a payment', unpaid: 'unpaid', paused: 'paused',
    incomplete: 'waiting for the first payment', incomplete_expired: 'not started', canceled: 'canceled' };
  swanSession.showIn(document.getElementById('session'));
  if (!swanSession.token()) return;

  function say(text) { message.textContent = text; }
  function day(iso) {
    var d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleDateString('en-US', { year: 'numeric', month: 'long', day: 'numeric' });
  }
  function tierName(id) {
    var heading = document.getElementById(id + '-name');
    return heading ? heading.textContent : id;
  }

  say('Loading your plan…');
  swanSession.api('GET', '/api/billing/payment-links').then(function (r) {
    if (r.status === 401) { swanSession.signOut(); swanSession.showIn(document.getElementById('session')); say('Your sign-in has expired. Sign in again to subscribe or to manage your plan.'); return; }
    if (r.status === 403) { say('Plans are bought by clients: this account can\\'t subscribe.'); return; }
    if (!r.body.success) { say('Your plan could not be loaded: ' + r.body.error.message); return; }
    var body = r.body;
    body.tiers.forEach(function (tier) {
      var link = document.querySelector('a.subscribe[data-tier="' + tier.id + '"]');
      if (!link) return;
      if (body.activeTier === tier.id) {
        var current = document.createElement('p');
        current.className = 'cta';
        current.textContent = 'Your current plan';
        link.replaceWith(current);
        var card = document.querySelector('article.tier[data-tier="' + tier.id + '"]');
        card.classList.add('current');
        var badge = document.createElement('p');
        badge.className = 'badge';
        badge.textContent = 'Current plan';
        card.prepend(badge);
        return;
      }
      link.href = tier.url;
      link.removeAttribute('aria-disabled');
      link.textContent = body.activeTier ? 'Switch to this plan' : 'Subscribe';
    });
    var sub = body.subscription;
    if (!sub) { say(CONFIGURED ? 'You don\\'t have a plan yet: choose one below.' : 'You don\\'t have a plan yet.'); return; }
    var end = day(sub.currentPeriodEnd);
    say('Your plan: ' + tierName(sub.tier) + ', ' + (STATUS[sub.status] || sub.status) +
      (end ? (sub.cancelAtPeriodEnd ? '; it ends on ' + end + '.' : '; it renews on ' + end + '.') : '.'));
    manage.hidden = !CONFIGURED;
  });

  manage.addEventListener('click', function () {
    manage.disabled = true;
    swanSession.api('POST', '/api/stripe/create-portal-session').then(function (r) {
      if (r.body.success) { location.assign(r.body.url); return; }
      manage.disabled = false;
      say(r.status === 404 ? 'You have no subscription to manage yet.' : 'The subscription portal could not be opened: ' + r.body.error.message);
    });
  });
})();
`;
