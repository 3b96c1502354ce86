import { randomUUID } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json' with { type: 'json' };
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS, openApiPath } from '@swan/core';
import { validPrompt } from '../../../packages/schema/test/fixtures.js';
import { bootServer, mintToken, sendJson, type TestServer } from './helpers.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const UNKNOWN_ROUTE = 'Route not found';

/** `METHOD /path/{param}` of every operation of a document. */
function operations(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`));
}

/** Calls `METHOD path` without credentials, a uuid for every `{param}` and an empty JSON body where one may be sent. */
async function probe(url: string, operation: string): Promise<{ status: number; body: any }> {
  const [method, path] = operation.split(' ') as [string, string];
  const res = await fetch(url + path.replace(/\{[^}]+\}/g, () => randomUUID()), {
    method,
    ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // a page, a script or TwiML
  }
  return { status: res.status, body };
}

/** Ajv (draft 2020-12, strict, draft-07 for schemas that say so) over the whole document, so `$ref`s to components resolve. */
function schemaChecker(doc: unknown) {
  const ajv = new Ajv2020({ strict: true, allErrors: true, validateSchema: true });
  addFormats.default(ajv);
  ajv.addMetaSchema(draft07);
  // the document's own members are no schema keywords: declared, so that only its schemas are checked
  for (const member of ['openapi', 'info', 'servers', 'tags', 'paths', 'components']) ajv.addKeyword(member);
  ajv.addSchema(structuredClone(doc) as object, 'openapi.json');
  const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
  return {
    /** Compiles (so validates and resolves) the schema at `parts` of the document. */
    compile: (...parts: string[]) => {
      const validate = ajv.getSchema(`openapi.json#/${pointer(...parts)}`);
      if (!validate) throw new Error(`no schema at ${parts.join(' ')}`);
      return validate;
    },
  };
}

const isUnknownRoute = (r: { status: number; body: any }) => r.status === 404 && r.body?.error?.code === 'NOT_FOUND' && r.body.error.message === UNKNOWN_ROUTE;

