import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import setup from '../../test-utils/src/global-setup.js';

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('CI=true with a service down fails the run instead of skipping', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ['CI', 'DATABASE_URL', 'REDIS_URL', 'NATS_URL']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it.each(['DATABASE_URL', 'REDIS_URL', 'NATS_URL'] as const)('refuses to start when %s is not set', async (name) => {
    process.env.CI = 'true';
    for (const k of ['DATABASE_URL', 'REDIS_URL', 'NATS_URL']) process.env[k] = `redis://127.0.0.1:${await closedPort()}`;
    delete process.env[name];
    await expect(setup()).rejects.toThrow(`${name} is not set, and CI=true requires it`);
  });

  // services are checked in this order; the ones before the closed one must answer
  const order = [
    { name: 'REDIS_URL', url: (port: number) => `redis://127.0.0.1:${port}` },
    { name: 'NATS_URL', url: (port: number) => `nats://127.0.0.1:${port}` },
    { name: 'DATABASE_URL', url: (port: number) => `postgres://postgres@127.0.0.1:${port}/test` },
  ] as const;
  const live = order.every((s) => saved[s.name]);
  for (const [i, { name, url }] of order.entries()) {
    // a later service needs the real ones checked before it (always there with CI=true)
    it.skipIf(i > 0 && !live)(`refuses to start when ${name} does not answer`, async () => {
      process.env.CI = 'true';
      for (const s of order) process.env[s.name] = saved[s.name] ?? s.url(await closedPort());
      const port = await closedPort();
      process.env[name] = url(port);
      await expect(setup()).rejects.toThrow(`127.0.0.1:${port}`);
    });
  }

  it('outside CI, a missing URL only narrows the run to the embedded engines', async () => {
    delete process.env.CI;
    for (const k of ['DATABASE_URL', 'REDIS_URL', 'NATS_URL']) delete process.env[k];
    await expect(setup()).resolves.toBeUndefined();
  });
});
