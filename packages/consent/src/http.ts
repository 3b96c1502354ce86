import { errors, ok, type Guard, type Route, type SwanRequest } from '@swan/core';
import type { ConsentService, GrantConsentInput, PublishVersionInput, RevokeConsentInput } from './consent.service.js';
import { clientIdOf, consentTypeOf, objectOf } from './validation.js';

function actorOf(req: SwanRequest) {
  if (!req.actor) throw errors.unauthenticated();
  return req.actor;
}

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
export function consentRoutes(service: ConsentService, options: ConsentRoutesOptions = {}): Route[] {
  const routes: Route[] = [
    {
      method: 'POST',
      path: '/api/consent/versions',
      access: ['admin'],
      bodyLimit: 2 * 1024 * 1024,
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
      async handler(req) {
        const consents = await service.getClientConsents(actorOf(req), req.params.clientId ?? '');
        return ok({ consents });
      },
    },
  ];
  return options.guards?.length ? routes.map((r) => ({ ...r, guards: [...options.guards!, ...(r.guards ?? [])] })) : routes;
}
