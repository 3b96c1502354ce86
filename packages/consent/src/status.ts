import { sql, type Kysely } from 'kysely';
import type { ConsentStatus, ConsentType } from './types.js';

/**
 * The status query behind `hasValidConsent` and the guard: one indexed lookup through
 * `swan_consent_status`, never cached. Arguments must already be validated.
 *
 * @example
 * ```ts
 * const { status } = await queryConsentStatus(db, clientId, 'ai_processing');
 * ```
 */
export async function queryConsentStatus(db: Kysely<any>, clientId: string, type: ConsentType, at?: Date): Promise<ConsentStatus> {
  const { rows } = await sql<{ status: ConsentStatus['status']; consented_version: string | null; required_version: string | null; current_version: string | null }>`
    select status, consented_version, required_version, current_version
      from swan_consent_status(${clientId}::uuid, ${type}, coalesce(${at ?? null}::timestamptz, now()))`.execute(db);
  const r = rows[0]!;
  return { status: r.status, consentedVersion: r.consented_version, requiredVersion: r.required_version, currentVersion: r.current_version };
}

