import { errors, objectSchema, ok, okSchema, type DocumentedRoute, type Guard, type JsonSchema, type SwanRequest } from '@swan/core';
import type { ConsentService, GrantConsentInput, PublishVersionInput, RevokeConsentInput } from './consent.service.js';
import { CONSENT_METHODS, CONSENT_TYPES, MAX_SIGNATURE_BYTES } from './types.js';
import { clientIdOf, consentTypeOf, objectOf } from './validation.js';

function actorOf(req: SwanRequest) {
  if (!req.actor) throw errors.unauthenticated();
  return req.actor;
}

const uuid = { type: 'string', format: 'uuid' } as const;
const version = { type: 'string', pattern: '^[0-9]{1,4}(\\.[0-9]{1,4}){0,3}$', maxLength: 10, description: 'e.g. "3.0"' } as const;
const consentType = { enum: [...CONSENT_TYPES] } as const;
const text = (maxLength: number) => ({ type: ['string', 'null'], maxLength });
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

/** A published consent text (`ConsentVersion`). */
const versionSchema = objectSchema({
  version: { type: 'string' }, effectiveDate: { type: 'string', format: 'date' }, fullText: { type: 'string' }, summary: { type: ['string', 'null'] },
  changesFromPrevious: { type: ['string', 'null'] }, requiresReConsent: { type: 'boolean' }, textSha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, createdAt: dateTime,
});
const consentProperties: Record<string, JsonSchema> = {
  id: uuid, clientId: uuid, consentType, consentVersion: { type: 'string' }, consentGranted: { type: 'boolean' }, ipAddress: { type: ['string', 'null'] },
  userAgent: { type: ['string', 'null'] }, consentMethod: { enum: [...CONSENT_METHODS] }, signatureData: { type: ['string', 'null'] }, grantedAt: dateTime,
  expiresAt: nullableDateTime, revokedAt: nullableDateTime, revokedReason: { type: ['string', 'null'] }, active: { type: 'boolean' },
};
/** One ledger row (`ClientConsent`). */
const consentSchema = objectSchema(consentProperties);
/** A ledger row with its text (`ClientConsentWithText`). */
const consentWithTextSchema = objectSchema({ ...consentProperties, fullText: { type: 'string' }, summary: { type: ['string', 'null'] }, textSha256: { type: 'string' }, effectiveDate: { type: 'string', format: 'date' } });
const TAGS = ['consent'];

/** Options of {@link consentRoutes}. */
export interface ConsentRoutesOptions {
  /** Guards run before every consent route, e.g. a general rate limit. */
  guards?: readonly Guard[];
}

/**
 * The consent routes of API.md, framework-free; mount them with `@swan/express` or
 * `@swan/fastify`.
 *
 * | route | who |
 * |---|---|
 * | `POST /api/consent/versions` | admin → 201 `{ version }` |
 * | `POST /api/consent/grant` | admin, the client → `{ consent }` (proof: `req.ip`, `User-Agent`); `consentGranted` required |
 * | `POST /api/consent/revoke` | admin, the client → `{ message, consent }`; nothing active → 404 |
 * | `GET /api/consent/:clientId` | admin, the client → `{ consents }` with text and summary |
 * | `GET /api/consent/check/:clientId/:consentType` | any authenticated → `{ hasConsent, status }` |
 *
 * @example
 * ```ts
 * import { mountSwan } from '@swan/express';
 * mountSwan(app, consentRoutes(createConsent({ db })), { actor: resolveActor });
 * ```
 */
