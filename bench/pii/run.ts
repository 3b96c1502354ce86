// PII create and audited read vs plain unencrypted insert / primary-key select of the same rows,
// at 1, 4 and 16 concurrent clients on PostgreSQL (same run, same database, same pool).
//   create  = PiiService.createClient: fresh data key, 8 fields AES-256-GCM, blind indexes, training
//             row, alias, audit entry — one autocommit statement, swan_pii_create(…)
//   read    = PiiService.getClientPII: one autocommit statement, swan_pii_audited_reads(…) (actor set
//             for the call, secured select + audit INSERT + key join; concurrent reads batched into
//             one statement), decrypted with the data key from the bounded in-memory cache while the
//             statement commits (queryWhileCommitting), handed out after the commit
//   plain   = one autocommit INSERT / SELECT … WHERE pk of the same plaintext values
//   floor   = one autocommit INSERT of an empty row, durably committed: what any durable read must
//             at least add to a select (the WAL flush), so plain select ÷ floor bounds the ratio a
//             durable audited read can reach at one client on this machine
// The audit chainer runs in the background as in production.
// Run: cd bench && npx tsx pii/run.ts   (DATABASE_URL: a superuser, default postgres://postgres@127.0.0.1:5432/test;
// packages built with `pnpm build`). BENCH_CLIENTS (default 10000), BENCH_READS per operation and level (default 18000),
// BENCH_ROUNDS (default 9): the reads run side by side in that many rounds; medians and per-round ranges printed.
import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { chainAuditLog, createDatabase, migrate, migrations as coreMigrations, startAuditChainer, type Actor } from '@swan/core';
import { LocalKeyProvider, createPii, type PiiService, migrations as piiMigrations, type CreateClientInput } from '@swan/pii';

const BASE = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10_000);
const READS = Number(process.env.BENCH_READS ?? 18_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const LEVELS = [1, 4, 16];
const POOL = 20;
const admin: Actor = { id: randomUUID(), role: 'admin' };

function withDb(url: string, database: string, user?: string): string {
  const u = new URL(url);
  if (user) { u.username = user; u.password = ''; }
  u.pathname = `/${database}`;
  return u.toString();
}

const body = (n: number): CreateClientInput => ({
  pii: {
    full_name: `Bench Person ${n}`, preferred_name: `BP${n}`, date_of_birth: '1988-03-14', email: `bench${n}@example.com`,
    phone_number: `+1213${String(3000000 + (n % 6999999)).padStart(7, '0')}`, blood_type: 'A+',
    emergency_contact: { name: `Kin ${n}`, relationship: 'sibling', phone: '+12025550123' },
    address: { street: `${n} Main St`, city: 'Springfield', state: 'CA', zip: '90001' },
  },
  training: { gender: 'female', height_inches: 66, weight_lbs: 150.5, training_goals: ['strength'], training_tier: 'tier_2' },
});

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;

/** Runs `n` operations with `concurrency` workers; returns operations per second. */
async function throughput(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < n; i = next++) await op(i);
  }));
  return n / ((performance.now() - t0) / 1000);
}

