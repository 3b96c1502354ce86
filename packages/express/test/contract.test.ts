import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { expectEnvelope, runContractSuite, runHostGuardSuite, type ContractServer } from '@swan/test-utils';
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

runContractSuite('express', async (routes, options) => listen(mountSwan(express(), routes, options)));

runHostGuardSuite('express', async (guards, options) => {
  const app = express();
  for (const [name, guard] of Object.entries(guards)) {
    app.get(`/host/${name}`, expressGuard(guard, options), (_req, res) => void res.json({ success: true, route: name }));
  }
  return listen(app);
});

describe('express errorHandler and notFoundHandler on a host app', () => {
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
