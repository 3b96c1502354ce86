import { migrations as piiMigrations, type PiiService } from '@swan/pii';
import { createConsent, consentRoutes, migrations as consentMigrations, seedConsentVersion30 } from '@swan/consent';
import type { ServerModule } from './types.js';

/**
 * Consent ledger of the example server: seeds consent version 3.0 on boot when absent, mounts
 * the `/api/consent/*` routes of API.md (under the `general` rate limit when installed), publishes
 * `consent_granted` / `consent_revoked` through the outbox when installed, contributes `consents`
 * to the data-subject export and shares the service as `ctx.services.consent` (later modules guard
 * their routes with `consent.requireConsent('ai_processing')`). The proof of consent (IP address,
 * user agent, signature data) and given revocation reasons are sealed under the client's data key
 * with the PII service's sealer, so erasure shreds them.
 */
export const consentModule: ServerModule = {
  name: 'consent',
  migrations: [piiMigrations, consentMigrations],
  async setup(ctx) {
    const pii = ctx.services.pii as PiiService | undefined;
    const service = createConsent({ db: ctx.db, ...(ctx.events ? { events: ctx.events } : {}), ...(pii ? { sealer: pii.sealer } : {}) });
    if (await seedConsentVersion30(ctx.db)) ctx.logger.info('consent: published seed consent version 3.0');
    ctx.exportContributors.push(service.exportContributor());
    ctx.services.consent = service;
    const general = ctx.rateLimit?.('general');
    return { routes: consentRoutes(service, general ? { guards: [general] } : {}) };
  },
};
