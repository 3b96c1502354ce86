import { objectSchema, ok, okSchema, type DocumentedRoute, type Guard } from '@swan/core';
import { masterPromptSchema } from './generated/schema.js';
import { createMasterPromptService, type MasterPromptService, type MasterPromptServiceOptions } from './master-prompt.service.js';
import type { MasterPrompt } from './types.js';

const uuid = { type: 'string', format: 'uuid' } as const;
/** A stored version, as both routes answer it (the master prompt itself is the v3 schema, referenced). */
const recordSchema = okSchema({
  clientId: uuid,
  version: { type: 'integer', minimum: 1 },
  schemaVersion: { type: 'string' },
  createdAt: { type: 'string', format: 'date-time' },
  createdBy: uuid,
  masterPrompt: masterPromptSchema,
});

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
): DocumentedRoute[] {
  const service = 'service' in options ? options.service : createMasterPromptService(options);
  const guards = options.guards ?? [];
  return [
    {
      method: 'POST',
      path: MASTER_PROMPT_PATH,
      access: ['admin', 'trainer'],
      bodyLimit: MASTER_PROMPT_BODY_LIMIT,
      guards,
      summary: 'Store a new version of a client\'s master prompt (validated against schema v3)',
      tags: ['master-prompt'],
      schema: {
        params: objectSchema({ clientId: uuid }),
        body: masterPromptSchema,
        response: { status: 201, body: recordSchema },
        errors: ['SCHEMA_VALIDATION_FAILED', 'MISSING_SCHEMA_VERSION', 'INCOMPATIBLE_SCHEMA_VERSION', 'NOT_FOUND'],
      },
      handler: async (req) => ok({ ...(await service.save(req.actor, req.params.clientId ?? '', req.body as MasterPrompt)) }, 201),
    },
    {
      method: 'GET',
      path: MASTER_PROMPT_PATH,
      access: ['admin', 'trainer', 'ai_service'],
      body: 'none',
      guards,
      summary: 'The newest version of a client\'s master prompt (no PII in it)',
      tags: ['master-prompt'],
      schema: { params: objectSchema({ clientId: uuid }), response: { body: recordSchema }, errors: ['NOT_FOUND', 'PROCESSING_RESTRICTED'] },
      handler: async (req) => ok({ ...(await service.latest(req.actor, req.params.clientId ?? '')) }),
    },
  ];
}
