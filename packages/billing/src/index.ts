export { migrations } from './generated/migrations.js';
export * from './tiers.js';
export * from './stripe-client.js';
export { createBilling } from './billing.service.js';
export { HANDLED_EVENT_TYPES, SUBSCRIPTION_STATUSES } from './webhooks.js';
export type { Billing, BillingLogger, BillingOptions, SubscriptionRow, SubscriptionStatus, WebhookResult } from './types.js';
export { billingRoutes, type BillingRoutesOptions } from './http.js';
export { billingRetentionRules, type BillingRetentionRule } from './retention.js';
export { billingProcessingRecord } from './ropa.js';
