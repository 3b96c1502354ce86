export { migrations } from './generated/migrations.js';
export * from './types.js';
export {
  createConsent,
  type ConsentService,
  type ConsentServiceOptions,
  type PublishVersionInput,
  type GrantConsentInput,
  type RevokeConsentInput,
  type ExpiringConsent,
} from './consent.service.js';
export { requireConsentWith, type RequireConsentOptions } from './guard.js';
export { queryConsentStatus } from './status.js';
export { consentRoutes, type ConsentRoutesOptions } from './http.js';
export { CONSENT_VERSION_3_0, seedConsentVersion30 } from './seed.js';
export { consentProcessingRecord } from './ropa.js';
