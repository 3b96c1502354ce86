import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { contractRoutes, expectEnvelope, runContractSuite, runHostGuardSuite, type ContractServer } from '@swan/test-utils';
import { errorHandler, expressGuard, mountSwan, notFoundHandler } from '@swan/express';

async function listen(app: express.Express): Promise<ContractServer> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

/**
 * The HTTP contract suite, the host-guard suite and the host error-handler checks on the `express`
 * this module graph loads: Express 5 in contract.test.ts, Express 4 in contract-express4.test.ts
 * (which points `express` at the `express4` alias for the adapter and the test app alike).
 */
export function runExpressSuites(name: string): void {
runContractSuite(name, async (routes, options) => listen(mountSwan(express(), routes, options)));

runHostGuardSuite(name, async (guards, options) => {
  const app = express();
  for (const [name, guard] of Object.entries(guards)) {
    app.get(`/host/${name}`, expressGuard(guard, options), (_req, res) => void res.json({ success: true, route: name }));
  }
  return listen(app);
});

describe(`${name} query strings`, () => {
  it('reads the query string the same way on Express 4 and 5, whatever the host’s query parser', async () => {
    const app = express();
    app.set('query parser', 'extended');
    const server = await listen(mountSwan(app, contractRoutes(), { actor: async () => null }));
    try {
      const res = await fetch(`${server.url}/contract/echo/1?purpose[x]=1&note=a%20b&tag=a&tag=b`, { method: 'POST' });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { query: unknown }).query).toEqual({ 'purpose[x]': '1', note: 'a b', tag: 'a' });
    } finally {
      await server.close();
    }
  });
});

describe(`${name} errorHandler and notFoundHandler on a host app`, () => {
  it('maps the host’s own body-parser errors and unknown routes to the envelope', async () => {
    const app = express();
    app.post('/host/json', express.json({ limit: 10 }), (_req, res) => void res.json({ success: true }));
    app.use(notFoundHandler(), errorHandler());
    const server = await listen(app);
    try {
      const post = (body: string) => fetch(`${server.url}/host/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const tooLarge = await post('{"a":"xxxxxxxxxxxxxxxx"}');
      await expectEnvelope(tooLarge, 413, 'PAYLOAD_TOO_LARGE');
      const invalid = await post('{');
      await expectEnvelope(invalid, 400, 'INVALID_JSON');
      const missing = await fetch(`${server.url}/elsewhere`);
      await expectEnvelope(missing, 404, 'NOT_FOUND');
    } finally {
      await server.close();
    }
  });
});
}
