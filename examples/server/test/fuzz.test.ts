/**
 * Hostile input over the whole HTTP contract: every route of docs/http-api.md, on both adapters,
 * on PGlite and (when DATABASE_URL is set) PostgreSQL, driven with generated bodies, path ids and
 * query strings — NUL, unpaired surrogates, invalid UTF-8 in percent-encoding, huge strings, deep
 * nesting, `__proto__` keys, wrong types — mostly as one mutation of an otherwise valid request,
 * so the hostile value reaches the deepest check. Every answer must be below 500; every error must
 * be the envelope with a contract code; and a rejected request must change no row (the database is
 * fingerprinted before and after it, the audit log aside: denied PII reads are audited on purpose).
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, ERROR_STATUS } from '@swan/core';
import { postgresUrl, testEngines, type TestDatabase } from '@swan/test-utils';
import { validPrompt } from '../../../packages/schema/test/fixtures.js';
import { bootServer, mintToken, type TestServer } from './helpers.js';

const CONTRACT_CODES = new Set(Object.keys(ERROR_STATUS).filter((c) => c !== 'INTERNAL'));
const RUNS_PER_ROUTE = Number(process.env.FUZZ_RUNS ?? 6);
const AUDIT_TABLES = new Set(['swan_audit_log', 'swan_audit_chain', 'swan_audit_head']);

type Who = 'admin' | 'client' | 'trainer' | 'none';
interface Ids { clientId: string; trainerId: string; eventId: string }
interface ContractRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  who: Who;
  /** A valid body for the route, which the generator then mutates. */
  body?: (ids: Ids) => unknown;
  /** Query parameters the route reads. */
  query?: string[];
  /** `form` for the Twilio webhook, `raw` for Stripe's. */
  encoding?: 'form' | 'raw';
}

const PII_BODY = () => ({
  pii: {
    full_name: 'Fuzz Person', preferred_name: 'Fuzz', date_of_birth: '1990-01-01', email: `fuzz.${randomUUID()}@example.org`,
    phone_number: '+14155550123', blood_type: 'O+', emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+14155550100' },
    address: { line1: '1 Main St', city: 'Springfield' },
  },
  training: { gender: 'female', height_inches: 66, weight_lbs: 140, training_goals: ['strength'], injury_history: [{ area: 'knee' }] },
});

