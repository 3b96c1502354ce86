/**
 * What happens to a policy's decisions while the shared store (Redis) is unreachable:
 * - `open`: requests are admitted. With `insurance` (the default) an in-process memory limiter with
 *   the same policy still counts them, so each app instance admits at most the policy's count.
 * - `closed`: requests are refused with 503 `UNAVAILABLE` (and `Retry-After`), because letting an
 *   expensive endpoint run unmetered costs more than a short refusal.
 *
 * @example
 * ```ts
 * createRateLimiter({ policies: { general: { failMode: 'closed' } } });
 * ```
 */
export type FailMode = 'open' | 'closed';

/**
 * One named rate-limit policy: `points` requests per `windowSeconds` per key (fixed window).
 *
 * @example
 * ```ts
 * const reports: RateLimitPolicy = { points: 30, windowSeconds: 3600, failMode: 'open' };
 * createRateLimiter({ policies: { reports } });
 * ```
 */
export interface RateLimitPolicy {
  /** Requests admitted per window and key. */
  points: number;
  /**
   * Window length in seconds. Windows are fixed, not started by a key's first request: each key's
   * windows are offset by a stable phase derived from the key (so keys do not all reset together).
   */
  windowSeconds: number;
  /** Behaviour while Redis is down; see {@link FailMode}. */
  failMode: FailMode;
  /** For `failMode: 'open'`: count in process memory while Redis is down (default true). */
  insurance?: boolean;
  /** Message of the 429 response. */
  message?: string;
}

/**
 * Partial override of a built-in policy, or a complete new policy.
 *
 * @example
 * ```ts
 * createRateLimiter({ policies: { aiQuery: { points: 20 } } });
 * ```
 */
export type PolicyOverride = Partial<RateLimitPolicy>;

/**
 * The spec's policies. `general` fails open (with the insurance limiter); the expensive ones fail closed.
 *
 * @example
 * ```ts
 * DEFAULT_POLICIES.aiQuery; // { points: 10, windowSeconds: 60, failMode: 'closed', … }
 * ```
 */
export const DEFAULT_POLICIES = {
  aiQuery: { points: 10, windowSeconds: 60, failMode: 'closed', message: 'Too many AI queries. Please wait before asking again.' },
  photoUpload: { points: 5, windowSeconds: 60, failMode: 'closed', message: 'Too many photo uploads. Please wait.' },
  twilioWebhook: { points: 2, windowSeconds: 60, failMode: 'closed', message: 'Too many check-in responses. Please wait.' },
  general: { points: 1000, windowSeconds: 15 * 60, failMode: 'open', insurance: true, message: 'Too many requests. Please try again later.' },
} as const satisfies Record<string, RateLimitPolicy>;

/**
 * Names of the built-in policies.
 *
 * @example
 * ```ts
 * const name: DefaultPolicyName = 'photoUpload';
 * ```
 */
export type DefaultPolicyName = keyof typeof DEFAULT_POLICIES;

const POLICY_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** Merges overrides into the defaults and validates every policy (throws on nonsense at startup). */
export function resolvePolicies(overrides: Record<string, PolicyOverride> = {}): Map<string, RateLimitPolicy> {
  const out = new Map<string, RateLimitPolicy>();
  const names = new Set([...Object.keys(DEFAULT_POLICIES), ...Object.keys(overrides)]);
  for (const name of names) {
    const base = (DEFAULT_POLICIES as Record<string, RateLimitPolicy>)[name];
    const merged = { failMode: 'open', ...base, ...overrides[name] } as RateLimitPolicy;
    if (!POLICY_NAME.test(name)) throw new TypeError(`Rate-limit policy name ${JSON.stringify(name)} must match ${POLICY_NAME}`);
    if (!Number.isSafeInteger(merged.points) || merged.points < 1) throw new TypeError(`Policy ${name}: points must be a positive integer`);
    if (!Number.isSafeInteger(merged.windowSeconds) || merged.windowSeconds < 1) throw new TypeError(`Policy ${name}: windowSeconds must be a positive integer`);
    if (merged.failMode !== 'open' && merged.failMode !== 'closed') throw new TypeError(`Policy ${name}: failMode must be 'open' or 'closed'`);
    out.set(name, { ...merged, insurance: merged.insurance ?? true });
  }
  return out;
}
