import type { ColumnType, Generated } from 'kysely';

/**
 * The consent types of the spec. Anything else is rejected with `VALIDATION_FAILED`.
 *
 * @example
 * ```ts
 * CONSENT_TYPES.includes('ai_processing'); // true
 * ```
 */
export const CONSENT_TYPES = [
  'data_collection',
  'ai_processing',
  'third_party_sharing',
  'wearable_integration',
  'photo_analysis',
  'voice_transcription',
] as const;

/** One of {@link CONSENT_TYPES}. */
export type ConsentType = (typeof CONSENT_TYPES)[number];

/**
 * How consent was given (the proof's `consent_method`); `web_form` by default.
 *
 * @example
 * ```ts
 * await consent.grantConsent(admin, { clientId, consentType: 'data_collection', consentVersion: '3.0', consentMethod: 'paper' });
 * ```
 */
export const CONSENT_METHODS = ['web_form', 'email', 'paper', 'verbal'] as const;
/** One of {@link CONSENT_METHODS}. */
export type ConsentMethod = (typeof CONSENT_METHODS)[number];

/**
 * Largest `signatureData` accepted, in UTF-8 bytes (a larger one is `PAYLOAD_TOO_LARGE`).
 *
 * @example
 * ```ts
 * if (Buffer.byteLength(signature) > MAX_SIGNATURE_BYTES) askForSmallerImage();
 * ```
 */
export const MAX_SIGNATURE_BYTES = 64 * 1024;

/**
 * Reason recorded on the consent a new grant replaces.
 *
 * @example
 * ```ts
 * history.filter((c) => c.revokedReason === REPLACED_REASON);
 * ```
 */
export const REPLACED_REASON = 'Replaced by new consent';

/** `consent_versions` as Kysely sees it. */
export interface ConsentVersionsTable {
  version: string;
  effective_date: ColumnType<string, string, never>;
  full_text: string;
  summary: string | null;
  changes_from_previous: string | null;
  requires_re_consent: boolean;
  text_sha256: ColumnType<string, never, never>;
  /** Generated: the version's numbers, for ordering (3.10 after 3.9). */
  version_key: ColumnType<number[], never, never>;
  created_at: ColumnType<Date, never, never>;
}

/** `client_consents` as Kysely sees it. */
export interface ClientConsentsTable {
  id: Generated<string>;
  client_id: string;
  consent_version: string;
  consent_type: ConsentType;
  consent_granted: boolean;
  ip_address: string | null;
  user_agent: string | null;
  consent_method: ConsentMethod;
  signature_data: string | null;
  granted_at: ColumnType<Date, never, never>;
  expires_at: ColumnType<Date | null, Date | null | undefined, never>;
  revoked_at: ColumnType<Date | null, never, Date>;
  revoked_reason: ColumnType<string | null, never, string>;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, never, never>;
}

/**
 * The tables of `@swan/consent`, to merge into a host's Kysely database type.
 *
 * @example
 * ```ts
 * const db = createDatabase<ConsentDatabase & MyTables>({ url });
 * ```
 */
export interface ConsentDatabase {
  consent_versions: ConsentVersionsTable;
  client_consents: ClientConsentsTable;
}

/** A published consent text. */
export interface ConsentVersion {
  version: string;
  /** `YYYY-MM-DD`; the version counts (for re-consent) from this UTC date on. */
  effectiveDate: string;
  fullText: string;
  summary: string | null;
  changesFromPrevious: string | null;
  requiresReConsent: boolean;
  /** SHA-256 (hex) of the UTF-8 full text: proves the exact words agreed to. */
  textSha256: string;
  createdAt: string;
}

/** One ledger row: a grant or a recorded refusal, with its proof. */
export interface ClientConsent {
  id: string;
  clientId: string;
  consentType: ConsentType;
  consentVersion: string;
  consentGranted: boolean;
  ipAddress: string | null;
  userAgent: string | null;
  consentMethod: ConsentMethod;
  signatureData: string | null;
  grantedAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedReason: string | null;
  /** Not revoked (it may still be expired or outdated: see `hasValidConsent`). */
  active: boolean;
}

/** A ledger row with the text it refers to (`getClientConsents`, the export). */
export interface ClientConsentWithText extends ClientConsent {
  fullText: string;
  summary: string | null;
  textSha256: string;
  effectiveDate: string;
}

/**
 * Where a client stands for one consent type:
 * `valid`, `none` (never given or revoked), `declined` (the active record refuses), `expired`,
 * `reconsent` (given on a version older than the newest effective one that requires re-consent),
 * or `inactive` (the client is soft-deleted or erased: nothing that needs consent may run for them).
 */
export type ConsentState = 'valid' | 'none' | 'declined' | 'expired' | 'reconsent' | 'inactive';

/** Result of `consentStatus`. */
export interface ConsentStatus {
  status: ConsentState;
  /** Version of the active record, if any. */
  consentedVersion: string | null;
  /** Newest effective version that requires re-consent, if any. */
  requiredVersion: string | null;
  /** Newest effective version, the one to show when asking for (re-)consent; `null` when `status` is `valid`. */
  currentVersion: string | null;
}
