import { htmlPageRoute } from './html.js';
import { LEGAL_PAGE_PATH, renderPage } from './layout.js';
import type { DocumentedRoute } from '@swan/core';

const STYLE = `
.legal { max-width: 68ch; }
.legal section { margin-bottom: 2rem; scroll-margin-top: 1rem; }
.legal ul { padding-left: 1.25rem; }
`;

/**
 * `GET /legal`: the page every footer links to, one section each for the terms of service
 * (`#terms`), privacy (`#privacy`) and cancellation (`#cancellation`). It states what the example
 * server does with a client's data and subscription; a business running it puts its own terms here.
 */
export function legalPageRoute(): DocumentedRoute {
  return htmlPageRoute(LEGAL_PAGE_PATH, (nonce) => renderPage({ nonce, title: 'Terms, privacy and cancellation — SwanStudios', style: STYLE, main: MAIN }), {
    summary: 'Terms, privacy and cancellation (the pages\' footer links)',
  });
}

const MAIN = `<div class="legal">
<h1>Terms, privacy and cancellation</h1>
<p class="lede">How SwanStudios handles your subscription and your personal data.</p>
<section id="terms" aria-labelledby="terms-title">
  <h2 id="terms-title">Terms of service</h2>
  <p>A subscription gives you the features of its tier for each month you pay for. Payments are taken by Stripe on our behalf;
     we never see or store your card details. Your coach's advice does not replace medical advice: tell your trainer about
     injuries, medications and allergies before training.</p>
</section>
<section id="privacy" aria-labelledby="privacy-title">
  <h2 id="privacy-title">Privacy</h2>
  <ul>
    <li>Your name, email, phone number, date of birth, emergency contact and address are stored encrypted, apart from your training data.</li>
    <li>Trainers and the AI coach work with your training data and a pseudonym (your Galaxy-Swan alias), not your name.</li>
    <li>Every read of your personal data is recorded with its purpose in a tamper-evident audit log.</li>
    <li>You can ask for a copy of everything held about you, for corrections, for processing to be paused (restricted), and for erasure.
        Erasure destroys your encryption key, so your personal data can no longer be read by anyone.</li>
    <li>The AI coach and photo analysis are used only with your consent, which you can withdraw at any time.</li>
  </ul>
</section>
<section id="cancellation" aria-labelledby="cancellation-title">
  <h2 id="cancellation-title">Cancellation</h2>
  <p>Cancel any time from <a href="/pricing">Pricing</a> → <strong>Manage subscription</strong>, which opens Stripe's customer portal.
     Your plan stays active until the end of the month already paid for and is not renewed after it.</p>
</section>
</div>`;
