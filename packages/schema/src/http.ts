import { ok, type Guard, type Route } from '@swan/core';
import { createMasterPromptService, type MasterPromptService, type MasterPromptServiceOptions } from './master-prompt.service.js';

/** Path of the master prompt routes (API.md). */
export const MASTER_PROMPT_PATH = '/api/clients/:clientId/master-prompt';

/** Largest accepted master prompt body (free-text fields add up). */
export const MASTER_PROMPT_BODY_LIMIT = 512 * 1024;

/**
 * `POST` and `GET /api/clients/:clientId/master-prompt` for `@swan/express` / `@swan/fastify`.
 * POST (admin, assigned trainer) validates (version, then schema) and answers 201 with the stored
 * version; GET (admin, assigned trainer, ai_service) answers the newest version or 404.
 * Both answer `{ success: true, clientId, version, schemaVersion, createdAt, createdBy, masterPrompt }`.
 * `guards` (e.g. a rate limit) run before both handlers.
 *
 * @example
 * ```ts
 * mountRoutes(app, masterPromptRoutes({ db, events: outbox }), { actor });
 * ```
 */
export function masterPromptRoutes(
  options: (MasterPromptServiceOptions | { service: MasterPromptService }) & { guards?: readonly Guard[] },
): Route[] {
  const service = 'service' in options ? options.service : createMasterPromptService(options);
  const guards = options.guards ?? [];
  return [
    {
      method: 'POST',
      path: MASTER_PROMPT_PATH,
      access: ['admin', 'trainer'],
      bodyLimit: MASTER_PROMPT_BODY_LIMIT,
      guards,
      handler: async (req) => ok({ ...(await service.save(req.actor, req.params.clientId ?? '', req.body)) }, 201),
    },
    {
      method: 'GET',
      path: MASTER_PROMPT_PATH,
      access: ['admin', 'trainer', 'ai_service'],
      body: 'none',
      guards,
      handler: async (req) => ok({ ...(await service.latest(req.actor, req.params.clientId ?? '')) }),
    },
  ];
}
