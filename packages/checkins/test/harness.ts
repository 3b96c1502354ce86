import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import twilio from 'twilio';
import { toErrorResponse, type Actor, type ErasureParticipant, type Route, type SwanRequest } from '@swan/core';
import { createOutbox, createScheduleStore, createWorker, migrations as outboxMigrations, type Outbox, type Worker } from '@swan/outbox';
import { LocalKeyProvider, createPii, type PiiService, migrations as piiMigrations } from '@swan/pii';
import type { TestDatabase, TestEngine } from '@swan/test-utils';
import { checkinsRoutes, createCheckins, createTwilioClient, migrations, type Checkins, type CheckinsOptions } from '../src/index.js';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, FROM, inRequest } from './fake-twilio.js';

export const admin: Actor = { id: randomUUID(), role: 'admin' };
export const PUBLIC_URL = 'https://swan.example';
export const WEBHOOK_URL = `${PUBLIC_URL}/webhooks/twilio/sms`;

export interface Harness {
  t: TestDatabase;
  fake: FakeTwilio;
  pii: PiiService;
  outbox: Outbox;
  checkins: Checkins;
  routes: Route[];
  createClient(n: number, phone?: string | null): Promise<{ clientId: string; alias: string; phone: string | null; fullName: string }>;
  /** Runs a route as the adapters would (guards, then handler), inside the in-request flag. */
  call(path: string, init: { body?: unknown; rawBody?: Buffer; headers?: Record<string, string>; actor?: Actor | null; params?: Record<string, string> }): Promise<{ status: number; body: any; contentType?: string }>;
  /** Posts signed (or forged) inbound SMS fields to the webhook route. */
  inbound(fields: Record<string, string>, signature?: string): Promise<{ status: number; body: any; contentType?: string }>;
  /** A worker of the check-in handlers that also advances stored schedules (`schedules: []`). */
  startWorker(options?: { db?: TestDatabase['db'] }): Promise<Worker>;
  /** Waits until no event of the given types is pending or processing. */
  drain(types?: string[], timeoutMs?: number): Promise<void>;
  outboxRows(): Promise<{ event_id: string; event_type: string; status: string; attempts: number; payload: any }[]>;
  count(table: string): Promise<number>;
  close(): Promise<void>;
}

export async function startHarness(engine: TestEngine, overrides: Partial<CheckinsOptions> = {}): Promise<Harness> {
  const t = await engine.create([piiMigrations, outboxMigrations, migrations]);
  const fake = new FakeTwilio();
  const participants: ErasureParticipant[] = [];
  const pii = createPii({
    db: t.db, keys: LocalKeyProvider.fromEnv(`k1:${randomBytes(32).toString('base64')}`), indexKey: randomBytes(32),
    erasureParticipants: () => participants,
  });
  const outbox = createOutbox({ db: t.db, maxAttempts: 25 });
  const checkins = createCheckins({
    db: t.db, events: outbox, schedules: createScheduleStore({ outbox }), pii, from: FROM, authToken: AUTH_TOKEN,
    twilio: createTwilioClient({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, httpClient: fake }),
    ...overrides,
  });
  participants.push(checkins.erasureParticipant());
  const routes = checkinsRoutes({ db: t.db, checkins });
  const workers: Worker[] = [];

  const call: Harness['call'] = async (path, init) => {
    const route = routes.find((r) => r.path === path)!;
    const req: SwanRequest = {
      method: 'POST', path, url: `${PUBLIC_URL}${path}`, params: init.params ?? {}, query: {}, headers: init.headers ?? {},
      body: init.body, ...(init.rawBody ? { rawBody: init.rawBody } : {}), actor: init.actor ?? null, ip: '127.0.0.1',
    };
    return inRequest.run(true, async () => {
      try {
        for (const g of route.guards ?? []) await g(req, { setHeader: () => undefined });
        const res = await route.handler(req);
        return { status: res.status, body: res.body, ...(res.contentType ? { contentType: res.contentType } : {}) };
      } catch (error) {
        const res = toErrorResponse(error);
        return { status: res.status, body: res.body };
      }
    });
  };

  return {
    t, fake, pii, outbox, checkins, routes, call,
    async createClient(n, phone = `+1415555${String(1000 + n).padStart(4, '0')}`) {
      const fullName = `Ada Lovelace${n}-${randomBytes(3).toString('hex')}`;
      const { clientId, alias } = await pii.createClient(admin, {
        pii: { full_name: fullName, date_of_birth: '1990-04-01', email: `c${n}.${randomBytes(3).toString('hex')}@example.com`, ...(phone ? { phone_number: phone } : {}), emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' } },
        training: { training_goals: ['strength'] },
      });
      return { clientId, alias, phone, fullName };
    },
    inbound(fields, signature) {
      const rawBody = Buffer.from(new URLSearchParams(fields).toString());
      const sig = signature ?? twilio.getExpectedTwilioSignature(AUTH_TOKEN, WEBHOOK_URL, fields);
      return call('/webhooks/twilio/sms', { body: { ...fields }, rawBody, headers: { 'x-twilio-signature': sig, 'content-type': 'application/x-www-form-urlencoded' } });
    },
    async startWorker(options = {}) {
      const w = createWorker({ db: options.db ?? t.db, handlers: checkins.handlers, schedules: [], pollIntervalMs: 20, backoff: { baseMs: 10, capMs: 60 }, flushMs: 1, concurrency: 4 });
      await w.start();
      workers.push(w);
      return w;
    },
    async drain(types = ['morning_checkin_scheduled', 'evening_checkin_scheduled'], timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from swan_outbox
          where status in ('pending', 'processing') and event_type = any(${types}::text[]) and scheduled_for <= now() + interval '10 seconds'`.execute(t.admin);
        if (rows[0]!.n === 0) return;
        if (Date.now() > deadline) throw new Error('outbox did not drain');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async outboxRows() {
      return (await sql<any>`select event_id, event_type, status, attempts, payload from swan_outbox order by id`.execute(t.admin)).rows;
    },
    async count(table) {
      return (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(t.admin)).rows[0]!.n;
    },
    async close() {
      for (const w of workers) await w.stop({ graceful: false });
      await t.close();
    },
  };
}
