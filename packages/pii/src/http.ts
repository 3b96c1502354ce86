import { objectSchema, ok, okSchema, verifyAuditChain, type DocumentedRoute, type ExportContributor, type Guard, type JsonSchema, type SwanRequest } from '@swan/core';
import { EXPORT_FORMATS, EXPORT_HTML_CONTENT_TYPE, EXPORT_HTML_HEADERS, exportFormatOf, renderExportHtml } from './export-html.js';
import type { PiiService } from './pii.service.js';
import { DEFAULT_PURPOSES, RECORD_CODES } from './purposes.js';
import type { RecordedReason } from './types.js';
import { TRAINING_COLUMNS, type CreateClientInput } from './validation.js';

/** Options of {@link piiRoutes}. */
export interface PiiRoutesOptions {
  service: PiiService;
  /** Data-subject export contributors of the other installed packages (read at request time). */
  exportContributors?: readonly ExportContributor[] | (() => readonly ExportContributor[]);
  /** Guards run before every route's handler (e.g. a rate limit). */
  guards?: readonly Guard[];
}

/** A change's `{ reason, code? }` body as the service takes it (checked there). */
const reasonOf = (req: SwanRequest): RecordedReason => {
  const body = req.body as { reason?: unknown; code?: unknown } | undefined;
  return (body?.code === undefined ? body?.reason : { reason: body.reason, code: body.code }) as RecordedReason;
};

const uuid = { type: 'string', format: 'uuid' } as const;
const nullable = (schema: Record<string, unknown>): JsonSchema => ({ ...schema, type: [schema.type as string, 'null'] });
const text = (maxLength: number) => ({ type: 'string', maxLength });
const date = { type: 'string', format: 'date', description: 'YYYY-MM-DD' } as const;
const stringMap = { type: 'object', additionalProperties: text(500) } as const;

/** The PII fields (API.md's names), as `createClient` checks them. */
const PII_PROPERTIES: Record<string, JsonSchema> = {
  full_name: { ...text(200), minLength: 1 },
  preferred_name: nullable(text(200)),
  date_of_birth: { ...date, description: 'YYYY-MM-DD, in the past, at most 150 years ago' },
  email: { type: 'string', format: 'email' },
  phone_number: { type: ['string', 'null'], description: 'E.164, or national in the default country' },
  blood_type: { enum: ['A+', 'A-', 'B+', 'B-', 'AB+', 'AB-', 'O+', 'O-', null] },
  emergency_contact: { ...stringMap, properties: { name: text(500), relationship: text(500), phone: text(500) } },
  address: { type: ['object', 'null'], additionalProperties: text(500), properties: { street: text(500), city: text(500), state: text(500), zip: text(500) } },
};

const KIND_SCHEMA: Record<string, Record<string, unknown>> = {
  int: { type: 'integer' }, num: { type: 'number' }, text: { type: 'string' }, date, bool: { type: 'boolean' }, array: { type: 'array' }, object: { type: 'object' },
};

/** The training fields, from the same column table the service validates with. */
const TRAINING_PROPERTIES: Record<string, JsonSchema> = Object.fromEntries(
  Object.entries(TRAINING_COLUMNS).map(([name, c]) => {
    const s: Record<string, unknown> = { ...KIND_SCHEMA[c.kind] };
    if (c.kind === 'text' && c.max !== undefined) s.maxLength = c.max;
    else if (c.min !== undefined) Object.assign(s, { minimum: c.min, maximum: c.max });
    if (c.values) s.enum = [...c.values, null];
    return [name, { ...s, type: [s.type ?? 'string', 'null'] }];
  }),
);

/** Body of `POST /api/clients` ({@link CreateClientInput}). */
export const CREATE_CLIENT_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['pii'],
  properties: {
    pii: { type: 'object', additionalProperties: false, required: ['full_name', 'date_of_birth', 'email', 'emergency_contact'], properties: PII_PROPERTIES },
    training: { type: 'object', additionalProperties: false, properties: TRAINING_PROPERTIES },
  },
};

const clientParams = objectSchema({ clientId: uuid });
const reasonBody = objectSchema({
  reason: { ...text(500), minLength: 1, description: 'Why, 1 to 500 characters: stored sealed under the client\'s data key (erasure shreds it)' },
  code: { enum: [...RECORD_CODES], description: 'The record code the audit entry keeps in plaintext (defaults: data_subject_request for erase, restrict and unrestrict; operator_request for delete)' },
}, ['reason']);
const alias = { type: ['string', 'null'], description: 'Galaxy-Swan alias' } as const;
const piiRecord = objectSchema({ clientId: uuid, alias, ...Object.fromEntries(Object.entries(PII_PROPERTIES).map(([k, v]) => [k, typeof v === 'object' && typeof v.type === 'string' ? nullable(v) : v])) });
const trainingRecord = objectSchema({ clientId: uuid, alias, age: { type: 'integer' }, ...TRAINING_PROPERTIES });
const TAGS = ['pii'];
const rectified = okSchema({ client: objectSchema({ clientId: uuid, fields: { type: 'array', items: { type: 'string' }, description: 'Names of the fields set (never their values)' } }) });
/** Body of `PATCH /api/clients/:clientId/pii`: any subset of the PII fields. */
const PII_CHANGES_SCHEMA: JsonSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties: PII_PROPERTIES };
/** Body of `PATCH /api/clients/:clientId/training`: any subset of the training fields. */
const TRAINING_CHANGES_SCHEMA: JsonSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties: TRAINING_PROPERTIES };
const clientListEntry = objectSchema({ clientId: uuid, alias, status: { enum: ['active', 'restricted', 'deleted', 'erased'] }, createdAt: { type: 'string', format: 'date-time' } });
const changesOf = (req: SwanRequest): Record<string, unknown> => req.body as Record<string, unknown>;

