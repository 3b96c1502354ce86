import { sql, type Kysely } from 'kysely';
import { errors, isUuid, type Guard, type SwanRequest } from '@swan/core';
import { queryConsentStatus } from './status.js';
import type { ConsentType } from './types.js';
import { consentTypeOf } from './validation.js';

/** Options of `requireConsent`. */
export interface RequireConsentOptions {
  /**
   * Which client the request concerns. Default: the `:clientId` route parameter, else the
   * caller's own id when the caller is a client.
   */
  clientId?: (req: SwanRequest) => string | undefined;
}

function defaultClientId(req: SwanRequest): string | undefined {
  if (req.params.clientId !== undefined) return req.params.clientId;
  return req.actor?.role === 'client' ? req.actor.id : undefined;
}

/**
 * Builds the consent guard over a database handle (`ConsentService#requireConsent` is the usual
 * way in). Each request runs one indexed query (`swan_consent_status`, security definer, so it
 * works for any caller, ai_service included) and caches nothing: a revocation is effective on
 * the very next request.
 *
 * First, while processing of the client's data is restricted (GDPR Art. 18, `@swan/pii`'s
 * `restrict`), it denies with 403 `PROCESSING_RESTRICTED` whatever the consent says. Then it
 * denies with 403 `CONSENT_REQUIRED` (details `{ consentType, status }`) or 403
 * `RECONSENT_REQUIRED` (details `{ consentType, version, consentedVersion, requiredVersion }`,
 * where `version` is the text to show); a soft-deleted or erased client gets 404 `NOT_FOUND`.
 *
 * @example
 * ```ts
 * import { expressGuard } from '@swan/express';
 * app.post('/photos', expressGuard(requireConsentWith(db, 'photo_analysis')), upload);
 * ```
 */
export function requireConsentWith(db: Kysely<any>, type: ConsentType, options: RequireConsentOptions = {}): Guard {
  const consentType = consentTypeOf(type);
  const pick = options.clientId ?? defaultClientId;
  return async (req) => {
    if (!req.actor) throw errors.unauthenticated();
    const clientId = pick(req);
    if (clientId === undefined || clientId === '') throw errors.forbidden('This request concerns no client, so consent cannot be checked');
    if (!isUuid(clientId)) throw errors.validation('clientId must be a UUID', { field: 'clientId' });
    const id = clientId.toLowerCase();
    // restriction of processing comes before consent: a restricted client's data is not processed
    const { rows } = await sql<{ restricted: boolean }>`select swan_pii_client_restricted(${id}::uuid) as restricted`.execute(db);
    if (rows[0]?.restricted) throw errors.processingRestricted("Processing of this client's data is restricted", { consentType });
    const s = await queryConsentStatus(db, id, consentType);
    if (s.status === 'valid') return;
    if (s.status === 'inactive') throw errors.notFound('Client not found');
    if (s.status === 'reconsent') {
      throw errors.reconsentRequired(`Consent to version ${s.currentVersion} of the terms is required for ${consentType}`, {
        consentType,
        version: s.currentVersion,
        consentedVersion: s.consentedVersion,
        requiredVersion: s.requiredVersion,
      });
    }
    throw errors.consentRequired(`Consent for ${consentType} is required`, { consentType, status: s.status, version: s.currentVersion });
  };
}