/** Every route of the contract (docs/http-api.md), including those a module may not mount: they must answer 404, not 500. */
const ROUTES: ContractRoute[] = [
  { method: 'GET', path: '/healthz', who: 'none' },
  { method: 'GET', path: '/readyz', who: 'none' },
  { method: 'GET', path: '/openapi.json', who: 'none' },
  { method: 'POST', path: '/api/clients', who: 'admin', body: PII_BODY },
  { method: 'PUT', path: '/api/trainers/:trainerId/clients/:clientId', who: 'admin' },
  { method: 'GET', path: '/api/clients/:clientId/pii', who: 'admin', query: ['purpose', 'note', 'reason'] },
  { method: 'PATCH', path: '/api/clients/:clientId/pii', who: 'admin', body: () => ({ preferred_name: 'Renamed', address: { line1: '2 Side St' } }) },
  { method: 'GET', path: '/api/clients/:clientId/training', who: 'trainer' },
  { method: 'PATCH', path: '/api/clients/:clientId/training', who: 'admin', body: () => ({ weight_lbs: 150, training_goals: ['endurance'] }) },
  { method: 'POST', path: '/api/clients/:clientId/restrict', who: 'admin', body: () => ({ reason: 'data_subject_request' }) },
  { method: 'POST', path: '/api/clients/:clientId/unrestrict', who: 'admin', body: () => ({ reason: 'data_subject_request' }) },
  { method: 'GET', path: '/api/admin/clients', who: 'admin', query: ['limit', 'cursor'] },
  { method: 'DELETE', path: '/api/clients/:clientId', who: 'admin', body: () => ({ reason: 'Client asked to leave' }) },
  { method: 'POST', path: '/api/clients/:clientId/erase', who: 'admin', body: () => ({ reason: 'Erasure request' }) },
  { method: 'GET', path: '/api/clients/:clientId/export', who: 'client', query: ['format'] },
  { method: 'GET', path: '/api/audit/verify', who: 'admin' },
  {
    method: 'POST', path: '/api/consent/versions', who: 'admin',
    body: () => ({ version: `9.${Math.floor(Math.random() * 9000)}`, effectiveDate: '2030-01-01', fullText: 'Full text\nof the consent.', summary: 'Summary', changesFromPrevious: 'Changes', requiresReConsent: false }),
  },
  {
    method: 'POST', path: '/api/consent/grant', who: 'client',
    body: (ids) => ({ clientId: ids.clientId, consentType: 'data_collection', consentVersion: '3.0', consentGranted: true, consentMethod: 'web_form', signatureData: 'c2lnbmF0dXJl' }),
  },
  { method: 'POST', path: '/api/consent/revoke', who: 'client', body: (ids) => ({ clientId: ids.clientId, consentType: 'voice_transcription', reason: 'No longer wanted' }) },
  { method: 'GET', path: '/api/consent/:clientId', who: 'client' },
  { method: 'GET', path: '/api/consent/check/:clientId/:consentType', who: 'client' },
  { method: 'POST', path: '/api/clients/:clientId/master-prompt', who: 'trainer', body: (ids) => { const p = validPrompt() as any; p.meta.client_id = ids.clientId; return p; } },
  { method: 'GET', path: '/api/clients/:clientId/master-prompt', who: 'trainer' },
  { method: 'POST', path: '/api/ai-village/query', who: 'client', body: () => ({ query: 'How should I train today?' }) },
  { method: 'POST', path: '/api/photo-upload', who: 'client', body: () => ({ objectKey: 'uploads/photo-1.jpg' }) },
  { method: 'POST', path: '/api/clients/:clientId/checkins', who: 'trainer', body: () => ({ kind: 'morning', scheduledFor: '2030-01-01T08:00:00Z', timezone: 'Europe/Paris' }) },
  { method: 'GET', path: '/api/billing/payment-links', who: 'client' },
  { method: 'POST', path: '/api/stripe/create-portal-session', who: 'client', body: () => ({}) },
  { method: 'POST', path: '/webhooks/stripe', who: 'none', encoding: 'raw', body: () => ({ id: 'evt_1', type: 'customer.subscription.created', data: { object: {} } }) },
  { method: 'POST', path: '/webhooks/twilio/sms', who: 'none', encoding: 'form', body: () => ({ From: '+14155550123', Body: 'YES', MessageSid: 'SM1' }) },
  { method: 'GET', path: '/api/admin/outbox/stats', who: 'admin' },
  { method: 'GET', path: '/api/admin/outbox/dead', who: 'admin', query: ['limit', 'eventType'] },
  { method: 'POST', path: '/api/admin/outbox/dead/:eventId/redrive', who: 'admin' },
  { method: 'GET', path: '/api/admin/rate-limit/violators', who: 'admin', query: ['limit', 'policy'] },
];

// ---------------------------------------------------------------------------- generators