/**
 * The HTTP routes of API.md for clients, trainers, PII, training, rectification, restriction, the
 * admin client list, delete, erase, export and audit verification. Malformed ids are 400 `VALIDATION_FAILED`; an unassigned trainer gets 403
 * `FORBIDDEN`, an unknown client 404 `NOT_FOUND` (both audited on the PII route).
 *
 * @example
 * ```ts
 * mountSwan(app, piiRoutes({ service: pii, exportContributors }), { actor }); // mountSwan from @swan/express or @swan/fastify
 * ```
 */
export function piiRoutes(options: PiiRoutesOptions): DocumentedRoute[] {
  const s = options.service;
  const contributors = () => (typeof options.exportContributors === 'function' ? options.exportContributors() : options.exportContributors ?? []);
  const routes: DocumentedRoute[] = [
    {
      method: 'POST', path: '/api/clients', access: ['admin'],
      summary: 'Create a client: PII encrypted apart from training data', tags: TAGS,
      schema: { body: CREATE_CLIENT_SCHEMA, response: { status: 201, body: okSchema({ client: objectSchema({ clientId: uuid, alias: { type: 'string' } }) }) }, errors: ['CONFLICT'] },
      handler: async (req) => ok({ client: await s.createClient(req.actor!, req.body as CreateClientInput) }, 201),
    },
    {
      method: 'PUT', path: '/api/trainers/:trainerId/clients/:clientId', access: ['admin'], body: 'none',
      summary: 'Assign a trainer to a client', tags: TAGS,
      schema: { params: objectSchema({ trainerId: uuid, clientId: uuid }), response: { body: okSchema({ assignment: objectSchema({ trainerId: uuid, clientId: uuid }) }) }, errors: ['NOT_FOUND'] },
      handler: async (req) => ok({ assignment: await s.assignTrainer(req.actor!, req.params.trainerId!, req.params.clientId!) }),
    },
    {
      // any authenticated caller reaches the service, so denied roles are audited too (403 FORBIDDEN)
      method: 'GET', path: '/api/clients/:clientId/pii', access: 'authenticated',
      summary: 'Read a client\'s decrypted PII (admin, assigned trainer; every attempt audited)', tags: TAGS,
      schema: {
        params: clientParams,
        query: objectSchema({
          purpose: { type: 'string', description: `Why the PII is read (audited in plaintext): one of the configured purposes, by default ${DEFAULT_PURPOSES.join(', ')}` },
          note: { ...text(200), description: 'Optional free text, at most 200 characters, stored sealed under the client\'s data key' },
          reason: { ...text(200), description: 'Accepted as the note' },
        }, ['purpose']),
        response: { body: okSchema({ pii: piiRecord }) },
        errors: ['FORBIDDEN', 'NOT_FOUND'],
      },
      handler: async (req) => ok({ pii: await s.getClientPII(req.params.clientId!, req.actor!, { purpose: req.query.purpose ?? '', note: req.query.note ?? req.query.reason ?? null }) }),
    },
    {
      method: 'GET', path: '/api/clients/:clientId/training', access: ['admin', 'trainer', 'ai_service'],
      summary: 'Read a client\'s training data (no PII)', tags: TAGS,
      schema: { params: clientParams, response: { body: okSchema({ training: trainingRecord }) }, errors: ['NOT_FOUND', 'PROCESSING_RESTRICTED'] },
      handler: async (req) => ok({ training: await s.getTraining(req.params.clientId!, req.actor!) }),
    },
    {
      method: 'PATCH', path: '/api/clients/:clientId/pii', access: ['admin'],
      summary: 'Rectify a client\'s PII (any subset of the fields; audited with the field names)', tags: TAGS,
      schema: { params: clientParams, body: PII_CHANGES_SCHEMA, response: { body: rectified }, errors: ['NOT_FOUND', 'CONFLICT'] },
      handler: async (req) => ok({ client: await s.updatePII(req.actor!, req.params.clientId!, changesOf(req)) }),
    },
    {
      method: 'PATCH', path: '/api/clients/:clientId/training', access: ['admin', 'trainer'],
      summary: 'Rectify a client\'s training data (admin, assigned trainer)', tags: TAGS,
      schema: { params: clientParams, body: TRAINING_CHANGES_SCHEMA, response: { body: rectified }, errors: ['NOT_FOUND'] },
      handler: async (req) => ok({ client: await s.updateTraining(req.actor!, req.params.clientId!, changesOf(req)) }),
    },
    {
      method: 'POST', path: '/api/clients/:clientId/restrict', access: ['admin'],
      summary: 'Restrict processing of a client\'s data (GDPR Art. 18): kept, not processed', tags: TAGS,
      schema: { params: clientParams, body: reasonBody, response: { body: okSchema({ client: objectSchema({ clientId: uuid, restrictedAt: { type: 'string', format: 'date-time' } }) }) }, errors: ['NOT_FOUND', 'CONFLICT'] },
      handler: async (req) => ok({ client: await s.restrict(req.actor!, req.params.clientId!, reasonOf(req) as string) }),
    },
    {
      method: 'POST', path: '/api/clients/:clientId/unrestrict', access: ['admin'],
      summary: 'Lift the restriction of processing', tags: TAGS,
      schema: { params: clientParams, body: reasonBody, response: { body: okSchema({ client: objectSchema({ clientId: uuid, liftedAt: { type: 'string', format: 'date-time' } }) }) }, errors: ['NOT_FOUND', 'CONFLICT'] },
      handler: async (req) => ok({ client: await s.unrestrict(req.actor!, req.params.clientId!, reasonOf(req) as string) }),
    },
    {
      method: 'GET', path: '/api/admin/clients', access: ['admin'],
      summary: 'Every client by alias and status (no PII), oldest first, keyset-paged', tags: TAGS,
      schema: {
        query: objectSchema({
          limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: 'Page size, 1 to 100 (default 20)' },
          cursor: { type: 'string', description: 'The nextCursor of the previous page' },
        }, []),
        response: { body: okSchema({ clients: { type: 'array', items: clientListEntry }, nextCursor: { type: ['string', 'null'] } }) },
      },
      handler: async (req) => ok({ ...(await s.listClients(req.actor!, { limit: req.query.limit, cursor: req.query.cursor })) }),
    },
    {
      method: 'DELETE', path: '/api/clients/:clientId', access: ['admin'],
      summary: 'Soft-delete a client', tags: TAGS,
      schema: { params: clientParams, body: reasonBody, response: { body: okSchema({ client: objectSchema({ clientId: uuid, deletedAt: { type: 'string', format: 'date-time' } }) }) }, errors: ['NOT_FOUND'] },
      handler: async (req) => ok({ client: await s.softDelete(req.params.clientId!, req.actor!, reasonOf(req) as string) }),
    },
    {
      method: 'POST', path: '/api/clients/:clientId/erase', access: ['admin'],
      summary: 'Erase a client irreversibly (crypto-shredding)', tags: TAGS,
      schema: { params: clientParams, body: reasonBody, response: { body: okSchema({ client: objectSchema({ clientId: uuid, erasedAt: { type: 'string', format: 'date-time' } }) }) }, errors: ['NOT_FOUND'] },
      handler: async (req) => ok({ client: await s.erase(req.params.clientId!, req.actor!, reasonOf(req) as string) }),
    },
    {
      method: 'GET', path: '/api/clients/:clientId/export', access: ['admin', 'client'],
      summary: 'Data-subject export: everything held about the client', tags: TAGS,
      schema: {
        params: clientParams,
        query: objectSchema({ format: { enum: [...EXPORT_FORMATS], description: '`json` (default) or `html`: a printable page of the same document, without scripts' } }, []),
        response: {
          body: okSchema({ export: { type: 'object', description: 'pii, training, access log, restrictions and every installed package\'s part (consents, master prompts, subscriptions, check-ins)' } }),
          content: { [EXPORT_HTML_CONTENT_TYPE]: { type: 'string', description: 'format=html: the same document as a printable page' } },
        },
        errors: ['NOT_FOUND'],
      },
      handler: async (req) => {
        const format = exportFormatOf(req.query.format);
        const doc = await s.exportClientData(req.params.clientId!, req.actor!, contributors());
        return format === 'html' ? { status: 200, body: renderExportHtml(doc), contentType: EXPORT_HTML_CONTENT_TYPE, headers: { ...EXPORT_HTML_HEADERS } } : ok({ export: doc });
      },
    },
    {
      method: 'GET', path: '/api/audit/verify', access: ['admin'],
      summary: 'Verify the hash-chained audit log', tags: ['audit'],
      schema: { response: { body: okSchema({ valid: { type: 'boolean' }, entries: { type: 'integer' }, firstBrokenId: { type: 'integer' } }, ['valid', 'entries']) } },
      handler: async () => ok({ ...(await verifyAuditChain(s.db)) }),
    },
  ];
  return options.guards?.length ? routes.map((r) => ({ ...r, guards: [...options.guards!, ...(r.guards ?? [])] })) : routes;
}
