import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, SwanError, errors, isUuid, ok, type ActorResolver, type Guard, type Role, type Route } from '@swan/core';

/** A running test server. */
export interface ContractServer {
  /** Origin the server listens on, e.g. `http://127.0.0.1:41234`. */
  url: string;
  close(): Promise<void>;
}

/** What an adapter's `start` receives besides the routes (a subset of both adapters' options). */
export interface ContractOptions {
  actor: ActorResolver;
  publicUrl?: string;
  onError?: (error: unknown, request: { method: string; path: string }) => void;
}

/** Starts a server mounting `routes` with the adapter under test (routes, 404 and error handling). */
export type StartServer = (routes: Route[], options: ContractOptions) => Promise<ContractServer>;

/** Starts a host app whose own native route `GET /host/<name>` is protected by `guards[name]`. */
export type StartHost = (guards: Record<string, Guard>, options: { actor: ActorResolver }) => Promise<ContractServer>;

/** `Authorization` header understood by {@link fakeActor}. */
export const bearer = (role: Role, id: string = randomUUID()) => ({ authorization: `Bearer ${role}:${id}` });

/**
 * Test actor resolver: `Authorization: Bearer <role>:<uuid>`; no header → `null`; anything
 * malformed → `UNAUTHENTICATED`.
 */
export const fakeActor: ActorResolver = (req) => {
  const header = req.headers.authorization;
  if (header === undefined) return null;
  const [, role, id] = /^Bearer ([a-z_]+):(.+)$/.exec(header) ?? [];
  if (!(ROLES as readonly string[]).includes(role ?? '') || !isUuid(id)) throw errors.unauthenticated('Malformed token');
  return { id, role: role as Role };
};

const sha256 = (bytes: Buffer | undefined) => createHash('sha256').update(bytes ?? Buffer.alloc(0)).digest('hex');

/** Adds the draft-ietf rate-limit headers, as the ratelimit package does. */
const limitHeaders: Guard = (_req, ctx) => {
  ctx.setHeader('RateLimit-Policy', '"test";q=10;w=60');
  ctx.setHeader('RateLimit', '"test";r=0;t=30');
};
const reject: Guard = () => {
  throw errors.rateLimited(30, { message: 'Too many requests' });
};
const seesActor: Guard = (req, ctx) => ctx.setHeader('X-Guard-Actor', req.actor?.role ?? 'none');

/** The routes the contract suite mounts. */
export function contractRoutes(): Route[] {
  const echo: Route['handler'] = async (req) =>
    ok(
      {
        method: req.method,
        path: req.path,
        url: req.url,
        params: req.params,
        query: req.query,
        headers: { 'x-custom': req.headers['x-custom'], 'content-type': req.headers['content-type'] },
        body: req.body,
        hasRawBody: req.rawBody !== undefined,
        ip: req.ip,
        actor: req.actor,
      },
      201,
      { 'X-Handler': 'yes' },
    );
  const size: Route['handler'] = async (req) => ok({ size: JSON.stringify(req.body).length });
  return [
    { method: 'GET', path: '/contract/public', access: 'public', handler: async (req) => ok({ actor: req.actor }) },
    { method: 'GET', path: '/contract/me', access: 'authenticated', handler: async (req) => ok({ actor: req.actor }) },
    { method: 'DELETE', path: '/contract/admin', access: ['admin'], guards: [seesActor], handler: async () => ok({ deleted: true }) },
    { method: 'POST', path: '/contract/echo/:id', access: 'public', handler: echo },
    { method: 'PUT', path: '/contract/small', access: 'public', bodyLimit: 64, handler: size },
    { method: 'PUT', path: '/contract/big', access: 'public', bodyLimit: 2 * 1024 * 1024, handler: size },
    { method: 'POST', path: '/contract/default-limit', access: 'public', handler: size },
    {
      method: 'GET',
      path: '/contract/conflict',
      access: 'public',
      handler: async () => {
        throw new SwanError({ code: 'CONFLICT', message: 'Already exists', details: { field: 'email' }, headers: { 'X-Swan-Test': 'yes' } });
      },
    },
    {
      method: 'GET',
      path: '/contract/crash',
      access: 'public',
      handler: async () => {
        throw new Error('db password hunter2 leaked');
      },
    },
    {
      method: 'POST',
      path: '/contract/webhook',
      access: 'public',
      body: 'raw',
      bodyLimit: 1024,
      handler: async (req) => ok({ sha256: sha256(req.rawBody), length: req.rawBody?.length ?? 0, body: req.body ?? null }),
    },
    {
      method: 'POST',
      path: '/contract/form',
      access: 'public',
      body: 'form',
      handler: async (req) => ok({ fields: req.body, sha256: sha256(req.rawBody) }),
    },
    { method: 'POST', path: '/contract/none', access: 'public', body: 'none', handler: async (req) => ({ status: 204, headers: { 'X-Body': String(req.body) } }) },
    {
      method: 'GET',
      path: '/contract/page',
      access: 'public',
      handler: async () => ({ status: 200, body: '<h1>Pricing</h1>', contentType: 'text/html; charset=utf-8' }),
    },
    { method: 'GET', path: '/contract/guarded', access: 'authenticated', guards: [limitHeaders, seesActor], handler: async () => ok() },
    { method: 'GET', path: '/contract/limited', access: 'public', guards: [limitHeaders, reject], handler: async () => ok() },
    {
      method: 'GET',
      path: '/contract/guarded-conflict',
      access: 'public',
      guards: [limitHeaders],
      handler: async () => {
        throw errors.conflict('Handler failed after the guard');
      },
    },
  ];
}

