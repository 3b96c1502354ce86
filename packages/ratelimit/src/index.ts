export {
  createRateLimiter,
  rateLimitHeaders,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitDecision,
  type RateLimitAlert,
  type TopViolatorsOptions,
  type DecisionSource,
} from './ratelimit.service.js';
export { DEFAULT_POLICIES, type RateLimitPolicy, type PolicyOverride, type FailMode, type DefaultPolicyName } from './policies.js';
export { clientKey, twilioSenderKey, type KeyFunction } from './keys.js';
export { redisClientOptions, type Violator } from './stores.js';
export { rateLimitRoutes } from './http.js';
export { tierLimits, type TierLimitsOptions } from './tiers.js';