export function consentRoutes(service: ConsentService, options: ConsentRoutesOptions = {}): DocumentedRoute[] {
  const routes: DocumentedRoute[] = [
    {
      method: 'POST',
      path: '/api/consent/versions',
      access: ['admin'],
      bodyLimit: 2 * 1024 * 1024,
      summary: 'Publish a consent text version (immutable once published)',
      tags: TAGS,
      schema: {
        body: objectSchema({
          version, effectiveDate: { type: 'string', format: 'date', description: 'YYYY-MM-DD (UTC): current from this date on' }, fullText: { type: 'string', minLength: 1, maxLength: 1_048_576 },
          summary: text(10_000), changesFromPrevious: text(10_000), requiresReConsent: { type: ['boolean', 'null'] },
        }, ['version', 'effectiveDate', 'fullText']),
        response: { status: 201, body: okSchema({ version: versionSchema }) },
        errors: ['CONFLICT'],
      },
      async handler(req) {
        const version = await service.publishVersion(actorOf(req), objectOf(req.body, 'The request body') as unknown as PublishVersionInput);
        return ok({ version }, 201);
      },
    },
    {
      method: 'POST',
      path: '/api/consent/grant',
      access: ['admin', 'client'],
      // room for the 64 KiB signature, so an oversized one gets the specific 413 message
      bodyLimit: 256 * 1024,
      summary: 'Record a grant or a refusal, with its proof (IP address and User-Agent of the request)',
      tags: TAGS,
      schema: {
        body: objectSchema({
          clientId: uuid, consentType, consentVersion: version, consentGranted: { type: 'boolean', description: 'true grants, false records a refusal' },
          consentMethod: { enum: [...CONSENT_METHODS, null] }, signatureData: { type: ['string', 'null'], description: `e.g. a base64 drawn signature, at most ${MAX_SIGNATURE_BYTES} bytes` },
          expiresAt: { ...nullableDateTime, description: 'For consents that lapse; in the future' },
        }, ['clientId', 'consentType', 'consentVersion', 'consentGranted']),
        response: { body: okSchema({ consent: consentSchema }) },
        errors: ['NOT_FOUND'],
      },
      async handler(req) {
        const body = objectOf(req.body, 'The request body');
        // An explicit yes or no: a request that says neither records nothing (the library's
        // grantConsent defaults to true; over HTTP the answer must be the client's own).
        if (typeof body.consentGranted !== 'boolean') {
          throw errors.validation('consentGranted is required: true to grant, false to record a refusal', { field: 'consentGranted' });
        }
        const input = {
          ...body,
          ipAddress: req.ip || null,
          userAgent: req.headers['user-agent'] ?? null,
        } as unknown as GrantConsentInput;
        const consent = await service.grantConsent(actorOf(req), input);
        return ok({ consent });
      },
    },
    {
      method: 'POST',
      path: '/api/consent/revoke',
      access: ['admin', 'client'],
      summary: 'Revoke the active consent of a type',
      tags: TAGS,
      schema: {
        body: objectSchema({ clientId: uuid, consentType, reason: { ...text(1000), description: 'Recorded with the revocation' } }, ['clientId', 'consentType']),
        response: { body: okSchema({ message: { type: 'string' }, consent: consentSchema }) },
        errors: ['NOT_FOUND'],
      },
      async handler(req) {
        const body = objectOf(req.body, 'The request body') as unknown as RevokeConsentInput;
        const consent = await service.revokeConsent(actorOf(req), body);
        return ok({ message: 'Consent revoked successfully', consent });
      },
    },
    {
      method: 'GET',
      path: '/api/consent/check/:clientId/:consentType',
      access: 'authenticated',
      body: 'none',
      summary: 'Whether a client has valid consent of a type',
      tags: TAGS,
      schema: {
        params: objectSchema({ clientId: uuid, consentType }),
        response: {
          body: okSchema({
            hasConsent: { type: 'boolean' },
            status: { enum: ['valid', 'none', 'declined', 'expired', 'reconsent', 'inactive'] },
            currentVersion: { type: ['string', 'null'], description: 'The version to show when asking for (re-)consent' },
          }),
        },
      },
      async handler(req) {
        const clientId = clientIdOf(req.params.clientId);
        const type = consentTypeOf(req.params.consentType);
        const s = await service.consentStatus(clientId, type);
        return ok({ hasConsent: s.status === 'valid', status: s.status, currentVersion: s.currentVersion });
      },
    },
    {
      method: 'GET',
      path: '/api/consent/:clientId',
      access: ['admin', 'client'],
      body: 'none',
      summary: 'Every consent record of a client, with the text agreed to',
      tags: TAGS,
      schema: { params: objectSchema({ clientId: uuid }), response: { body: okSchema({ consents: { type: 'array', items: consentWithTextSchema } }) } },
      async handler(req) {
        const consents = await service.getClientConsents(actorOf(req), req.params.clientId ?? '');
        return ok({ consents });
      },
    },
  ];
  return options.guards?.length ? routes.map((r) => ({ ...r, guards: [...options.guards!, ...(r.guards ?? [])] })) : routes;
}
