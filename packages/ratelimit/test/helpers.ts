import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import type { Actor, GuardContext, SwanRequest } from '@swan/core';
import { killProcess } from '@swan/test-utils';

/** A unique Redis key prefix per test, so tests never share counters on the shared Redis. */
export const uniquePrefix = () => `swan:rl:test:${randomBytes(6).toString('hex')}:`;

/** A request as an adapter would build it. */
export function request(overrides: Partial<SwanRequest> = {}): SwanRequest {
  return {
    method: 'POST', path: '/x', url: 'http://localhost/x', params: {}, query: {}, headers: {},
    body: undefined, actor: null, ip: '203.0.113.9', ...overrides,
  };
}

export const actor = (id: string, role: Actor['role'] = 'client'): Actor => ({ id, role });

/** Collects the headers a guard sets. */
export function headerContext(): GuardContext & { headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  return { headers, setHeader: (name, value) => { headers[name] = value; } };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A throw-away `redis-server` child process the test can kill and restart on the same port. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + 5000;
    for (;;) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async kill(): Promise<void> {
    await killProcess(this.child);
    this.child = undefined;
  }
}

/** Polls `check` until it returns true (or fails after `ms`). */
export async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