/** The JSON body of a response, untyped for assertions. */
export const readJson = (res: Response): Promise<any> => res.json();

/** Asserts the API.md error envelope and returns the body. */
export async function expectEnvelope(res: Response, status: number, code: string): Promise<{ success: false; error: { code: string; message: string; details?: unknown } }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = await readJson(res);
  expect({ status: res.status, body }).toMatchObject({ status, body: { success: false, error: { code, message: expect.any(String) } } });
  return body;
}

const PUBLIC_URL = 'https://api.example.test';

/**
 * The HTTP contract every adapter must pass, over real HTTP. Call it from an adapter's test file
 * with a `start` that mounts the routes the way a host app would.
 *
 * @example
 * ```ts
 * runContractSuite('express', async (routes, options) => {
 *   const app = express();
 *   mountSwan(app, routes, options);
 *   return listen(app);
 * });
 * ```
 */
export function runContractSuite(name: string, start: StartServer): void {
  describe(`HTTP contract on ${name}`, () => {
    let server: ContractServer;
    let byHost: ContractServer;
    const reported: unknown[] = [];
    const call = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
    const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const put = (path: string, body: unknown) => call(path, { ...json(body), method: 'PUT' });

    beforeAll(async () => {
      server = await start(contractRoutes(), { actor: fakeActor, publicUrl: `${PUBLIC_URL}/ignored-path`, onError: (error) => reported.push(error) });
      byHost = await start(contractRoutes(), { actor: fakeActor });
    });
    afterAll(async () => {
      await server?.close();
      await byHost?.close();
    });

    describe('auth', () => {
      it('serves public routes without an actor', async () => {
        const res = await call('/contract/public', { headers: bearer('admin') });
        expect(res.status).toBe(200);
        expect(await readJson(res)).toEqual({ success: true, actor: null });
      });

      it('answers 401 UNAUTHENTICATED without credentials and with malformed ones', async () => {
        await expectEnvelope(await call('/contract/me'), 401, 'UNAUTHENTICATED');
        await expectEnvelope(await call('/contract/me', { headers: { authorization: 'Bearer admin:not-a-uuid' } }), 401, 'UNAUTHENTICATED');
        await expectEnvelope(await call('/contract/me', { headers: { authorization: 'Bearer root:' + randomUUID() } }), 401, 'UNAUTHENTICATED');
      });

      it('gives any role access to authenticated routes', async () => {
        const id = randomUUID();
        const res = await call('/contract/me', { headers: bearer('ai_service', id) });
        expect(await readJson(res)).toEqual({ success: true, actor: { id, role: 'ai_service' } });
      });

      it('answers 403 FORBIDDEN for a role not in the list, before any guard runs', async () => {
        const res = await call('/contract/admin', { method: 'DELETE', headers: bearer('trainer') });
        expect(res.headers.get('x-guard-actor')).toBeNull();
        await expectEnvelope(res, 403, 'FORBIDDEN');
        const unauth = await call('/contract/admin', { method: 'DELETE' });
        expect(unauth.headers.get('x-guard-actor')).toBeNull();
        await expectEnvelope(unauth, 401, 'UNAUTHENTICATED');
        const allowed = await call('/contract/admin', { method: 'DELETE', headers: bearer('admin') });
        expect(allowed.status).toBe(200);
        expect(allowed.headers.get('x-guard-actor')).toBe('admin');
        expect(await readJson(allowed)).toEqual({ success: true, deleted: true });
      });
    });

    describe('requests and responses', () => {
      it('builds the request: params, query strings, lower-cased headers, public URL, ip, JSON body', async () => {
        const res = await call('/contract/echo/abc%20d?reason=audit&tag=a&tag=b', json({ nested: { a: [1, 2] } }, { 'X-Custom': 'Value' }));
        expect(res.status).toBe(201);
        expect(res.headers.get('x-handler')).toBe('yes');
        const body = await readJson(res);
        expect(body).toMatchObject({
          success: true,
          method: 'POST',
          path: '/contract/echo/abc%20d',
          url: `${PUBLIC_URL}/contract/echo/abc%20d?reason=audit&tag=a&tag=b`,
          params: { id: 'abc d' },
          query: { reason: 'audit', tag: 'a' },
          headers: { 'x-custom': 'Value', 'content-type': 'application/json' },
          body: { nested: { a: [1, 2] } },
          hasRawBody: false,
          actor: null,
        });
        expect(body.ip).toMatch(/127\.0\.0\.1|::1/);
      });

      it('builds the URL from the Host header without a public URL', async () => {
        const res = await fetch(`${byHost.url}/contract/echo/x?y=1`, json({}));
        expect((await readJson(res)).url).toBe(`${byHost.url}/contract/echo/x?y=1`);
      });

      it('parses application/*+json and treats other content types on JSON routes as no body', async () => {
        const vendor = await call('/contract/echo/1', json({ a: 1 }, { 'content-type': 'application/merge-patch+json; charset=utf-8' }));
        expect((await readJson(vendor)).body).toEqual({ a: 1 });
        const plain = await call('/contract/echo/1', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"a":1}' });
        expect(plain.status).toBe(201);
        expect((await readJson(plain)).body).toBeUndefined();
        const missing = await call('/contract/echo/1', { method: 'POST', body: new Uint8Array(Buffer.from('{"a":1}')) });
        expect(missing.status).toBe(201);
        expect((await readJson(missing)).body).toBeUndefined();
      });

      it('sends string bodies with their content type and empty bodies as such', async () => {
        const page = await call('/contract/page');
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        expect(await page.text()).toBe('<h1>Pricing</h1>');
        const none = await call('/contract/none', json({ ignored: true }));
        expect(none.status).toBe(204);
        expect(none.headers.get('x-body')).toBe('undefined');
        expect(await none.text()).toBe('');
      });
    });

    describe('body parsing errors and limits', () => {
      it('answers malformed JSON with 400 INVALID_JSON', async () => {
        await expectEnvelope(await call('/contract/echo/1', json('{"a":')), 400, 'INVALID_JSON');
        await expectEnvelope(await call('/contract/echo/1', json("{'a':1}")), 400, 'INVALID_JSON');
      });

      it('enforces the default limit with 413 PAYLOAD_TOO_LARGE and accepts large-but-allowed bodies', async () => {
        const allowed = await call('/contract/default-limit', json({ data: 'x'.repeat(90 * 1024) }));
        expect(allowed.status).toBe(200);
        expect((await readJson(allowed)).size).toBeGreaterThan(90 * 1024);
        await expectEnvelope(await call('/contract/default-limit', json({ data: 'x'.repeat(101 * 1024) })), 413, 'PAYLOAD_TOO_LARGE');
      });

      it('honours a route-level bodyLimit, lower and higher than the default', async () => {
        expect((await put('/contract/small', { a: 'x'.repeat(20) })).status).toBe(200);
        await expectEnvelope(await put('/contract/small', { a: 'x'.repeat(100) }), 413, 'PAYLOAD_TOO_LARGE');
        const big = await put('/contract/big', { a: 'x'.repeat(1536 * 1024) });
        expect(big.status).toBe(200);
        expect((await readJson(big)).size).toBeGreaterThan(1536 * 1024);
        await expectEnvelope(await put('/contract/big', { a: 'x'.repeat(2100 * 1024) }), 413, 'PAYLOAD_TOO_LARGE');
      });
    });

    describe('raw and form bodies', () => {
      it('keeps the exact bytes of a raw route, whatever the content type', async () => {
        const bytes = Buffer.concat([Buffer.from('{ "id" :\t"evt_1",\r\n  "amount":  10.50 }'), Buffer.from([0xff, 0x00, 0xc3])]);
        for (const type of ['application/json', 'application/octet-stream', 'text/plain; charset=utf-8']) {
          const res = await call('/contract/webhook', { method: 'POST', headers: { 'content-type': type, 'stripe-signature': 't=1' }, body: new Uint8Array(bytes) });
          expect(await readJson(res)).toEqual({ success: true, sha256: sha256(bytes), length: bytes.length, body: null });
        }
      });

      it('applies the limit to raw routes too', async () => {
        const res = await call('/contract/webhook', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2048) });
        await expectEnvelope(res, 413, 'PAYLOAD_TOO_LARGE');
      });

      it('parses urlencoded forms and keeps their bytes', async () => {
        const raw = 'From=%2B15551234567&Body=hello+world&Accent=%C3%A9t%C3%A9&Empty=';
        const res = await call('/contract/form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: raw });
        expect(await readJson(res)).toEqual({
          success: true,
          fields: { From: '+15551234567', Body: 'hello world', Accent: 'été', Empty: '' },
          sha256: sha256(Buffer.from(raw)),
        });
      });
    });

    describe('errors', () => {
      it('sends a SwanError as the envelope with its status, details and headers', async () => {
        const res = await call('/contract/conflict');
        expect(res.headers.get('x-swan-test')).toBe('yes');
        const body = await expectEnvelope(res, 409, 'CONFLICT');
        expect(body).toEqual({ success: false, error: { code: 'CONFLICT', message: 'Already exists', details: { field: 'email' } } });
      });

      it('hides unexpected errors behind 500 INTERNAL and reports them to onError', async () => {
        const res = await call('/contract/crash');
        const text = await res.clone().text();
        expect(text).not.toMatch(/hunter2|password|stack|Error:/i);
        expect(await expectEnvelope(res, 500, 'INTERNAL')).toEqual({ success: false, error: { code: 'INTERNAL', message: 'Internal server error' } });
        expect(reported.some((error) => error instanceof Error && error.message.includes('hunter2'))).toBe(true);
      });

      it('answers a URL with malformed percent-encoding with 400 VALIDATION_FAILED in the envelope, echoing nothing', async () => {
        for (const path of ['/contract/echo/%ZZ?secret=reason', '/contract/echo/%E0%A4%A']) {
          const res = await call(path, json({ a: 1 }));
          const body = await expectEnvelope(res, 400, 'VALIDATION_FAILED');
          expect(JSON.stringify(body)).not.toMatch(/secret|%ZZ|%E0/);
        }
      });

      it('answers unknown routes and methods with 404 NOT_FOUND in the envelope', async () => {
        await expectEnvelope(await call('/nope'), 404, 'NOT_FOUND');
        await expectEnvelope(await call('/contract/nope', json({ a: 1 })), 404, 'NOT_FOUND');
        await expectEnvelope(await call('/contract/public', json({ a: 1 })), 404, 'NOT_FOUND');
      });
    });

    describe('guards', () => {
      it('sends guard headers on success, with the actor resolved before guards run', async () => {
        const res = await call('/contract/guarded', { headers: bearer('client') });
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit-policy')).toBe('"test";q=10;w=60');
        expect(res.headers.get('ratelimit')).toBe('"test";r=0;t=30');
        expect(res.headers.get('x-guard-actor')).toBe('client');
      });

      it('sends guard headers with a guard rejection (429 RATE_LIMITED with Retry-After)', async () => {
        const res = await call('/contract/limited');
        expect(res.headers.get('retry-after')).toBe('30');
        expect(res.headers.get('ratelimit-policy')).toBe('"test";q=10;w=60');
        await expectEnvelope(res, 429, 'RATE_LIMITED');
      });

      it('keeps guard headers when the handler fails', async () => {
        const res = await call('/contract/guarded-conflict');
        expect(res.headers.get('ratelimit')).toBe('"test";r=0;t=30');
        await expectEnvelope(res, 409, 'CONFLICT');
      });
    });
  });
}

