import { swanInstruments } from '@swan/core';
import type { RateLimitDecision } from './ratelimit.service.js';

// Rate-limit metrics through @opentelemetry/api (no-ops without an SDK). Keys are never recorded:
// only the policy, the decision and where it was made.

const instruments = swanInstruments('@swan/ratelimit', (meter) => ({
  decisions: meter.createCounter('swan.ratelimit.decisions', {
    description: 'Rate-limit decisions by policy, decision (allowed or rejected) and source (redis, memory, insurance, fail-open, fail-closed).',
    unit: '{decision}',
  }),
  rejections: meter.createCounter('swan.ratelimit.rejections', {
    description: 'Rejected requests by policy (429, or 503 when a fail-closed policy cannot reach Redis).',
    unit: '{request}',
  }),
}));

/** Counts one decision in `swan.ratelimit.decisions` (and `swan.ratelimit.rejections` when it rejects). */
export function recordDecision(d: Pick<RateLimitDecision, 'allowed' | 'policy' | 'source'>): void {
  const m = instruments();
  m.decisions.add(1, { policy: d.policy, decision: d.allowed ? 'allowed' : 'rejected', source: d.source });
  if (!d.allowed) m.rejections.add(1, { policy: d.policy });
}
