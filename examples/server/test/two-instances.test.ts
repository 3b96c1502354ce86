/**
 * Two example-server instances on one PostgreSQL (and Redis when REDIS_URL is set): instance B is
 * its own process (test/fixtures/instance.ts) so it can be SIGKILLed mid-work; instance A runs in
 * this process. Schedules fire once per slot across both, a one-off and a per-client daily
 * check-in are each sent once, rate limits are exact across both, and the work B held when it was
 * killed is finished by A.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { withActor } from '@swan/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations as outboxMigrations } from '@swan/outbox';
import { postgresUrl, redisUrl, testEngines, type TestDatabase, until as waitUntil } from '@swan/test-utils';
import { bootServer, mintToken, SECRET, type TestServer } from './helpers.js';
import { serveFakeTwilio } from './fakes.js';
import { root } from './build.js';
import { twoInstanceModule } from './fixtures/two-instance-module.js';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, FROM, inboundFields, twilioSignature } from '../../../packages/checkins/test/fake-twilio.js';

const postgres = postgresUrl() ? testEngines().find((e) => e.name === 'postgres') : undefined;
const PUBLIC_URL = 'http://swan.test';
const DAY = 86_400_000;

const until = (check: () => Promise<boolean> | boolean, ms: number, what: string) => waitUntil(check, ms, what, 50);

/** Starts instance B as a child process; resolves with its URL once it listens. */
function startChild(env: Record<string, string>): { child: ChildProcess; listening: Promise<string>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples/server/test/fixtures/instance.ts')], {
    cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (d) => (out += String(d)));
  const listening = new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk) => {
      buffer += String(chunk);
      out += String(chunk);
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.msg === 'swan example server listening') resolve(String(entry.url));
        } catch { /* not JSON */ }
      }
    });
    child.once('exit', (code) => reject(new Error(`instance B exited with ${code}: ${out}`)));
  });
  return { child, listening, output: () => out };
}

