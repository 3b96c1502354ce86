// The consumer test's host app (see run.mjs): compiled as ESM (main.mts) and as CommonJS
// (main.cts) against the packed tarballs, then run. It creates a client, grants consent,
// publishes an outbox event and serves one route through Express, on PostgreSQL when
// DATABASE_URL is set, else on the embedded PGlite. Any failure exits non-zero.
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Kysely, sql } from 'kysely';
import { assertRowLevelSecuritySafe, createDatabase, migrate, migrations as coreMigrations, type Actor } from '@swan/core';
import { createConsent, migrations as consentMigrations, seedConsentVersion30 } from '@swan/consent';
import { mountSwan } from '@swan/express';
import { createOutbox, migrations as outboxMigrations } from '@swan/outbox';
import { LocalKeyProvider, createPii, migrations as piiMigrations, piiRoutes } from '@swan/pii';

/** A table of the host's own: the host's Kysely type, from the host's kysely install. */
interface HostDB {
  host_notes: { id: number; note: string };
}

const EVENT = 'consumer_test_ran';

/** Every service takes the host's own `Kysely<HostDB>`: this is what a second copy of kysely breaks. */
function services(db: Kysely<HostDB>) {
  const keys = LocalKeyProvider.fromEnv(`k1:${randomBytes(32).toString('base64')}`);
  const outbox = createOutbox({ db, eventTypes: [EVENT] });
  return {
    pii: createPii({ db, keys, indexKey: randomBytes(32), events: outbox }),
    consents: createConsent({ db, events: outbox }),
    outbox,
  };
}

function check(ok: unknown, what: string): void {
  if (!ok) throw new Error(`consumer test: ${what}`);
}

/** Owner handle for migrations and the application handle (`swan_app` on PostgreSQL). */
async function databases(): Promise<{ owner: Kysely<HostDB>; app: Kysely<HostDB>; close(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const db = createDatabase<HostDB>();
    return { owner: db, app: db, close: () => db.destroy() };
  }
  const name = `swan_consumer_${randomBytes(5).toString('hex')}`;
  const root = createDatabase({ url: base, poolSize: 1 });
  await sql.raw(`create database ${name}`).execute(root);
  const at = (user?: string) => {
    const u = new URL(base);
    u.pathname = `/${name}`;
    if (user) { u.username = user; u.password = ''; }
    return u.toString();
  };
  const owner = createDatabase<HostDB>({ url: at(), poolSize: 2 });
  const app = createDatabase<HostDB>({ url: at('swan_app'), poolSize: 4 });
  return {
    owner,
    app,
    async close() {
      await app.destroy();
      await owner.destroy();
      await sql.raw(`drop database if exists ${name} with (force)`).execute(root);
      await root.destroy();
    },
  };
}

async function main(): Promise<void> {
  const { owner, app: db, close } = await databases();
  try {
    // one copy of kysely: the handle our packages made is an instance of the host's Kysely class
    check(db instanceof Kysely, 'createDatabase returned a Kysely from another copy of kysely');
    await migrate(owner, [coreMigrations, piiMigrations, consentMigrations, outboxMigrations]);
    if (process.env.DATABASE_URL) check((await assertRowLevelSecuritySafe(db)).enforced, 'row-level security is not enforced for swan_app');
    await seedConsentVersion30(db);
    const { pii, consents, outbox } = services(db);

    const admin: Actor = { id: randomUUID(), role: 'admin' };
    const { clientId, alias } = await pii.createClient(admin, {
      pii: { full_name: 'Ada Consumer', date_of_birth: '1990-12-10', email: `ada+${randomUUID()}@example.org`, emergency_contact: { name: 'Byron' } },
      training: { training_goals: ['strength'] },
    });
    check(typeof clientId === 'string' && typeof alias === 'string', 'createClient returned no id and alias');

    await consents.grantConsent({ id: clientId, role: 'client' }, {
      clientId, consentType: 'ai_processing', consentVersion: '3.0', ipAddress: '127.0.0.1', userAgent: 'consumer-test', consentMethod: 'web_form',
    });
    check(await consents.hasValidConsent(clientId, 'ai_processing'), 'the granted consent is not valid');

    const published = await db.transaction().execute((trx) =>
      outbox.publish(trx, { eventType: EVENT, payload: { clientId }, aggregateType: 'client', aggregateId: clientId }),
    );
    check(published, 'publish returned nothing');
    const stats = await outbox.stats();
    check(stats.byType[EVENT]?.pending === 1, `the outbox does not hold the ${EVENT} event: ${JSON.stringify(stats.byType)}`);

    const app = express();
    mountSwan(app, piiRoutes({ service: pii }), { actor: async (req) => (req.headers['x-consumer-admin'] === 'yes' ? admin : null) });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    try {
      const { port } = server.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}/api/clients/${clientId}/pii?purpose=session_planning&reason=session%20planning`;
      const res = await fetch(url, { headers: { 'x-consumer-admin': 'yes' } });
      const body = (await res.json()) as { pii?: { full_name?: string } };
      check(res.status === 200 && body.pii?.full_name === 'Ada Consumer', `GET pii answered ${res.status} ${JSON.stringify(body)}`);
      const anonymous = await fetch(url);
      check(anonymous.status === 401, `GET pii without an actor answered ${anonymous.status}`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    console.log(`consumer app ok: ${process.env.DATABASE_URL ? 'postgres' : 'pglite'}, client ${alias}, consent granted, event published, GET pii served`);
  } finally {
    await close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
