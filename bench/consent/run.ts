// Consent checks on a ledger of 1,000,000 consents (PostgreSQL):
//   1. latency of hasValidConsent, of the requireConsent guard, and of one hand-written indexed
//      query doing the same lookup (valid = granted, unrevoked, unexpired, not on an outdated
//      version), sequentially; p50/p99;
//   2. the plan of the guard's query (auto_explain of the statement inside swan_consent_status);
//   3. an Express route guarded by requireConsent vs the same route doing the lookup with that
//      hand-written query (autocannon, same run), and revocation on the very next request.
// Two hand-written baselines, both reported:
//   - "app/RLS": as swan_app (the guard's role and pool), inside withActor(SYSTEM_ACTOR) so that
//     the forced row-level security of client_consents lets it see the rows: what a host app
//     writes when it queries the ledger itself. This is the like-for-like baseline of the target.
//   - "owner": on the owner's (superuser) pool, no row-level security and no transaction: the
//     bare floor of one indexed query, stricter than anything the application role can do.
// Run: cd bench && npx tsx consent/run.ts   (DATABASE_URL: a superuser, default postgres://postgres@127.0.0.1:5432/test;
// packages built with `pnpm build`)
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import express from 'express';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { createDatabase, migrate, migrations as coreMigrations, ok, SwanError, SYSTEM_ACTOR, withActor, type ActorResolver, type Route } from '@swan/core';
import { createConsent, migrations as consentMigrations, seedConsentVersion30 } from '@swan/consent';
import { mountSwan } from '@swan/express';
import { migrations as piiMigrations } from '@swan/pii';

const BASE = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CLIENTS = 250_000;
const TYPES = ['data_collection', 'ai_processing', 'photo_analysis', 'wearable_integration'] as const; // 4 × 250k = 1,000,000
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 20_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = 32;
const POOL = 10;

