// Child process of bench/billing/run.ts: our webhook route through @swan/express (talking to the
// fake Stripe API of the parent at STRIPE_API_BASE, publishing through the outbox like the example
// server), the same route on a second instance without the processed-event cache (a duplicate
// that lands on another instance), and a bare Express route that only verifies the signature.
// Prints one JSON line with the ports and the client ids, then serves until killed.
import { randomBytes } from 'node:crypto';
import express from 'express';
import { sql, type Kysely } from 'kysely';
import Stripe from 'stripe';
import { createDatabase, migrate, migrations as coreMigrations } from '@swan/core';
import { mountSwan } from '@swan/express';
import { migrations as piiMigrations } from '@swan/pii';
import { billingRoutes, createBilling, createStripeClient, defineTiers, migrations as billingMigrations, type BillingOptions } from '@swan/billing';
import { createOutbox, migrations as outboxMigrations } from '@swan/outbox';
import { PRICES, WEBHOOK_SECRET } from '../../packages/billing/test/fake-stripe.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2000);
// tsx turns on source-mapped stack traces; a deployed server runs compiled JS without them, and
// the stripe SDK formats a stack trace on every API call (its caller's stack, for error reports)
process.setSourceMapsEnabled(false);
const sets = [coreMigrations, outboxMigrations, piiMigrations, billingMigrations];

async function openDatabases(): Promise<{ app: Kysely<any>; admin: Kysely<any>; engine: string; drop(): Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const db = createDatabase();
    await migrate(db, sets);
    return { app: db, admin: db, engine: 'pglite', drop: () => db.destroy() };
  }
  const name = `swan_bench_billing_${randomBytes(4).toString('hex')}`;
  const root = createDatabase({ url, poolSize: 1 });
  await sql.raw(`create database ${name}`).execute(root);
  const at = (user?: string) => { const u = new URL(url); u.pathname = `/${name}`; if (user) { u.username = user; u.password = ''; } return u.toString(); };
  const admin = createDatabase({ url: at(), poolSize: 2 });
  await migrate(admin, sets);
  const app = createDatabase({ url: at('swan_app'), poolSize: 10 });
  return {
    app, admin, engine: 'postgres',
    async drop() {
      await app.destroy();
      await admin.destroy();
      await sql.raw(`drop database if exists ${name} with (force)`).execute(root);
      await root.destroy();
    },
  };
}

const { app: db, admin, engine, drop } = await openDatabases();
const tiers = defineTiers({
  tier_1: { paymentLinkUrl: 'https://buy.stripe.com/test_1', priceId: PRICES.tier_1 },
  tier_2: { paymentLinkUrl: 'https://buy.stripe.com/test_2', priceId: PRICES.tier_2 },
  tier_3: { paymentLinkUrl: 'https://buy.stripe.com/test_3', priceId: PRICES.tier_3 },
});
// as examples/server/src/modules/billing.ts: the SDK client of createStripeClient (keep-alive
// pool), the outbox as publisher (subscription_activated in the webhook's transaction)
const outbox = createOutbox({ db });
const config: BillingOptions = {
  db, stripe: createStripeClient({ secretKey: 'sk_test_bench', apiBase: process.env.STRIPE_API_BASE! }),
  webhookSecret: WEBHOOK_SECRET, tiers, portalReturnUrl: 'http://bench/pricing',
  // BENCH_OUTBOX=off: without the publisher, to see what the outbox costs
  ...(process.env.BENCH_OUTBOX === 'off' ? {} : { events: outbox }),
};
const billing = createBilling(config);
const coldBilling = createBilling({ ...config, processedCacheSize: 0 });

// clients, for the run process to build subscriptions and events for
const { rows: clients } = await sql<{ client_id: string }>`
  insert into client_profile_pii (client_id, full_name, date_of_birth, email, email_index, encryption_key_id)
  select gen_random_uuid(), '\\x01'::bytea, '\\x01'::bytea, '\\x01'::bytea, sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'bench'
    from generate_series(1, ${CLIENTS}) returning client_id::text`.execute(admin);
const clientIds = clients.map((c) => c.client_id);

const ours = express();
mountSwan(ours, billingRoutes(billing), { actor: () => null });
const cold = express();
mountSwan(cold, billingRoutes(coldBilling), { actor: () => null });
const bare = express();
const stripe = new Stripe('sk_test_bench');
bare.post('/webhooks/stripe', express.raw({ type: () => true }), (req, res) => {
  try {
    stripe.webhooks.constructEvent(req.body, String(req.headers['stripe-signature']), WEBHOOK_SECRET);
    res.json({ received: true });
  } catch {
    res.status(400).json({ success: false, error: { code: 'WEBHOOK_SIGNATURE_INVALID', message: 'bad signature' } });
  }
});
const listen = (app: express.Express) => new Promise<number>((resolve) => {
  const s = app.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port));
  s.keepAliveTimeout = 65_000; // longer than the client's, so a reused socket is never closed under it
});
const [oursPort, coldPort, barePort] = [await listen(ours), await listen(cold), await listen(bare)];
const outboxRows = async () => Number((await sql<{ n: string }>`select count(*) as n from swan_outbox`.execute(admin)).rows[0]!.n);
process.stdout.write(`${JSON.stringify({ engine, oursPort, coldPort, barePort, clientIds })}\n`);
// the run process asks on stdin (one line each) for this process's CPU time and the outbox count
process.stdin.setEncoding('utf8').on('data', () => {
  const cpu = process.cpuUsage();
  void outboxRows().then((n) => process.stdout.write(`${JSON.stringify({ outbox: n, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`));
});
process.on('SIGTERM', () => { void drop().finally(() => process.exit(0)); });