/**
 * Checks an adapter's native guard wrapper (`expressGuard` / `fastifyGuard`) on a host app's own
 * route: headers on success and on rejection, the envelope on errors, the actor when resolved.
 */
export function runHostGuardSuite(name: string, startHost: StartHost): void {
  describe(`native guard on ${name}`, () => {
    let server: ContractServer;
    const call = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
    beforeAll(async () => {
      const crash: Guard = () => {
        throw new Error('secret key material');
      };
      server = await startHost({ headers: limitHeaders, limited: reject, actor: seesActor, crash }, { actor: fakeActor });
    });
    afterAll(() => server?.close());

    it('lets the host handler run and sends the guard headers', async () => {
      const res = await call('/host/headers');
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"test";q=10;w=60');
      expect(await readJson(res)).toEqual({ success: true, route: 'headers' });
    });

    it('answers a rejection with the envelope and its headers, without running the host handler', async () => {
      const res = await call('/host/limited');
      expect(res.headers.get('retry-after')).toBe('30');
      const body = await expectEnvelope(res, 429, 'RATE_LIMITED');
      expect(body).not.toHaveProperty('route');
    });

    it('resolves the actor for the guard and maps bad credentials to 401', async () => {
      expect((await call('/host/actor', { headers: bearer('trainer') })).headers.get('x-guard-actor')).toBe('trainer');
      expect((await call('/host/actor')).headers.get('x-guard-actor')).toBe('none');
      await expectEnvelope(await call('/host/actor', { headers: { authorization: 'Bearer nope' } }), 401, 'UNAUTHENTICATED');
    });

    it('hides unexpected guard errors behind 500 INTERNAL', async () => {
      const res = await call('/host/crash');
      expect(await res.clone().text()).not.toContain('secret');
      await expectEnvelope(res, 500, 'INTERNAL');
    });
  });
}