const clientId = (i: number) => {
  const h = (BigInt(i) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn; // spread ids over the index
  const hex = (h.toString(16).padStart(16, '0') + i.toString(16).padStart(16, '0'));
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};
const ids = (n: number) => Array.from({ length: n }, () => clientId(1 + Math.floor(Math.random() * CLIENTS)));

function withUser(url: string, user: string, database: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  u.pathname = `/${database}`;
  return u.toString();
}

async function createBenchDatabase() {
  const name = `swan_bench_consent_${randomBytes(4).toString('hex')}`;
  const root = createDatabase({ url: BASE, poolSize: 1 });
  await sql.raw(`create database ${name}`).execute(root);
  await root.destroy();
  const ownerUrl = (() => { const u = new URL(BASE); u.pathname = `/${name}`; return u.toString(); })();
  const owner = createDatabase({ url: ownerUrl, poolSize: POOL });
  await migrate(owner, [coreMigrations, piiMigrations, consentMigrations]);
  return {
    name,
    owner,
    ownerUrl,
    app: createDatabase({ url: withUser(BASE, 'swan_app', name), poolSize: POOL }),
    async drop(...handles: Kysely<any>[]) {
      await Promise.all(handles.map((h) => h.destroy()));
      const r = createDatabase({ url: BASE, poolSize: 1 });
      await sql.raw(`drop database if exists ${name} with (force)`).execute(r);
      await r.destroy();
    },
  };
}

/** 250,000 clients × 4 types = 1,000,000 consents: 90 % active, 5 % revoked, 5 % expiring in a year. */
async function fill(owner: Kysely<any>, app: Kysely<any>) {
  await seedConsentVersion30(app);
  for (let from = 1; from <= CLIENTS; from += 50_000) {
    const chunk = Array.from({ length: Math.min(50_000, CLIENTS - from + 1) }, (_, k) => clientId(from + k));
    await sql`insert into client_profile_pii (client_id, full_name, date_of_birth, email, email_index, encryption_key_id)
              select id, '\\x01'::bytea, '\\x02'::bytea, '\\x03'::bytea, uuid_send(id), 'bench'
                from unnest(${chunk}::uuid[]) as id`.execute(owner);
  }
  await sql`insert into client_consents (client_id, consent_version, consent_type, consent_granted, ip_address, user_agent,
                                         consent_method, granted_at, expires_at, revoked_at, revoked_reason)
            select p.client_id, '3.0', t.type, true, '203.0.113.1'::inet, 'bench', 'web_form',
                   now() - interval '30 days',
                   case when g % 20 = 1 then now() + interval '365 days' end,
                   case when g % 20 = 2 then now() - interval '1 day' end,
                   case when g % 20 = 2 then 'bench revocation' end
              from (select client_id, row_number() over () as g from client_profile_pii) p
             cross join unnest(${TYPES as unknown as string[]}::text[]) as t(type)`.execute(owner);
  // as autovacuum would: statistics, and a visibility map for index-only scans
  await sql`vacuum analyze client_profile_pii, client_consents, consent_versions`.execute(owner);
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from client_consents`.execute(owner);
  return rows[0]!.n;
}

/** p50/p99 (ms) of each op, sequential on one caller; the ops take turns per sample so drift in machine load hits all alike. */
async function latencies<K extends string>(ops: Record<K, (id: string) => Promise<unknown>>): Promise<Record<K, { p50: number; p99: number }>> {
  const names = Object.keys(ops) as K[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const list = ids(SAMPLES + 1000);
  for (const [i, id] of list.entries()) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length]!;
      const started = performance.now();
      await ops[name](id);
      if (i >= 1000) samples[name].push(performance.now() - started); // first 1000: warm-up
    }
  }
  const out = {} as Record<K, { p50: number; p99: number }>;
  for (const name of names) {
    const xs = samples[name].sort((a, b) => a - b);
    const at = (q: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
    out[name] = { p50: at(0.5), p99: at(0.99) };
  }
  return out;
}

/** The plan PostgreSQL actually runs for the lookup inside swan_consent_status (auto_explain of nested statements). */
async function explainGuard(ownerUrl: string, id: string): Promise<string> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  const notices: string[] = [];
  client.on('notice', (n) => notices.push(n.message ?? ''));
  try {
    await client.query(`load 'auto_explain'`);
    await client.query(`set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on;
                        set auto_explain.log_analyze = on; set auto_explain.log_buffers = on; set client_min_messages = log`);
    await client.query(`select * from swan_consent_status($1::uuid, 'ai_processing')`, [id]);
    return notices.filter((n) => n.includes('client_consents')).map((n) => n.replace(/^duration: [\d.]+ ms\s+/, '')).join('\n');
  } catch (error) {
    // auto_explain not installed: show the plan of the same lookup instead
    const { rows } = await client.query(`explain (analyze, buffers) select c.consent_version, c.consent_granted, c.expires_at
      from client_consents c where c.client_id = $1::uuid and c.consent_type = 'ai_processing' and c.revoked_at is null`, [id]);
    return `(auto_explain unavailable: ${(error as Error).message})\n` + rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.end();
  }
}

/**
 * The hand-written lookup: one indexed query giving the same answer as the guard (active row
 * grants consent, not expired, and not on a version older than the newest effective version
 * that requires re-consent).
 */
const handWrittenQuery = (id: string) => sql`select 1 from client_consents c join consent_versions v on v.version = c.consent_version
  where c.client_id = ${id}::uuid and c.consent_type = 'ai_processing' and c.revoked_at is null and c.consent_granted
    and (c.expires_at is null or c.expires_at > now())
    and not exists (select 1 from consent_versions r
                     where r.requires_re_consent and r.effective_date <= (now() at time zone 'UTC')::date
                       and (r.effective_date, r.version_key) > (v.effective_date, v.version_key))`;
const handWritten = async (db: Kysely<any>, id: string) => (await handWrittenQuery(id).execute(db)).rows.length > 0;
/** Baseline "app/RLS": as swan_app, under row-level security (withActor sets the admin context). */
const handWrittenApp = (app: Kysely<any>, id: string) => withActor(app, SYSTEM_ACTOR, (trx) => handWritten(trx, id));

/** EXPLAIN of the hand-written query as swan_app under row-level security. */
async function explainHandWritten(app: Kysely<any>, id: string): Promise<string> {
  return withActor(app, SYSTEM_ACTOR, async (trx) => {
    const { rows } = await sql<{ 'QUERY PLAN': string }>`explain (analyze, buffers, costs off, timing off, summary off) ${handWrittenQuery(id)}`.execute(trx);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

async function httpRound(url: string, paths: string[]) {
  let i = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ method: 'GET', headers: { 'x-bench-actor': '1' }, setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length]! }) }],
  });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

async function main() {
  const bench = await createBenchDatabase();
  const { owner, app } = bench;
  try {
    const started = performance.now();
    const rows = await fill(owner, app);
    console.log(`ledger: ${rows.toLocaleString('en')} consents for ${CLIENTS.toLocaleString('en')} clients, filled in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const consent = createConsent({ db: app });
    const guard = consent.requireConsent('ai_processing', { clientId: (req) => req.params.clientId });
    const ctx = { setHeader() {} };
    const request = (id: string) => ({ method: 'GET', path: '/', url: '/', params: { clientId: id }, query: {}, headers: {}, body: undefined, actor: SYSTEM_ACTOR, ip: '127.0.0.1' });
    const single = createDatabase({ url: bench.ownerUrl, poolSize: 1 });
    const { ours, guarded, appRls, floor } = await latencies({
      ours: (id) => consent.hasValidConsent(id, 'ai_processing'),
      guarded: async (id) => { try { await guard(request(id), ctx); } catch (e) { if ((e as SwanError).code !== 'CONSENT_REQUIRED') throw e; } },
      appRls: (id) => handWrittenApp(app, id),
      floor: (id) => handWritten(single, id),
    });
    await single.destroy();

    console.log('\nplan of the guard\'s lookup (inside swan_consent_status):\n' + (await explainGuard(bench.ownerUrl, clientId(7))));
    console.log('\nplan of the hand-written query (swan_app, row-level security):\n' + (await explainHandWritten(app, clientId(7))));

    // HTTP: same app, same adapter, same actor resolver; only the consent check differs
    const actor: ActorResolver = (req) => (req.headers['x-bench-actor'] ? SYSTEM_ACTOR : null);
    const handler = async () => ok({ done: true });
    const manual = (check: (id: string) => Promise<boolean>): Route['handler'] => async (req) => {
      if (!(await check(req.params.clientId!))) throw new SwanError({ code: 'CONSENT_REQUIRED', message: 'Consent required' });
      return handler();
    };
    const routes: Route[] = [
      { method: 'GET', path: '/guarded/:clientId', access: 'authenticated', body: 'none', guards: [guard], handler },
      { method: 'GET', path: '/app/:clientId', access: 'authenticated', body: 'none', handler: manual((id) => handWrittenApp(app, id)) },
      { method: 'GET', path: '/owner/:clientId', access: 'authenticated', body: 'none', handler: manual((id) => handWritten(owner, id)) },
    ];
    const server = mountSwan(express(), routes, { actor }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // requests go to clients whose ai_processing consent is valid (every route answers 200)
    const valid: string[] = [];
    for (const id of ids(4000)) if (await consent.hasValidConsent(id, 'ai_processing')) valid.push(id);
    const SIDES = ['guarded', 'app', 'owner'] as const;
    type Side = (typeof SIDES)[number];
    const runs: Record<Side, { rps: number; p99: number; non2xx: number; errors: number }[]> = { guarded: [], app: [], owner: [] };
    await httpRound(url, valid.map((id) => `/owner/${id}`)); // warm-up
    // rotate the order each round, so drift in machine load hits every side alike
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < SIDES.length; k++) {
        const side = SIDES[(r + k) % SIDES.length]!;
        runs[side].push(await httpRound(url, valid.map((id) => `/${side}/${id}`)));
      }
    }

    // revocation takes effect on the very next request
    const victim = valid[0]!;
    const before = (await fetch(`${url}/guarded/${victim}`, { headers: { 'x-bench-actor': '1' } })).status;
    await consent.revokeConsent(SYSTEM_ACTOR, { clientId: victim, consentType: 'ai_processing', reason: 'bench' });
    const after = (await fetch(`${url}/guarded/${victim}`, { headers: { 'x-bench-actor': '1' } })).status;
    await new Promise((resolve) => server.close(resolve));

    // median round of each side: robust to a burst of load from elsewhere on the machine
    const med = (xs: { rps: number }[]) => [...xs].sort((a, b) => a.rps - b.rps)[Math.floor(xs.length / 2)]!.rps;
    const fmt = (ms: number) => `${ms.toFixed(3)} ms`;
    const lat = (x: { p50: number; p99: number }) => `${fmt(x.p50)} / ${fmt(x.p99)}`;
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    const bad = (side: Side) => runs[side].reduce((s, x) => s + x.non2xx + x.errors, 0);
    console.log('\n| measurement (1,000,000 consents, PostgreSQL) | ours | hand-written, swan_app + RLS (withActor) | hand-written, owner, no RLS | ratio vs app/RLS | ratio vs owner |');
    console.log('|---|---|---|---|---|---|');
    console.log(`| hasValidConsent p50 / p99 | ${lat(ours)} | ${lat(appRls)} | ${lat(floor)} | ${ratio(ours.p99, appRls.p99)} p99 | ${ratio(ours.p99, floor.p99)} p99 |`);
    console.log(`| requireConsent guard p50 / p99 | ${lat(guarded)} | ${lat(appRls)} | ${lat(floor)} | ${ratio(guarded.p99, appRls.p99)} p99 | ${ratio(guarded.p99, floor.p99)} p99 |`);
    console.log(`| Express route, req/s (autocannon, ${CONNECTIONS} connections, median of ${ROUNDS}×${SECONDS} s) | ${med(runs.guarded).toFixed(0)} | ${med(runs.app).toFixed(0)} | ${med(runs.owner).toFixed(0)} | ${ratio(med(runs.guarded), med(runs.app))} throughput | ${ratio(med(runs.guarded), med(runs.owner))} throughput |`);
    console.log(`| Express route, worst round p99 latency | ${Math.max(...runs.guarded.map((x) => x.p99))} ms | ${Math.max(...runs.app.map((x) => x.p99))} ms | ${Math.max(...runs.owner.map((x) => x.p99))} ms | | |`);
    console.log(`| non-2xx / errors | ${bad('guarded')} | ${bad('app')} | ${bad('owner')} | | |`);
    console.log(`| revocation: status before → very next request | ${before} → ${after} | | | | |`);
    // each round runs the three sides back to back: the per-round ratio compares neighbours in time
    const perRound = (other: Side) => runs.guarded.map((g, r) => g.rps / runs[other][r]!.rps).sort((x, y) => x - y).map((x) => x.toFixed(2)).join(' ');
    console.log(`\nper-round guarded/app ratios: ${perRound('app')}; guarded/owner: ${perRound('owner')}`);
    console.log(`rounds (req/s): ${SIDES.map((s) => `${s} ${runs[s].map((x) => x.rps.toFixed(0)).join(' ')}`).join(' | ')}`);
    const latencyOk = guarded.p99 < 2 && ours.p99 < 2;
    const revocationOk = before === 200 && after === 403;
    const vsApp = med(runs.guarded) / med(runs.app) >= 0.9;
    const vsOwner = med(runs.guarded) / med(runs.owner) >= 0.9;
    console.log(`targets: p99 < 2 ms ${latencyOk ? 'met' : 'NOT met'}; ≥ 0.9× throughput vs app/RLS ${vsApp ? 'met' : 'NOT met'}, vs owner ${vsOwner ? 'met' : 'NOT met'}; revocation immediate ${revocationOk ? 'met' : 'NOT met'}`);
  } finally {
    await bench.drop(owner, app);
  }
}

await main();
