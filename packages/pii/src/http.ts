import { ok, verifyAuditChain, type ExportContributor, type Guard, type Route, type SwanRequest } from '@swan/core';
import type { PiiService } from './service.js';

/** Options of {@link piiRoutes}. */
export interface PiiRoutesOptions {
  service: PiiService;
  /** Data-subject export contributors of the other installed packages (read at request time). */
  exportContributors?: readonly ExportContributor[] | (() => readonly ExportContributor[]);
  /** Guards run before every route's handler (e.g. a rate limit). */
  guards?: readonly Guard[];
}

const reasonOf = (req: SwanRequest): unknown => (req.body as { reason?: unknown } | undefined)?.reason;

/**
 * The HTTP routes of API.md for clients, trainers, PII, training, delete, erase, export and audit
 * verification. Malformed ids are 400 `VALIDATION_FAILED`; an unassigned trainer gets 403
 * `FORBIDDEN`, an unknown client 404 `NOT_FOUND` (both audited on the PII route).
 *
 * @example
 * ```ts
 * mountSwan(app, piiRoutes({ service: pii, exportContributors }), { actor }); // mountSwan from @swan/express or @swan/fastify
 * ```
 */
export function piiRoutes(options: PiiRoutesOptions): Route[] {
  const s = options.service;
  const contributors = () => (typeof options.exportContributors === 'function' ? options.exportContributors() : options.exportContributors ?? []);
  const routes: Route[] = [
    {
      method: 'POST', path: '/api/clients', access: ['admin'],
      handler: async (req) => ok({ client: await s.createClient(req.actor!, req.body) }, 201),
    },
    {
      method: 'PUT', path: '/api/trainers/:trainerId/clients/:clientId', access: ['admin'], body: 'none',
      handler: async (req) => ok({ assignment: await s.assignTrainer(req.actor!, req.params.trainerId!, req.params.clientId!) }),
    },
    {
      // any authenticated caller reaches the service, so denied roles are audited too (403 FORBIDDEN)
      method: 'GET', path: '/api/clients/:clientId/pii', access: 'authenticated',
      handler: async (req) => ok({ pii: await s.getClientPII(req.params.clientId!, req.actor!, req.query.reason as string) }),
    },
    {
      method: 'GET', path: '/api/clients/:clientId/training', access: ['admin', 'trainer', 'ai_service'],
      handler: async (req) => ok({ training: await s.getTraining(req.params.clientId!, req.actor!) }),
    },
    {
      method: 'DELETE', path: '/api/clients/:clientId', access: ['admin'],
      handler: async (req) => ok({ client: await s.softDelete(req.params.clientId!, req.actor!, reasonOf(req) as string) }),
    },
    {
      method: 'POST', path: '/api/clients/:clientId/erase', access: ['admin'],
      handler: async (req) => ok({ client: await s.erase(req.params.clientId!, req.actor!, reasonOf(req) as string) }),
    },
    {
      method: 'GET', path: '/api/clients/:clientId/export', access: ['admin', 'client'],
      handler: async (req) => ok({ export: await s.exportClientData(req.params.clientId!, req.actor!, contributors()) }),
    },
    {
      method: 'GET', path: '/api/audit/verify', access: ['admin'],
      handler: async () => ok({ ...(await verifyAuditChain(s.db)) }),
    },
  ];
  return options.guards?.length ? routes.map((r) => ({ ...r, guards: [...options.guards!, ...(r.guards ?? [])] })) : routes;
}