const DEEP = '\u0001deep';
/** JSON text of a generated document, with each deep-nesting marker written out as raw text. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v && typeof v === 'object' && DEEP in v ? `${DEEP}:${v[DEEP]}` : v))
    .replace(/"\\u0001deep:(\d+)"/g, (_m, n: string) => `${'['.repeat(Number(n))}"\\u0000"${']'.repeat(Number(n))}`);
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('\u0000', 'a\u0000b', '\u001b[2J', '\u0085', '__proto__', 'constructor', '', ' ', '💥', "'; drop table swan_outbox; --", '%00', '../../etc/passwd', '9'.repeat(40)),
  loneSurrogate,
  fc.tuple(fc.string({ maxLength: 5 }), loneSurrogate, fc.string({ maxLength: 5 })).map(([a, s, b]) => a + s + b),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(2_000, 70_000, 300_000).map((n) => 'x'.repeat(n)),
);
/** Arrays nested `depth` deep: cheap to send, deep to walk. A marker until {@link toJson} writes it out. */
const deep = fc.constantFrom(50, 5_000, 40_000).map((depth) => ({ [DEEP]: depth }));
const protoObject = fc.constant(null).map(() => JSON.parse('{"__proto__":{"role":"admin","polluted":true},"constructor":{"prototype":{"polluted":true}}}') as unknown);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: hostileString },
  fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
  deep, protoObject,
);

/** Every path to a value inside a JSON document. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

/** `doc` with the value at `path` replaced (or removed, or given a `__proto__` sibling). */
function mutate(doc: unknown, path: Array<string | number>, how: 'replace' | 'remove' | 'proto', value: unknown): unknown {
  if (path.length === 0) return how === 'replace' ? value : doc;
  const copy: any = structuredClone(doc);
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key];
  const last = path.at(-1)!;
  if (how === 'replace') parent[last] = value;
  else if (how === 'remove') Array.isArray(parent) ? parent.splice(last as number, 1) : delete parent[last];
  else if (!Array.isArray(parent)) Object.defineProperty(parent, '__proto__', { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

/** Percent-encodes the UTF-8 bytes of `s`, or raw bytes (invalid UTF-8 included). */
const pct = (bytes: Buffer) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const hostileSegment = fc.oneof(
  hostileString.filter((s) => s.length < 3000).map((s) => pct(Buffer.from(s, 'utf8'))),
  fc.constantFrom('%c0%80', '%ff%fe', '%ed%a0%80', '%00', '..', '%2e%2e', 'not-a-uuid', '00000000-0000-0000-0000-000000000000', `${randomUUID()}%00`),
);

interface Generated {
  route: ContractRoute;
  path: string;
  query: string;
  body?: string;
  who: Who;
}

function requestFor(route: ContractRoute, ids: Ids): fc.Arbitrary<Generated> {
  const segments = fc.tuple(...paramNames(route).map((n) => fc.oneof({ weight: 3, arbitrary: fc.constant(realId(ids, n)) }, { weight: 1, arbitrary: fc.oneof(hostileSegment, fc.uuid()) })));
  const queryPart = fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...(route.query ?? ['q'])), fc.constantFrom('__proto__', 'a[b]', 'limit[]', '%00')),
      fc.oneof(hostileSegment, fc.constantFrom('0', '-1', '1e3', '1000000', '20', 'json', 'html', 'session_planning', 'aiQuery')),
    ),
    { maxLength: route.query ? 3 : 1 },
  ).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
  const base = route.body?.(ids);
  const body: fc.Arbitrary<string | undefined> = base === undefined
    ? fc.option(hostileValue.map(toJson), { nil: undefined })
    : fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...paths(base)), fc.constantFrom('replace', 'replace', 'remove', 'proto') as fc.Arbitrary<'replace' | 'remove' | 'proto'>, hostileValue).map(([p, how, v]) => toJson(mutate(base, p, how, v))) },
      { weight: 1, arbitrary: hostileValue.map(toJson) },
      { weight: 1, arbitrary: fc.constantFrom('{', '{"a":', '\u0000', '[1,]', '{"__proto__":', 'null') },
    );
  const who = fc.oneof({ weight: 4, arbitrary: fc.constant(route.who) }, { weight: 1, arbitrary: fc.constantFrom<Who>('admin', 'client', 'trainer', 'none') });
  return fc.record({ segments, query: queryPart, body, who }).map(({ segments: values, query, body: b, who: w }) => {
    let i = 0;
    const path = route.path.replace(/:([a-zA-Z]+)/g, () => values[i++] as string);
    return { route, path, query, who: w, ...(b === undefined ? {} : { body: b }) };
  });
}