describe.each(['express', 'fastify'] as const)('GET /openapi.json of the example server on %s', (framework) => {
  let server: TestServer;
  let doc: any;
  beforeAll(async () => {
    // every default module, no test-only routes
    server = await bootServer({ SWAN_FRAMEWORK: framework }, [], []);
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = await res.json();
  });
  afterAll(() => server?.dispose());

  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('every schema in it is a valid JSON Schema that compiles (Ajv, strict)', () => {
    const check = schemaChecker(doc);
    const compiled: string[] = [];
    for (const name of Object.keys(doc.components.schemas)) compiled.push(check.compile('components', 'schemas', name).name ?? name);
    for (const op of operations(doc)) {
      const [method, path] = op.split(' ') as [string, string];
      const m = method.toLowerCase();
      const operation = doc.paths[path][m];
      (operation.parameters ?? []).forEach((_: unknown, i: number) => check.compile('paths', path, m, 'parameters', String(i), 'schema'));
      for (const type of Object.keys(operation.requestBody?.content ?? {})) check.compile('paths', path, m, 'requestBody', 'content', type, 'schema');
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        for (const type of Object.keys(response.content ?? {})) check.compile('paths', path, m, 'responses', status, 'content', type, 'schema');
      }
    }
    // and a misspelt schema is caught
    const broken = structuredClone(doc);
    broken.paths['/healthz'].get.responses['200'].content['application/json'].schema = { type: 'strnig' };
    expect(() => schemaChecker(broken).compile('paths', '/healthz', 'get', 'responses', '200', 'content', 'application/json', 'schema')).toThrow();
  });

  it('the responses the server sends match their documented schemas', async () => {
    const check = schemaChecker(doc);
    const healthz = check.compile('paths', '/healthz', 'get', 'responses', '200', 'content', 'application/json', 'schema');
    expect(healthz(await (await fetch(`${server.url}/healthz`)).json()), JSON.stringify(healthz.errors)).toBe(true);
    const self = check.compile('paths', '/openapi.json', 'get', 'responses', '200', 'content', 'application/json', 'schema');
    expect(self(doc)).toBe(true);
    // every operation called without credentials: its status is documented, its JSON body matches
    for (const op of operations(doc)) {
      const [method, path] = op.split(' ') as [string, string];
      const m = method.toLowerCase();
      const answer = await probe(server.url, op);
      const response = doc.paths[path][m].responses[String(answer.status)];
      expect(response, `${op} answered ${answer.status}`).toBeDefined();
      if (response.content?.['application/json'] && typeof answer.body === 'object') {
        const validate = check.compile('paths', path, m, 'responses', String(answer.status), 'content', 'application/json', 'schema');
        expect(validate(answer.body), `${op} ${answer.status} ${JSON.stringify(validate.errors)}`).toBe(true);
      }
    }
  });

  it('the success answers of the routes match their documented schemas', async () => {
    const check = schemaChecker(doc);
    const admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '5m' });
    const conforms = async (method: string, pathAndQuery: string, status: number, body?: unknown, token = admin) => {
      const [path, query] = pathAndQuery.split('?') as [string, string | undefined];
      const concrete = path.replace(/\{clientId\}/g, clientId).replace('{consentType}', 'data_collection') + (query ? `?${query}` : '');
      const res = await sendJson(server.url + concrete, method, token, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(res.body)}`).toBe(status);
      const validate = check.compile('paths', path, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema');
      expect(validate(res.body), `${method} ${path} ${JSON.stringify(validate.errors)}`).toBe(true);
      return res.body;
    };
    let clientId = '';
    const created = await conforms('POST', '/api/clients', 201, {
      pii: { full_name: 'Schema Person', date_of_birth: '1990-05-17', email: `schema.${randomUUID()}@example.com`, phone_number: '+14155550123', blood_type: 'O+', emergency_contact: { name: 'Kin', phone: '+14155550124' }, address: { city: 'Oakland' } },
      training: { gender: 'female', height_inches: 66, weight_lbs: 150.5, training_goals: ['strength'], training_tier: 'tier_2' },
    });
    clientId = created.client.clientId;
    const client = await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '5m' });
    await conforms('GET', '/api/clients/{clientId}/pii?purpose=session_planning&reason=schema%20check', 200);
    await conforms('GET', '/api/clients/{clientId}/training', 200);
    await conforms('POST', '/api/consent/grant', 200, { clientId, consentType: 'data_collection', consentVersion: '3.0', consentGranted: true }, client);
    await conforms('GET', '/api/consent/check/{clientId}/{consentType}', 200);
    await conforms('GET', '/api/consent/{clientId}', 200);
    await conforms('POST', '/api/consent/revoke', 200, { clientId, consentType: 'data_collection', reason: 'schema check' }, client);
    await conforms('POST', '/api/consent/versions', 201, { version: `9.${Date.now() % 10_000}`, effectiveDate: '2020-01-01', fullText: 'Text', summary: 'Sum' });
    await conforms('POST', '/api/clients/{clientId}/master-prompt', 201, validPrompt());
    await conforms('GET', '/api/clients/{clientId}/master-prompt', 200);
    await conforms('GET', '/api/billing/payment-links', 200, undefined, client);
    await conforms('GET', '/api/admin/outbox/stats', 200);
    await conforms('GET', '/api/admin/outbox/dead', 200);
    await conforms('GET', '/api/admin/rate-limit/violators', 200);
    await conforms('GET', '/api/audit/verify', 200);
    await conforms('GET', '/api/clients/{clientId}/export', 200);
    await conforms('DELETE', '/api/clients/{clientId}', 200, { reason: 'schema check' });
    await conforms('POST', '/api/clients/{clientId}/erase', 200, { reason: 'schema check' });
  });

  it('the validator refuses a broken document (the check above can fail)', async () => {
    const broken = structuredClone(doc);
    broken.paths['/healthz'].get.responses = 'none';
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('documents every mounted route, and nothing that is not mounted', () => {
    const mounted = server.routes.map((r) => `${r.method} ${openApiPath(r.path)}`).sort();
    expect(new Set(mounted).size).toBe(mounted.length);
    expect(operations(doc).sort()).toEqual(mounted);
    // the contract's routes of API.md that the server mounts today, as a floor
    for (const op of ['GET /healthz', 'GET /openapi.json', 'POST /api/clients', 'GET /api/clients/{clientId}/pii', 'POST /api/consent/grant', 'POST /api/clients/{clientId}/master-prompt', 'POST /webhooks/stripe', 'POST /webhooks/twilio/sms', 'GET /api/admin/outbox/stats', 'GET /api/admin/rate-limit/violators', 'POST /api/ai-village/query', 'GET /pricing', 'GET /onboarding', 'GET /admin']) {
      expect(mounted).toContain(op);
    }
  });

  it('every documented operation is answered by a mounted route (never the unknown-route 404)', async () => {
    const ops = operations(doc);
    const answers = await Promise.all(ops.map(async (op) => [op, await probe(server.url, op)] as const));
    expect(answers.filter(([, r]) => isUnknownRoute(r)).map(([op]) => op)).toEqual([]);
    // and the probe does see an operation that is not mounted
    expect(isUnknownRoute(await probe(server.url, 'GET /api/not-documented'))).toBe(true);
    expect(isUnknownRoute(await probe(server.url, 'DELETE /healthz'))).toBe(true);
  });

  it('documents every route with a summary, tags and schemas, and its roles', () => {
    for (const op of operations(doc)) {
      const [method, path] = op.split(' ') as [string, string];
      const operation = doc.paths[path][method.toLowerCase()];
      expect(operation['x-undocumented'], op).toBeUndefined();
      expect(operation.summary, op).toEqual(expect.any(String));
      expect(operation.tags?.length, op).toBeGreaterThan(0);
      const route = server.routes.find((r) => r.method === method && openApiPath(r.path) === path)!;
      if (route.access === 'public') expect(operation.security, op).toEqual([]);
      else expect(operation.security, op).toEqual([{ bearerAuth: [] }]);
      if (Array.isArray(route.access)) expect(operation['x-roles'], op).toEqual(route.access);
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        if (Number(status) < 400) continue;
        // error responses: the shared envelope, codes whose status is the response's in core's table
        const [envelope, codes] = response.content['application/json'].schema.allOf;
        expect(envelope).toEqual({ $ref: '#/components/schemas/Error' });
        for (const code of codes.properties.error.properties.code.enum) expect(ERROR_STATUS[code as keyof typeof ERROR_STATUS], `${op} ${code}`).toBe(Number(status));
      }
    }
  });

  it('references the master prompt v3 schema and documents the webhooks\' signature headers', () => {
    const post = doc.paths['/api/clients/{clientId}/master-prompt'].post;
    expect(post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/client-master-prompt-v3' });
    expect(doc.components.schemas['client-master-prompt-v3'].$id).toBe('https://swanstudios.com/schemas/client-master-prompt-v3.json');
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '404']));
    const stripe = doc.paths['/webhooks/stripe'].post;
    expect(stripe.parameters).toContainEqual(expect.objectContaining({ name: 'stripe-signature', in: 'header', required: true }));
    expect(stripe.responses['400'].content['application/json'].schema.allOf[1].properties.error.properties.code.enum).toContain('WEBHOOK_SIGNATURE_INVALID');
    const twilio = doc.paths['/webhooks/twilio/sms'].post;
    expect(twilio.parameters).toContainEqual(expect.objectContaining({ name: 'x-twilio-signature', in: 'header', required: true }));
    expect(Object.keys(twilio.requestBody.content)).toEqual(['application/x-www-form-urlencoded']);
    expect(Object.keys(twilio.responses['200'].content)).toEqual(['text/xml; charset=utf-8']);
    // rate-limited routes answer 429 with Retry-After
    expect(doc.paths['/api/ai-village/query'].post.responses['429'].headers['Retry-After']).toBeDefined();
  });
});
