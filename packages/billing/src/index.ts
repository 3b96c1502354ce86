export { migrations } from './generated/migrations.js';
export * from './tiers.js';
export * from './stripe-client.js';
export {
  createBilling,
  HANDLED_EVENT_TYPES,
  SUBSCRIPTION_STATUSES,
  type Billing,
  type BillingLogger,
  type BillingOptions,
  type SubscriptionRow,
  type SubscriptionStatus,
  type WebhookResult,
} from './billing.service.js';
export { billingRoutes, type BillingRoutesOptions } from './http.js';
export { billingRetentionRules, type BillingRetentionRule } from './retention.js';
