import { htmlPageRoute } from './html.js';
import type { DocumentedRoute } from '@swan/core';
import type { TierConfig } from '@swan/billing';

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function card(tier: TierConfig): string {
  return `<article class="tier" data-tier="${tier.id}">
  <h2>${escape(tier.name)}</h2>
  <p class="price"><strong>$${tier.monthlyPriceUsd}</strong>/month</p>
  <ul>${tier.features.map((f) => `<li>✓ ${escape(f)}</li>`).join('')}</ul>
  <a class="subscribe" data-tier="${tier.id}" aria-disabled="true" target="_blank" rel="noopener noreferrer">Sign in to subscribe</a>
</article>`;
}

/**
 * `GET /pricing`: the configured tiers' cards (a notice when no Payment Link is configured), each linking to this client's Payment Link
 * (`client_reference_id` and `prefilled_email` from `GET /api/billing/payment-links`), and a
 * "Manage subscription" button that opens the Stripe Customer Portal
 * (`POST /api/stripe/create-portal-session`).
 *
 * The page needs the client's bearer token to call those routes: it reads it from the URL
 * fragment (`/pricing#token=…`, never sent to the server or its logs), removes it from the address
 * bar, and keeps it in `localStorage` (`swan.token`); a form lets the client paste one. A real app
 * would use its own session instead.
 */
export function pricingPageRoute(tiers: readonly TierConfig[]): DocumentedRoute {
  return htmlPageRoute('/pricing', (nonce) => page(tiers, nonce), { summary: 'Pricing page: the tiers and their Payment Links' });
}

function page(tiers: readonly TierConfig[], nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SwanStudios AI tiers</title>
<style nonce="${nonce}">
  body { font-family: system-ui, sans-serif; margin: 0; background: #0a0a1a; color: #e8ecff; }
  main { max-width: 960px; margin: 0 auto; padding: 2rem 1rem; }
  .tiers { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 1rem; }
  .tier { background: rgba(255,255,255,.06); border: 1px solid rgba(120,160,255,.3); border-radius: 16px; padding: 1.25rem; }
  .price strong { font-size: 2rem; }
  a.subscribe, button { display: inline-block; padding: .6rem 1rem; border-radius: 10px; border: 0; background: #00c8ff; color: #001; text-decoration: none; font-weight: 600; cursor: pointer; }
  a.subscribe[aria-disabled="true"] { background: #445; color: #aab; pointer-events: none; }
  #status { min-height: 1.5rem; }
  form { margin: 1rem 0; display: flex; gap: .5rem; }
  input { flex: 1; padding: .5rem; border-radius: 8px; border: 1px solid #445; background: #111; color: #eee; }
</style>
</head>
<body>
<main>
  <h1>Choose your AI wing</h1>
  <form id="token-form"><input id="token" type="password" autocomplete="off" placeholder="Paste your access token" aria-label="Access token"><button type="submit">Use token</button></form>
  <p id="status" role="status"></p>
  ${tiers.length ? `<section class="tiers">${tiers.map(card).join('\n')}</section>` : '<p id="no-tiers">Subscriptions are not on sale yet: no Stripe Payment Links are configured.</p>'}
  <p><button id="manage" type="button">Manage subscription</button></p>
</main>
<script nonce="${nonce}">
(function () {
  var KEY = 'swan.token';
  var status = document.getElementById('status');
  var fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('token')) {
    localStorage.setItem(KEY, fragment.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
  }
  function token() { return localStorage.getItem(KEY); }
  function call(method, path) {
    return fetch(path, { method: method, headers: { authorization: 'Bearer ' + token() } })
      .then(function (res) { return res.json().then(function (body) { return { status: res.status, body: body }; }); });
  }
  function load() {
    if (!token()) { status.textContent = 'Sign in (paste your access token) to subscribe.'; return; }
    call('GET', '/api/billing/payment-links').then(function (r) {
      if (!r.body.success) { status.textContent = r.body.error.message; return; }
      r.body.tiers.forEach(function (tier) {
        var link = document.querySelector('a.subscribe[data-tier="' + tier.id + '"]');
        link.href = tier.url;
        link.setAttribute('aria-disabled', 'false');
        link.textContent = r.body.activeTier === tier.id ? 'Current plan' : 'Subscribe';
      });
      var sub = r.body.subscription;
      status.textContent = sub ? 'Your plan: ' + sub.tier + ' (' + sub.status + (sub.cancelAtPeriodEnd ? ', ends at period end' : '') + ')' : 'No subscription yet.';
    }, function () { status.textContent = 'Could not load your links.'; });
  }
  document.getElementById('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    localStorage.setItem(KEY, document.getElementById('token').value.trim());
    document.getElementById('token').value = '';
    load();
  });
  document.getElementById('manage').addEventListener('click', function () {
    call('POST', '/api/stripe/create-portal-session').then(function (r) {
      if (r.body.success) { location.assign(r.body.url); return; }
      status.textContent = r.status === 404 ? 'No subscription to manage yet.' : r.body.error.message;
    }, function () { status.textContent = 'Could not open the customer portal.'; });
  });
  load();
})();
</script>
</body>
</html>`;
}