/** The generated JSON body as urlencoded fields (Twilio's webhook), every value as text. */
function formOf(json: string): string {
  let fields: unknown;
  try { fields = JSON.parse(json); } catch { return json; }
  const entries = fields && typeof fields === 'object' ? Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)]) : [];
  return new URLSearchParams(entries).toString();
}

/** Text every text check must refuse, put at each place of a valid request in turn. */
const NASTY = ['a\u0000b', 'x\ud800y', 'y'.repeat(5_000)];
const NASTY_SEGMENTS = ['%00', 'a%00b', '%ed%a0%80', '%ff'];
const MAX_SWEEP = 45;

const realId = (ids: Ids, name: string) => (name === 'trainerId' ? ids.trainerId : name === 'eventId' ? ids.eventId : name === 'consentType' ? 'ai_processing' : ids.clientId);
const paramNames = (route: ContractRoute) => [...route.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => m[1]!);

/** The sweep: each nasty value at each place of a valid request (body field, query parameter, path id), once. */
function sweep(route: ContractRoute, ids: Ids): Generated[] {
  const base = route.body?.(ids);
  const body = base === undefined || route.method === 'GET' ? {} : { body: toJson(base) };
  const withIds = (values: Record<string, string>) => route.path.replace(/:([a-zA-Z]+)/g, (_m, n: string) => values[n] ?? realId(ids, n));
  const plain: Generated = { route, path: withIds({}), query: '', who: route.who, ...body };
  const out: Generated[] = [];
  if ('body' in body) for (const p of paths(base).slice(1)) for (const v of NASTY) out.push({ ...plain, body: toJson(mutate(base, p, 'replace', v)) });
  for (const k of route.query ?? []) for (const v of NASTY_SEGMENTS) out.push({ ...plain, query: `${k}=${v}` });
  for (const n of paramNames(route)) for (const v of NASTY_SEGMENTS) out.push({ ...plain, path: withIds({ [n]: v }) });
  // a long document (the master prompt) is swept at an even spread of its places
  return out.length <= MAX_SWEEP ? out : out.filter((_, i) => i % Math.ceil(out.length / MAX_SWEEP) === 0);
}

/**
 * A digest of every table but the audit log's: equal before and after means no row was written.
 * The PII access stamp is left out too: the audit chainer copies it from earlier allowed reads.
 */
