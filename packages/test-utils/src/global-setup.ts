import { createConnection } from 'node:net';
import { sql } from 'kysely';
import { createDatabase, migrate, migrations } from '@swan/core';
import { isCI, natsUrl, postgresUrl, redisUrl } from './services.js';

function reachable(url: string, defaultPort: number): Promise<void> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: u.hostname, port: Number(u.port || defaultPort) });
    socket.setTimeout(3000);
    socket.once('connect', () => { socket.end(); resolve(); });
    socket.once('timeout', () => { socket.destroy(); reject(new Error(`${url} did not answer`)); });
    socket.once('error', (e) => reject(new Error(`${u.protocol}//${u.host} is not reachable: ${e.message}`)));
  });
}

/**
 * Runs once before all tests: every configured service must answer (with CI=true, every service
 * must be configured), and the cluster-wide roles exist before test files create databases
 * concurrently.
 */
export default async function setup(): Promise<void> {
  const pg = postgresUrl();
  const redis = redisUrl();
  const nats = natsUrl();
  if (redis) await reachable(redis, 6379);
  if (nats) await reachable(nats.replace(/^nats:/, 'tcp:'), 4222);
  if (pg) {
    await reachable(pg, 5432);
    // roles are cluster-wide: create them once (core's migration in a scratch database), not from
    // concurrent test files
    const name = `swan_roles_${process.pid}`;
    const root = createDatabase({ url: pg, poolSize: 1 });
    try {
      await sql.raw(`create database ${name}`).execute(root);
      const u = new URL(pg);
      u.pathname = `/${name}`;
      const db = createDatabase({ url: u.toString(), poolSize: 1 });
      try {
        await migrate(db, [migrations]);
      } finally {
        await db.destroy();
      }
    } finally {
      await sql.raw(`drop database if exists ${name} with (force)`).execute(root);
      await root.destroy();
    }
  }
  if (!isCI() && !pg) console.warn('[swan tests] DATABASE_URL not set: SQL tests run on PGlite only');
}
