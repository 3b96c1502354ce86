import type { ServerModule } from './types.js';
import { adminModule } from './admin.js';
import { aiModule } from './ai.js';
import { outboxModule } from './outbox.js';
import { billingModule } from './billing.js';
import { checkinsModule } from './checkins.js';
import { consentModule } from './consent.js';
import { piiModule } from './pii.js';
import { ratelimitModule } from './ratelimit.js';
import { schemaModule } from './schema.js';

/**
 * Every package the example server mounts, in setup order (a module may use what earlier ones
 * put on the context: outbox first, then rate limits, then the rest).
 * Each package's module lives in its own file here.
 */
export const modules: ServerModule[] = [
  // outbox, ratelimit, pii, consent, schema, billing, checkins, ai — added by their packages
  outboxModule,
  ratelimitModule,
  piiModule,
  consentModule,
  schemaModule,
  billingModule,
  checkinsModule,
  aiModule,
  adminModule,
];