async function main() {
  const name = `swan_bench_pii_${randomBytes(4).toString('hex')}`;
  const root = createDatabase({ url: BASE, poolSize: 1 });
  await sql.raw(`create database ${name}`).execute(root);
  const owner = createDatabase({ url: withDb(BASE, name), poolSize: 2 });
  const app = createDatabase({ url: withDb(BASE, name, 'swan_app'), poolSize: POOL });
  const chainer = startAuditChainer(app);
  try {
    await migrate(owner, [coreMigrations, piiMigrations]);
    await sql`create table bench_plain (client_id uuid primary key, full_name text, preferred_name text, date_of_birth text,
      blood_type text, phone_number text, email text, emergency_contact jsonb, address jsonb)`.execute(owner);
    await sql`create table bench_commit (id bigint generated always as identity primary key)`.execute(owner);
    await sql`grant select, insert on bench_plain, bench_commit to swan_app`.execute(owner);
    const options = { db: app, keys: LocalKeyProvider.fromEnv(`bench:${randomBytes(32).toString('base64')}`), indexKey: randomBytes(32) };
    const pii = createPii(options);
    const fast = createPii({ ...options, readCommit: 'fast' });
    await pii.createClient(admin, body(-1)); // warm up
    const perLevel = Math.floor(CLIENTS / LEVELS.length);
    const rows: string[][] = [];
    const ourIds: string[] = [];
    const plainIds: string[] = [];
    // Plain and ours side by side: ROUNDS rounds, each a chunk of the plain operation then one of
    // each of ours; ratios per round, medians reported. What the chainer has left after one of our
    // chunks is linked (untimed) before the next chunk, so no plain window carries our background
    // work; read chunks are long enough (2,000 reads, over a second at one client) for the chainer
    // to run several times inside each, as it does under a steady stream of reads.
    const sideBySide = async (c: number, total: number, plainOp: () => Promise<unknown>, ours: [string, () => Promise<unknown>][]) => {
      const chunk = Math.ceil(total / ROUNDS);
      const plain: number[] = [];
      const ourRates = ours.map((): number[] => []);
      for (let round = 0; round < ROUNDS; round++) {
        plain.push(await throughput(chunk, c, plainOp));
        for (const [i, [, op]] of ours.entries()) {
          ourRates[i]!.push(await throughput(chunk, c, op));
          await chainAuditLog(app);
        }
      }
      for (const [i, [label]] of ours.entries()) {
        const ratios = plain.map((p, r) => p / ourRates[i]![r]!);
        rows.push([label, median(plain).toFixed(0), median(ourRates[i]!).toFixed(0), median(ratios).toFixed(2),
          `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`]);
      }
    };
    let made = 0;
    const plainInsert = async () => {
      const id = randomUUID();
      const p = body(made++).pii;
      await sql`insert into bench_plain values (${id}, ${p.full_name}, ${p.preferred_name}, ${p.date_of_birth}, ${p.blood_type},
        ${p.phone_number}, ${p.email}, ${JSON.stringify(p.emergency_contact)}::jsonb, ${JSON.stringify(p.address)}::jsonb)`.execute(app);
      plainIds.push(id);
    };
    const create = async () => { ourIds.push((await pii.createClient(admin, body(made++))).clientId); };
    for (const c of LEVELS) await sideBySide(c, perLevel, plainInsert, [[`create (${c})`, create]]);
    // Steady state before the reads, for both sides alike (as pgbench vacuums before a run): the
    // creations' audit entries linked, both tables vacuumed and analyzed, their pages checkpointed,
    // so no autovacuum or checkpoint started by the setup lands in a measured window; then every
    // row read once (untimed), so the first access stamp of each PII page after that checkpoint,
    // a full-page image in the WAL, is written before the measurement as it is in the first
    // seconds after any checkpoint, and both tables' pages are in the buffer cache.
    await chainAuditLog(app);
    await sql`vacuum analyze`.execute(owner);
    await sql`checkpoint`.execute(owner);
    const pick = (ids: string[]) => ids[Math.floor(Math.random() * ids.length)]!;
    const selectPlain = (id: string) => sql`select * from bench_plain where client_id = ${id}`.execute(app);
    const plainSelect = () => selectPlain(pick(plainIds));
    await throughput(plainIds.length, 16, (i) => selectPlain(plainIds[i]!));
    await throughput(ourIds.length, 16, (i) => pii.getClientPII(ourIds[i]!, admin, 'warm-up'));
    await chainAuditLog(app);
    for (const c of LEVELS) {
      const ours: [string, () => Promise<unknown>][] = [
        [`audited read, durable commit (${c})`, () => pii.getClientPII(pick(ourIds), admin, 'benchmark')],
        [`audited read, readCommit 'fast' (${c})`, () => fast.getClientPII(pick(ourIds), admin, 'benchmark')],
      ];
      if (c === 1) ours.push([`floor: durable commit of an empty INSERT (1)`, () => sql`insert into bench_commit default values`.execute(app)]);
      await sideBySide(c, READS, plainSelect, ours);
    }
    console.log(`\n${ourIds.length} clients created through @swan/pii, ${plainIds.length} plain rows; PostgreSQL, pool ${POOL}\n`);
    console.log(`| operation (concurrent clients) | plain ops/s | @swan/pii ops/s | plain ÷ ours | range over ${ROUNDS} rounds |`);
    console.log('|---|---:|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log('\nTargets: create and read ratio ≤ 4 at 1 client; read ratio ≤ 4 at 16 clients.');
  } finally {
    await chainer.stop();
    await app.destroy();
    await owner.destroy();
    await sql.raw(`drop database if exists ${name} with (force)`).execute(root);
    await root.destroy();
  }
}

await main();
