// PII create and audited read against what PostgreSQL itself needs, on PostgreSQL, side by side in
// one run (same database, same pool). Operations:
//   create  = PiiService.createClient: fresh data key, 8 fields AES-256-GCM, blind indexes, training
//             row, alias, audit entry (one autocommit statement, swan_pii_create(…))
//   read    = PiiService.getClientPII: swan_pii_audited_reads(…) (actor set for the call, secured
//             select + audit INSERT + key join; concurrent reads batched into one statement) in a
//             transaction whose COMMIT is sent as soon as the rows arrive; the rows are decrypted
//             while it commits and handed out after it (queryWhileCommitting). Durable by default,
//             and with readCommit 'fast'
//   plain   = an autocommit INSERT / primary-key SELECT of the same plaintext values
//   floor   = a plain primary-key SELECT, then an autocommit INSERT of an empty row, durably
//             committed: the least PostgreSQL needs for a durable audited read (read the row,
//             make one record durable)
// Targets: the durable read at 1 client within 1.6× the floor's time; at 16 clients at least half
// the plain selects' throughput (the floor's own share at 16 clients is printed beside it). Each
// level runs BENCH_ROUNDS rounds; a round runs one chunk of each operation (their order rotates
// from round to round), ratios are taken per round, and the median and range of the per-round
// ratios are printed. The audit chainer runs in the background as in
// production; what it has left after one of our chunks is linked, untimed, before the next chunk.
// Run: pnpm bench pii, or cd bench && npx tsx pii/run.ts (DATABASE_URL: a superuser, default
// postgres://postgres@127.0.0.1:5432/test; packages built with `pnpm build`). BENCH_CLIENTS
// (default 10000) clients created, BENCH_READS reads per operation and level (default 18000),
// BENCH_ROUNDS (default 9).
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { chainAuditLog, createDatabase, migrate, migrations as coreMigrations, startAuditChainer, type Actor } from '@swan/core';
import { LocalKeyProvider, createPii, type PiiService, migrations as piiMigrations, type CreateClientInput } from '@swan/pii';

const BASE = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10_000);
const READS = Number(process.env.BENCH_READS ?? 18_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const LEVELS = [1, 16];
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

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const range = (v: number[]) => `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`;

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
    const ourIds: string[] = [];
    const plainIds: string[] = [];
    /**
     * Runs `ops` side by side at `c` clients: ROUNDS rounds, each one chunk of every operation, in
     * an order that rotates from round to round. Returns each operation's per-round rates (ops/s).
     */
    const sideBySide = async (c: number, total: number, ops: Record<string, { run: () => Promise<unknown>; audited?: boolean }>) => {
      const chunk = Math.ceil(total / ROUNDS);
      const names = Object.keys(ops);
      const rates: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < names.length; k++) {
          const name = names[(round + k) % names.length]!;
          rates[name]!.push(await throughput(chunk, c, ops[name]!.run));
          if (ops[name]!.audited) await chainAuditLog(app);
        }
      }
      return rates;
    };
    const table: string[] = [];
    /** A table row: ours against a reference, as per-round ratios of their rates. */
    const row = (label: string, ours: number[], reference: number[], ratio: 'time' | 'throughput') => {
      const r = ours.map((o, i) => (ratio === 'time' ? reference[i]! / o : o / reference[i]!));
      table.push(`| ${label} | ${median(reference).toFixed(0)} | ${median(ours).toFixed(0)} | ${median(r).toFixed(2)} | ${range(r)} |`);
      return r;
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
    table.push('| operation (concurrent clients) | reference ops/s | ours ops/s | ratio (median) | range |', '|---|---:|---:|---:|---:|');
    for (const c of LEVELS) {
      const rates = await sideBySide(c, perLevel, { plain: { run: plainInsert }, create: { run: create, audited: true } });
      row(`create (${c}), time ÷ plain INSERT`, rates.create!, rates.plain!, 'time');
    }
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
    const floor = async () => {
      await selectPlain(pick(plainIds));
      await sql`insert into bench_commit default values`.execute(app);
    };
    await throughput(plainIds.length, 16, (i) => selectPlain(plainIds[i]!));
    await throughput(ourIds.length, 16, (i) => pii.getClientPII(ourIds[i]!, admin, 'warm-up'));
    await chainAuditLog(app);
    const targets: string[] = [];
    const verdict = (label: string, r: number[], ok: (median: number) => boolean, target: string) =>
      targets.push(`- ${label}: median ${median(r).toFixed(2)}, range ${range(r)} over ${r.length} rounds; target ${target}: ${ok(median(r)) ? 'met' : 'NOT met'}`);
    for (const c of LEVELS) {
      const rates = await sideBySide(c, READS, {
        plain: { run: plainSelect },
        floor: { run: floor },
        durable: { run: () => pii.getClientPII(pick(ourIds), admin, 'benchmark'), audited: true },
        fast: { run: () => fast.getClientPII(pick(ourIds), admin, 'benchmark'), audited: true },
      });
      if (c === 1) {
        row('floor (1), time ÷ plain SELECT', rates.floor!, rates.plain!, 'time');
        const durable = row('audited read, durable (1), time ÷ floor', rates.durable!, rates.floor!, 'time');
        row(`audited read, 'fast' (1), time ÷ floor`, rates.fast!, rates.floor!, 'time');
        row('audited read, durable (1), time ÷ plain SELECT', rates.durable!, rates.plain!, 'time');
        verdict('durable audited read at 1 client, time ÷ floor', durable, (m) => m <= 1.6, '≤ 1.6');
      } else {
        row(`floor (${c}), throughput ÷ plain SELECT`, rates.floor!, rates.plain!, 'throughput');
        const durable = row(`audited read, durable (${c}), throughput ÷ plain SELECT`, rates.durable!, rates.plain!, 'throughput');
        row(`audited read, 'fast' (${c}), throughput ÷ plain SELECT`, rates.fast!, rates.plain!, 'throughput');
        verdict(`durable audited read at ${c} clients, throughput ÷ plain SELECT`, durable, (m) => m >= 0.5, '≥ 0.5');
      }
    }
    console.log(`\n${ourIds.length} clients created through @swan/pii, ${plainIds.length} plain rows; PostgreSQL, pool ${POOL}, ${ROUNDS} rounds\n`);
    console.log(table.join('\n'));
    console.log(`\n${targets.join('\n')}`);
  } finally {
    await chainer.stop();
    await app.destroy();
    await owner.destroy();
    await sql.raw(`drop database if exists ${name} with (force)`).execute(root);
    await root.destroy();
  }
}

await main();
