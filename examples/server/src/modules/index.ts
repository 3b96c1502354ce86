import type { ServerModule } from './types.js';

/**
 * Every package the example server mounts, in setup order (a module may use what earlier ones
 * put on the context: outbox first, then rate limits, then the rest).
 * Each package's module lives in its own file here.
 */
export const modules: ServerModule[] = [
  // outbox, ratelimit, pii, consent, schema, billing, checkins, ai — added by their packages
];