/** A client created through `base`'s API with a fresh phone number. */
async function createClient(base: string, admin: string): Promise<{ clientId: string; phone: string }> {
  const phone = `+1415555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
  const created = await fetch(`${base}/api/clients`, {
    method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      pii: { full_name: 'Ada Lovelace', date_of_birth: '1985-12-10', email: `${randomUUID()}@example.com`, phone_number: phone, emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' } },
      training: { training_goals: ['mobility'] },
    }),
  });
  expect(created.status).toBe(201);
  return { clientId: ((await created.json()) as { client: { clientId: string } }).client.clientId, phone };
}

describe.runIf(postgres)('two example-server instances on one PostgreSQL', () => {
  let t: TestDatabase;
  let fake: FakeTwilio;
  let api: Awaited<ReturnType<typeof serveFakeTwilio>>;
  let b: ReturnType<typeof startChild> | undefined;
  let a: TestServer | undefined;
  let dataDir: string;
  let env: Record<string, string>;
  let slowEventId: string;
  let startedAt: number;
  let adminToken: string;
  let daily: { clientId: string; phone: string; slot: Date };

  beforeAll(async () => {
    t = await postgres!.create([outboxMigrations]);
    await sql`create table two_runs (instance text not null, kind text not null, slot text, event_id uuid not null, at timestamptz not null default clock_timestamp())`.execute(t.admin);
    await sql`grant select, insert on two_runs to swan_app`.execute(t.admin);
    // the daily schedule last ran three days ago: everything was down since
    await sql`insert into swan_outbox_schedules (name, last_slot) values ('daily_test', now() - interval '3 days')`.execute(t.admin);
    fake = new FakeTwilio();
    api = await serveFakeTwilio(fake);
    dataDir = mkdtempSync(join(tmpdir(), 'swan-two-'));
    const redis = redisUrl();
    env = {
      DATABASE_URL: t.adminUrl!,
      AUTH_JWT_SECRET: SECRET,
      SWAN_MASTER_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      SWAN_INDEX_KEY: randomBytes(32).toString('base64'),
      TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_FROM: FROM, TWILIO_API_BASE: api.url,
      PUBLIC_URL,
      OUTBOX_LEASE_MS: '2000',
      ...(redis ? { REDIS_URL: redis } : {}),
    };
    startedAt = Date.now();
    b = startChild({ ...env, PATH: process.env.PATH ?? '', PORT: '0', DATA_DIR: dataDir, INSTANCE: 'B' });
    await b.listening;
    // work that B takes and never finishes (its handler hangs) until it is killed
    slowEventId = randomUUID();
    await sql`insert into swan_outbox (event_id, event_type, payload) values (${slowEventId}::uuid, 'slow_test', '{}'::jsonb)`.execute(t.admin);
    await until(async () => (await sql`select 1 from two_runs where kind = 'slow_started'`.execute(t.admin)).rows.length > 0, 30_000, 'B taking the slow event');
    a = await bootServer(env, [], [twoInstanceModule('A', async (ctx, event) => {
      await sql`insert into two_runs (instance, kind, slot, event_id) values ('A', 'slow_done', null, ${event.eventId}::uuid)`.execute(ctx.db);
    })]);
    adminToken = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '1h' });
    // a daily check-in at the next whole minute (UTC) at least 20 s away: both instances' workers run then
    const now = Date.now();
    let slot = Math.ceil(now / 60_000) * 60_000;
    if (slot - now < 20_000) slot += 60_000;
    const at = new Date(slot);
    const localTime = `${String(at.getUTCHours()).padStart(2, '0')}:${String(at.getUTCMinutes()).padStart(2, '0')}`;
    const client = await createClient(a.url, adminToken);
    const checkins = a.ctx.services.checkins as { setDailySchedule(trx: unknown, input: unknown): Promise<{ nextRunAt: Date }> };
    const { nextRunAt } = await withActor(a.ctx.db, { id: randomUUID(), role: 'admin' }, (trx) =>
      checkins.setDailySchedule(trx, { clientId: client.clientId, kind: 'morning', localTime, timezone: 'UTC' }));
    expect(nextRunAt.toISOString()).toBe(at.toISOString());
    // queued as a scheduled event, visible in the outbox before its time
    const queued = await sql<{ key: string; status: string; due: Date }>`select idempotency_key as key, status, scheduled_for as due
      from swan_outbox where idempotency_key like ${`schedule:checkin:${client.clientId}:%`}`.execute(t.admin);
    expect(queued.rows.map((r) => [r.key, r.status, new Date(r.due).toISOString()]))
      .toEqual([[`schedule:checkin:${client.clientId}:morning:${at.toISOString()}`, 'pending', at.toISOString()]]);
    daily = { ...client, slot: at };
  }, 120_000);

  afterAll(async () => {
    if (b && b.child.exitCode === null) b.child.kill('SIGKILL');
    await a?.dispose();
    await api?.close();
    rmSync(dataDir, { recursive: true, force: true });
    await t?.close();
  });

  const runs = async (kind: string) =>
    (await sql<{ instance: string; slot: string | null; event_id: string }>`select instance, slot, event_id from two_runs where kind = ${kind} order by at`.execute(t.admin)).rows;

  it('a per-second schedule fires every slot once across both instances', async () => {
    await until(async () => (await runs('tick')).length >= 6, 30_000, 'six ticks');
    const ticks = await runs('tick');
    const slots = ticks.map((r) => r.slot);
    expect(new Set(slots).size).toBe(slots.length);
    expect(new Set(ticks.map((r) => r.event_id)).size).toBe(ticks.length);
    // the next occurrence is always queued
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from swan_outbox where event_type = 'tick_test' and status = 'pending' and scheduled_for > now()`.execute(t.admin);
    expect(rows[0]!.n).toBeGreaterThanOrEqual(1);
  });

  it('a daily schedule backfills the slots missed while both were down, each once, and queues the next', async () => {
    // 05:00Z slots within the 2-day backfill (plus the scheduler's 2-minute grace) of the first start
    const fiveAm = (ms: number) => { const d = new Date(ms); d.setUTCHours(5, 0, 0, 0); return d.getTime(); };
    const expected: string[] = [];
    const from = startedAt - 2 * DAY - 120_000;
    for (let at = fiveAm(from - DAY); at <= Date.now(); at += DAY) if (at > from) expected.push(new Date(at).toISOString());
    const next = fiveAm(Date.now()) > Date.now() ? fiveAm(Date.now()) : fiveAm(Date.now()) + DAY;
    expect(expected.length).toBeGreaterThanOrEqual(2);
    await until(async () => (await runs('daily')).length >= expected.length, 30_000, 'backfilled daily slots');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await runs('daily')).map((r) => r.slot).sort()).toEqual(expected);
    const { rows } = await sql<{ key: string }>`select idempotency_key as key from swan_outbox where event_type = 'daily_test' and status = 'pending'`.execute(t.admin);
    expect(rows.map((r) => r.key)).toEqual([`schedule:daily_test:${new Date(next).toISOString()}`]);
  });

  it('a one-off check-in is sent once', async () => {
    const { clientId, phone } = await createClient(a!.url, adminToken);
    // scheduled through B, due in a second: both instances' workers see it
    const scheduled = await fetch(`${await b!.listening}/api/clients/${clientId}/checkins`, {
      method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'morning', scheduledFor: new Date(Date.now() + 1000).toISOString(), timezone: 'UTC' }),
    });
    expect(scheduled.status).toBe(202);
    await until(() => fake.sentTo(phone).length > 0, 30_000, 'the check-in SMS');
    await new Promise((r) => setTimeout(r, 2000));
    expect(fake.sentTo(phone)).toHaveLength(1);
  });

  it.runIf(redisUrl())('rate limits are exact across both instances (Redis)', async () => {
    // twilioWebhook: 2 per minute per sender, whichever instance answers. The servers keep the
    // real clock, so a sequence may straddle the end of the sender's window: the `RateLimit`
    // header's `t` (seconds to the reset) tells, and such a sequence is run again with another sender.
    for (let round = 0; ; round++) {
      const sender = `+1202555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
      const statuses: number[] = [];
      const resets: number[] = [];
      for (let i = 0; i < 6; i++) {
        const base = i % 2 === 0 ? a!.url : await b!.listening;
        const fields = inboundFields(sender, `hello ${i}`);
        const res = await fetch(`${base}/webhooks/twilio/sms`, {
          method: 'POST', body: new URLSearchParams(fields).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(`${PUBLIC_URL}/webhooks/twilio/sms`, fields) },
        });
        await res.text();
        statuses.push(res.status);
        const t = /"twilioWebhook";[^,]*t=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1];
        expect(t, 'RateLimit header').toBeDefined();
        resets.push(Date.now() / 1000 + Number(t));
      }
      if (Math.max(...resets) - Math.min(...resets) > 2 && round < 3) continue;
      expect(statuses.filter((s) => s === 429)).toHaveLength(4);
      expect(statuses.slice(0, 2).every((s) => s !== 429)).toBe(true);
      return;
    }
  });

  it('a per-client daily check-in goes out once at its slot, and its next occurrence is queued once', async () => {
    const { clientId, phone, slot } = daily;
    const name = `checkin:${clientId}:morning`;
    const keyOf = (at: Date) => `schedule:${name}:${at.toISOString()}`;
    await until(() => fake.sentTo(phone).length > 0, slot.getTime() - Date.now() + 30_000, 'the daily check-in SMS');
    const next = new Date(slot.getTime() + DAY);
    await until(async () => (await sql`select 1 from swan_outbox where idempotency_key = ${keyOf(next)}`.execute(t.admin)).rows.length > 0, 10_000, 'the next occurrence');
    await new Promise((r) => setTimeout(r, 2000));
    expect(fake.sentTo(phone)).toHaveLength(1);
    const { rows } = await sql<{ key: string; status: string }>`select idempotency_key as key, status from swan_outbox
      where idempotency_key like ${`schedule:${name}:%`} order by scheduled_for`.execute(t.admin);
    expect(rows).toEqual([{ key: keyOf(slot), status: 'completed' }, { key: keyOf(next), status: 'pending' }]);
  }, 150_000);

  it('the work of a SIGKILLed instance is finished by the other, without counting an attempt', async () => {
    // B is alive and renews its lease: A never touched the event
    expect(await runs('slow_done')).toEqual([]);
    const before = await sql<{ status: string; lease_owner: string }>`select status, lease_owner from swan_outbox where event_id = ${slowEventId}::uuid`.execute(t.admin);
    expect(before.rows[0]).toMatchObject({ status: 'processing' });
    b!.child.kill('SIGKILL');
    await new Promise((r) => b!.child.once('exit', r));
    await until(async () => (await runs('slow_done')).length > 0, 30_000, 'A finishing the slow event');
    expect((await runs('slow_done')).map((r) => [r.instance, r.event_id])).toEqual([['A', slowEventId]]);
    await until(async () => (await sql<{ status: string }>`select status from swan_outbox where event_id = ${slowEventId}::uuid`.execute(t.admin)).rows[0]!.status === 'completed', 10_000, 'completion');
    const { rows } = await sql<{ attempts: number; lease_expiries: number }>`select attempts, lease_expiries from swan_outbox where event_id = ${slowEventId}::uuid`.execute(t.admin);
    expect(rows[0]).toEqual({ attempts: 0, lease_expiries: 1 });
    // and the schedules go on with one instance
    const ticks = (await runs('tick')).length;
    await until(async () => (await runs('tick')).length >= ticks + 3, 20_000, 'ticks after the kill');
  });
});
