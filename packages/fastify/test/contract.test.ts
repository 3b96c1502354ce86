import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { expectEnvelope, readJson, runContractSuite, runHostGuardSuite, type ContractServer } from '@swan/test-utils';
import { fastifyGuard, mountSwan, swanErrorHandler } from '@swan/fastify';

async function listen(app: FastifyInstance): Promise<ContractServer> {
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

runContractSuite('fastify', async (routes, options) => listen(mountSwan(Fastify({ frameworkErrors: swanErrorHandler(options) }), routes, options)));

runHostGuardSuite('fastify', async (guards, options) => {
  const app = Fastify();
  for (const [name, guard] of Object.entries(guards)) {
    app.get(`/host/${name}`, { preHandler: fastifyGuard(guard, options) }, async () => ({ success: true, route: name }));
  }
  return listen(app);
});

describe('fastify mountSwan on a host app', () => {
  it('keeps Fastify’s own error format out of host routes and leaves their parsers alone', async () => {
    const app = Fastify();
    app.post('/host/json', { bodyLimit: 10 }, async (request) => ({ success: true, body: request.body }));
    app.post('/host/text', async (request) => ({ success: true, body: request.body }));
    mountSwan(app, [{ method: 'POST', path: '/hook', access: 'public', body: 'raw', handler: async () => ({ status: 204 }) }], {
      actor: () => null,
    });
    const server = await listen(app);
    try {
      const post = (path: string, type: string, body: string) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
      const tooLarge = await post('/host/json', 'application/json', '{"a":"xxxxxxxxxxxxxxxx"}');
      await expectEnvelope(tooLarge, 413, 'PAYLOAD_TOO_LARGE');
      const invalid = await post('/host/json', 'application/json', '{');
      await expectEnvelope(invalid, 400, 'INVALID_JSON');
      const unsupported = await post('/host/json', 'application/xml', '<a/>');
      await expectEnvelope(unsupported, 400, 'VALIDATION_FAILED');
      // The raw route's catch-all parser did not leak into the host's context.
      expect(await readJson(await post('/host/text', 'text/plain', 'hi'))).toEqual({ success: true, body: 'hi' });
    } finally {
      await server.close();
    }
  });
});