async function fingerprint(db: Kysely<any>): Promise<Record<string, string>> {
  const { rows: tables } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
     where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`.execute(db);
  const digests = tables.filter(({ name }) => !AUDIT_TABLES.has(name)).map(({ name }) => sql`
    select ${name} as name, count(*) || ':' || coalesce(md5(string_agg(md5(r::text), '' order by md5(r::text))), '-') as d
      from (select to_jsonb(t) - 'last_accessed_at' - 'accessed_by' as r from ${sql.table(name)} t) s`);
  const { rows } = await sql<{ name: string; d: string }>`${sql.join(digests, sql` union all `)}`.execute(db);
  return Object.fromEntries(rows.map((r) => [r.name, r.d]));
}

// ---------------------------------------------------------------------------- the suite

const postgres = postgresUrl() ? testEngines().find((e) => e.name === 'postgres') : undefined;
const cases = [
  { name: 'PGlite, express', framework: 'express', engine: undefined },
  { name: 'PGlite, fastify', framework: 'fastify', engine: undefined },
  ...(postgres ? [{ name: 'PostgreSQL, express', framework: 'express', engine: postgres }, { name: 'PostgreSQL, fastify', framework: 'fastify', engine: postgres }] : []),
];

describe.each(cases)('hostile input over every route of the contract ($name)', ({ framework, engine }) => {
  let pg: TestDatabase | undefined;
  let owner: Kysely<any>;
  let server: TestServer;
  let ids: Ids;
  const tokens: Partial<Record<Who, string>> = {};

  const send = async (g: Generated) => {
    const headers: Record<string, string> = {};
    if (g.who !== 'none') headers.authorization = `Bearer ${tokens[g.who]}`;
    if (g.body !== undefined && g.route.method !== 'GET') {
      headers['content-type'] = g.route.encoding === 'form' ? 'application/x-www-form-urlencoded' : 'application/json';
      if (g.route.encoding === 'raw') headers['stripe-signature'] = 't=1,v1=00';
      if (g.route.encoding === 'form') headers['x-twilio-signature'] = 'AAAA';
    }
    const body = g.body === undefined || g.route.method === 'GET' ? undefined
      : g.route.encoding === 'form' ? formOf(g.body) : g.body;
    const res = await fetch(`${server.url}${g.path}${g.query ? `?${g.query}` : ''}`, { method: g.route.method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', text };
  };

  beforeAll(async () => {
    pg = engine ? await engine.create([]) : undefined;
    server = await bootServer({ SWAN_FRAMEWORK: framework, RUN_WORKERS: 'false', ...(pg ? { DATABASE_URL: pg.adminUrl! } : {}) }, [], []);
    owner = pg ? createDatabase({ url: pg.adminUrl!, poolSize: 2 }) : server.ctx.db;
    tokens.admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '1h' });
    const created = await fetch(`${server.url}/api/clients`, { method: 'POST', headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' }, body: JSON.stringify(PII_BODY()) });
    expect(created.status).toBe(201);
    const clientId: string = ((await created.json()) as any).client.clientId;
    const trainerId = randomUUID();
    expect((await fetch(`${server.url}/api/trainers/${trainerId}/clients/${clientId}`, { method: 'PUT', headers: { authorization: `Bearer ${tokens.admin}` } })).status).toBe(200);
    tokens.client = await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '1h' });
    tokens.trainer = await mintToken({ sub: trainerId, role: 'trainer' }, { expiresIn: '1h' });
    for (const consentType of ['data_collection', 'ai_processing', 'photo_analysis', 'voice_transcription']) {
      const granted = await fetch(`${server.url}/api/consent/grant`, {
        method: 'POST', headers: { authorization: `Bearer ${tokens.client}`, 'content-type': 'application/json' },
        body: JSON.stringify({ clientId, consentType, consentVersion: '3.0', consentGranted: true }),
      });
      expect(granted.status).toBe(200);
    }
    ids = { clientId, trainerId, eventId: randomUUID() };
  });
  afterAll(async () => {
    await server?.dispose();
    if (pg) await owner?.destroy();
    await pg?.close();
  });

  it.each(ROUTES.map((r) => ({ route: r, name: `${r.method} ${r.path}` })))('$name: never 5xx, always the envelope, a refusal writes nothing', async ({ route }) => {
    const arbitrary = requestFor(route, ids);
    const examples = sweep(route, ids).map((g): [Generated] => [g]);
    let before = await fingerprint(owner);
    await fc.assert(
      fc.asyncProperty(arbitrary, async (g) => {
        const res = await send(g);
        expect(res.status, `${g.route.method} ${g.path}?${g.query} → ${res.text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) {
          expect(res.contentType).toMatch(/^application\/json/);
          const envelope = JSON.parse(res.text);
          expect(envelope.success).toBe(false);
          expect(CONTRACT_CODES.has(envelope.error?.code), `code ${envelope.error?.code}`).toBe(true);
          expect(typeof envelope.error.message).toBe('string');
          expect(await fingerprint(owner), 'a refused request changed rows').toEqual(before);
        } else {
          before = await fingerprint(owner);
        }
        // nothing reached Object.prototype
        expect(({} as any).polluted).toBeUndefined();
      }),
      // the sweep's examples run first and count towards numRuns
      { numRuns: examples.length + RUNS_PER_ROUTE, seed: Number(process.env.FUZZ_SEED ?? 20261206), examples },
    );
  });
});
