import { describe, expect, it } from 'vitest';
import { createOpenApiDocument, documentGuard, objectSchema, ok, okSchema, openApiPath, type DocumentedRoute, type Route } from '@swan/core';

const handler: Route['handler'] = async () => ok();
const info = { title: 'test', version: '1.0.0' };
const uuid = { type: 'string', format: 'uuid' } as const;

const getItem: DocumentedRoute = {
  method: 'GET', path: '/api/items/:itemId', access: ['admin', 'trainer'], summary: 'One item', tags: ['items'],
  schema: { params: objectSchema({ itemId: uuid }), query: objectSchema({ note: { type: 'string', description: 'why' } }, []), response: { body: okSchema({ item: { type: 'object' } }) }, errors: ['NOT_FOUND'] },
  handler,
};

describe('createOpenApiDocument', () => {
  it('turns :params into {params} and schemas into parameters, body and responses', () => {
    const post: DocumentedRoute = {
      method: 'POST', path: '/api/items', access: 'authenticated', summary: 'Create', tags: ['items'],
      schema: { body: objectSchema({ name: { type: 'string' } }), response: { status: 201, body: okSchema({ id: uuid }) } },
      handler,
    };
    const doc = createOpenApiDocument([getItem, post], info, { servers: [{ url: 'https://api.example.com' }] });
    expect(openApiPath('/a/:b/c/:d_e')).toBe('/a/{b}/c/{d_e}');
    expect(doc).toMatchObject({ openapi: '3.1.0', info, servers: [{ url: 'https://api.example.com' }], tags: [{ name: 'items' }] });
    const get = doc.paths['/api/items/{itemId}']!.get as any;
    expect(get.parameters).toEqual([
      { name: 'itemId', in: 'path', required: true, schema: uuid },
      { name: 'note', in: 'query', required: false, description: 'why', schema: { type: 'string', description: 'why' } },
    ]);
    expect(get.security).toEqual([{ bearerAuth: [] }]);
    expect(get['x-roles']).toEqual(['admin', 'trainer']);
    // errors grouped by core's status table: access, validation, the route's own, INTERNAL
    expect(Object.keys(get.responses)).toEqual(['200', '400', '401', '403', '404', '500']);
    expect(get.responses['403'].content['application/json'].schema.allOf[1].properties.error.properties.code.enum).toEqual(['FORBIDDEN']);
    const created = doc.paths['/api/items']!.post as any;
    expect(created.requestBody).toEqual({ required: true, content: { 'application/json': { schema: objectSchema({ name: { type: 'string' } }) } } });
    expect(created.responses['201'].content['application/json'].schema).toEqual(okSchema({ id: uuid }));
    // any authenticated role; no FORBIDDEN from access alone; a JSON body adds INVALID_JSON and 413
    expect(created['x-roles']).toEqual(['admin', 'trainer', 'client', 'ai_service']);
    expect(created.responses['400'].content['application/json'].schema.allOf[1].properties.error.properties.code.enum).toEqual(['INVALID_JSON', 'VALIDATION_FAILED']);
    expect(Object.keys(created.responses)).toEqual(['201', '400', '401', '413', '500']);
    expect(doc.components.schemas.Error).toBeDefined();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  });

  it('documents public routes without security, guards\' errors with their status, and Retry-After on 429', () => {
    const limited = documentGuard(() => undefined, { errors: ['RATE_LIMITED'] });
    const doc = createOpenApiDocument([{ method: 'GET', path: '/public', access: 'public', guards: [limited], summary: 'p', tags: ['t'], schema: { response: { body: okSchema({}) } }, handler }], info);
    const op = doc.paths['/public']!.get as any;
    expect(op.security).toEqual([]);
    expect(op['x-roles']).toBeUndefined();
    expect(Object.keys(op.responses)).toEqual(['200', '429', '500']);
    expect(op.responses['429'].headers['Retry-After']).toBeDefined();
  });

  it('places a schema with an $id once in components, at any depth, and refers to it', () => {
    const shared = { $id: 'https://example.com/schemas/thing-v1.json', type: 'object' } as const;
    const put: DocumentedRoute = {
      method: 'PUT', path: '/things/:id', access: ['admin'], summary: 's', tags: ['t'],
      schema: { params: objectSchema({ id: uuid }), body: shared, response: { body: okSchema({ thing: shared }) } },
      handler,
    };
    const doc = createOpenApiDocument([put], info);
    expect(doc.components.schemas['thing-v1']).toBe(shared);
    const op = doc.paths['/things/{id}']!.put as any;
    expect(op.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/thing-v1' });
    expect(op.responses['200'].content['application/json'].schema.properties.thing).toEqual({ $ref: '#/components/schemas/thing-v1' });
  });

  it('refuses a documented route whose params do not match its path, or whose body is left unstated', () => {
    const base = { access: 'public', summary: 's', tags: ['t'], handler } as const;
    expect(() => createOpenApiDocument([{ ...base, method: 'GET', path: '/a/:id', schema: { response: {} } }], info)).toThrow(/GET \/a\/:id: schema.params must name exactly the path parameters \(id\), got none/);
    expect(() => createOpenApiDocument([{ ...base, method: 'GET', path: '/a/:id', schema: { params: objectSchema({ other: uuid }), response: {} } }], info)).toThrow(/\(id\), got other/);
    expect(() => createOpenApiDocument([{ ...base, method: 'POST', path: '/a', schema: { response: {} } }], info)).toThrow(/POST \/a: schema.body is missing/);
    // null: the route reads no body; body 'none' needs no statement either
    expect(() => createOpenApiDocument([{ ...base, method: 'POST', path: '/a', schema: { body: null, response: {} } }], info)).not.toThrow();
    expect(() => createOpenApiDocument([{ ...base, method: 'POST', path: '/a', body: 'none', schema: { response: {} } }], info)).not.toThrow();
    expect(() => createOpenApiDocument([getItem, getItem], info)).toThrow(/listed twice/);
  });

  it('lists an undocumented route with string path parameters, marked x-undocumented', () => {
    const doc = createOpenApiDocument([{ method: 'DELETE', path: '/x/:id', access: ['admin'], handler }], info);
    const op = doc.paths['/x/{id}']!.delete as any;
    expect(op['x-undocumented']).toBe(true);
    expect(op.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
    expect(op.summary).toBe('DELETE /x/:id');
  });

  it('documents a webhook\'s signature header and a form body', () => {
    const doc = createOpenApiDocument([{
      method: 'POST', path: '/webhooks/sms', access: 'public', body: 'form', summary: 'SMS', tags: ['t'],
      schema: {
        headers: objectSchema({ 'x-signature': { type: 'string', description: 'HMAC' } }),
        body: objectSchema({ From: { type: 'string' } }),
        response: { content: { 'text/xml; charset=utf-8': { type: 'string' } } },
        errors: ['FORBIDDEN'],
      },
      handler,
    }], info);
    const op = doc.paths['/webhooks/sms']!.post as any;
    expect(op.parameters).toEqual([{ name: 'x-signature', in: 'header', required: true, description: 'HMAC', schema: { type: 'string', description: 'HMAC' } }]);
    expect(Object.keys(op.requestBody.content)).toEqual(['application/x-www-form-urlencoded']);
    expect(op.responses['200'].content).toEqual({ 'text/xml; charset=utf-8': { schema: { type: 'string' } } });
    // form bodies are not JSON: no INVALID_JSON
    expect(op.responses['400'].content['application/json'].schema.allOf[1].properties.error.properties.code.enum).toEqual(['VALIDATION_FAILED']);
  });
});
