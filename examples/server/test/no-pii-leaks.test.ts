/**
 * Issue 9, "every API response other than PII access, and every published event, is free of the
 * client's name and email (checked over a generated population)": the example server as shipped
 * (every module, real JWTs, in-process outbox workers, the real `stripe` SDK against the fake
 * Stripe API) on both adapters. A generated population of clients is driven through every API.md
 * route that touches a client; every response body, every `swan_outbox` row (read as the database
 * owner, errors included) and every log line the production logger wrote (and every raw entry
 * handed to it) is searched for every client's full name, preferred name, email and phone, plain
 * and URL-encoded. The exceptions (docs/aliases.md) are asserted precisely instead:
 * `GET /api/clients/:id/pii` and `GET /api/clients/:id/export` are PII access and carry that one
 * client's PII only; `GET /api/billing/payment-links` carries the caller's own email and nothing
 * else, only as the `prefilled_email` parameter of the Payment Link URLs.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validPrompt } from '../../../packages/schema/test/fixtures.js';
import { events, newSubscription, PRICES, sign, startFakeStripe, WEBHOOK_SECRET, type FakeStripe } from '../../../packages/billing/test/fake-stripe.js';
import { createServer, type SwanServer } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { memoryLogger, mintToken, SECRET } from './helpers.js';

const POPULATION = 20;

interface Person {
  fullName: string;
  preferredName: string;
  email: string;
  phone: string;
}

/** A generated population: distinct names and emails (seeded, so a failure replays). */
function population(n: number, seed: number): Person[] {
  const word = (min: number, max: number) =>
    fc.tuple(fc.constantFrom(...'BCDFGHJKLMNPQRSTVWXZ'), fc.string({ unit: fc.constantFrom(...'aeiouybcdfghjklmnprstvwz'), minLength: min - 1, maxLength: max - 1 }))
      .map(([head, tail]) => head + tail);
  const person = fc.record({
    first: word(6, 9), last: word(7, 11), preferred: word(7, 10),
    domain: fc.constantFrom('example.com', 'example.org', 'mail.example.net', 'swan.example'),
    tag: fc.integer({ min: 10, max: 9999 }),
  });
  const out: Person[] = [];
  const seen = new Set<string>();
  for (const p of fc.sample(person, { numRuns: n * 4, seed })) {
    const keys = [p.first, p.last, p.preferred].map((k) => k.toLowerCase());
    if (keys.some((k) => seen.has(k))) continue;
    keys.forEach((k) => seen.add(k));
    out.push({
      fullName: `${p.first} ${p.last}`,
      preferredName: p.preferred,
      email: `${p.first.toLowerCase()}.${p.last.toLowerCase()}${p.tag}@${p.domain}`,
      phone: `+1415555${String(2600 + out.length).padStart(4, '0')}`,
    });
    if (out.length === n) break;
  }
  expect(out).toHaveLength(n);
  return out;
}

/** Every way a value can show up in a body, URL, payload or log line. */
function needles(p: Person): Array<[what: string, value: string]> {
  const forms = (v: string) => [...new Set([v, encodeURIComponent(v), new URLSearchParams({ v }).toString().slice(2)])];
  return [
    ...forms(p.fullName).map((v) => ['full name', v] as [string, string]),
    ...forms(p.preferredName).map((v) => ['preferred name', v] as [string, string]),
    ...forms(p.email).map((v) => ['email', v] as [string, string]),
    ['email local part', p.email.split('@')[0]!],
    ...forms(p.phone).map((v) => ['phone', v] as [string, string]),
    ['phone digits', p.phone.slice(2)],
  ];
}

/** Which people's PII `text` contains (case-insensitive), as `"<email>: <what>"`. */
function leaks(text: string, people: readonly Person[]): string[] {
  const hay = text.toLowerCase();
  const found: string[] = [];
  for (const p of people) for (const [what, v] of needles(p)) if (hay.includes(v.toLowerCase())) found.push(`${p.email}: ${what}`);
  return [...new Set(found)];
}

const prompt = validPrompt();

describe.each(['express', 'fastify'] as const)('no PII leaks in responses, events or logs on %s', (framework) => {
  const people = population(POPULATION, framework === 'express' ? 9001 : 9002);
  const lines: string[] = [];
  const raw = memoryLogger();
  const written = createLogger((line) => void lines.push(line));
  // what the modules hand the logger (raw, before redaction) and what it wrote
  const logger = {
    info: (m: string, f?: Record<string, unknown>) => { raw.info(m, f); written.info(m, f); },
    warn: (m: string, f?: Record<string, unknown>) => { raw.warn(m, f); written.warn(m, f); },
    error: (m: string, f?: Record<string, unknown>) => { raw.error(m, f); written.error(m, f); },
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'swan-leaks-'));
  let server: SwanServer;
  let fake: FakeStripe;
  let admin: string;
  let trainer: string;
  let ai: string;
  const trainerId = randomUUID();
  const clients: Array<Person & { id: string; alias: string; token: string }> = [];
  /** Responses that must be free of every client's PII. */
  const plain: Array<{ route: string; status: number; text: string }> = [];
  /** PII access responses: only their own client's PII. */
  const piiAccess: Array<{ route: string; status: number; text: string; owner: string }> = [];
  /** Payment-links responses: only the caller's email, only as `prefilled_email`. */
  const paymentLinks: Array<{ status: number; text: string; owner: string }> = [];

  const send = async (method: string, path: string, token: string | undefined, body?: unknown, raw?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    return { status: res.status, text: await res.text() };
  };
  /** A call whose response must carry no client's PII; returns the parsed body. */
  const call = async (method: string, path: string, token: string | undefined, body?: unknown) => {
    const res = await send(method, path, token, body);
    plain.push({ route: `${method} ${path}`, ...res });
    return { status: res.status, body: JSON.parse(res.text) as any };
  };

  beforeAll(async () => {
    fake = await startFakeStripe();
    const config = loadConfig({
      PORT: '0', DATA_DIR: dataDir, AUTH_JWT_SECRET: SECRET, SWAN_FRAMEWORK: framework, PUBLIC_URL: 'http://swan.test',
      STRIPE_SECRET_KEY: 'sk_test_example', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_BASE: fake.url,
      STRIPE_PAYMENT_LINK_TIER_1: 'https://buy.stripe.com/test_one', STRIPE_PRICE_TIER_1: PRICES.tier_1,
      STRIPE_PAYMENT_LINK_TIER_2: 'https://buy.stripe.com/test_two', STRIPE_PRICE_TIER_2: PRICES.tier_2,
      STRIPE_PAYMENT_LINK_TIER_3: 'https://buy.stripe.com/test_three', STRIPE_PRICE_TIER_3: PRICES.tier_3,
      // no Twilio: every check-in send is dead-lettered, so the dead-letter routes have content
    }, []);
    server = await createServer(config, { logger, host: '127.0.0.1' });
    const token = (sub: string, role: string) => mintToken({ sub, role }, { expiresIn: '30m' });
    [admin, trainer, ai] = await Promise.all([token(randomUUID(), 'admin'), token(trainerId, 'trainer'), token(randomUUID(), 'ai_service')]);
    const created = await Promise.all(people.map((p, i) => call('POST', '/api/clients', admin, {
      pii: {
        full_name: p.fullName, preferred_name: p.preferredName, date_of_birth: `198${i % 10}-0${1 + (i % 9)}-1${i % 10}`, email: p.email, phone_number: p.phone,
        emergency_contact: { name: 'Kin Contact', relationship: 'sibling', phone: '+12025550123' },
      },
      training: { gender: i % 2 ? 'Female' : 'Male', height_inches: 60 + i, weight_lbs: 150 + i, training_goals: ['mobility'] },
    })));
    for (const [i, r] of created.entries()) {
      expect(r.status).toBe(201);
      clients.push({ ...people[i]!, id: r.body.client.clientId, alias: r.body.client.alias, token: await token(r.body.client.clientId, 'client') });
    }
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await fake?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('drives every client route over the population; only the documented exceptions carry PII', async () => {
    const subscribed = clients.slice(0, 4);
    const erased = clients.slice(-2);
    const deleted = clients.at(-3)!;
    const consentTypes = ['ai_processing', 'photo_analysis'];

    // webhooks: a checkout whose Stripe customer details are the client's own name and email
    for (const c of subscribed) {
      const s = newSubscription('tier_1', Math.floor(Date.now() / 1000));
      fake.subscriptions.set(s.id, s);
      const event = events.checkoutCompleted(s, c.id, fake.checkout(s, c.id), s.start) as any;
      event.data.object.customer_details = { ...event.data.object.customer_details, email: c.email, name: c.fullName, phone: c.phone };
      event.data.object.customer_email = c.email;
      const body = JSON.stringify(event);
      const res = await send('POST', '/webhooks/stripe', undefined, undefined, body, { 'stripe-signature': sign(body) });
      plain.push({ route: 'POST /webhooks/stripe', ...res });
      expect(res.status).toBe(200);
    }

    for (const [i, c] of clients.entries()) {
      expect(c.alias).toMatch(/ Swan( [IVXLC]+)?$/);
      const base = `/api/clients/${c.id}`;
      if (i % 2 === 0) expect((await call('PUT', `/api/trainers/${trainerId}/clients/${c.id}`, admin)).status).toBe(200);
      const reader = i % 2 === 0 ? trainer : admin;

      for (const t of [admin, reader, ai]) {
        const training = await call('GET', `${base}/training`, t);
        expect(training.status).toBe(200);
      }
      const p = structuredClone(prompt);
      expect((await call('POST', `${base}/master-prompt`, reader, p)).status).toBe(201);
      for (const t of [reader, ai]) expect((await call('GET', `${base}/master-prompt`, t)).status).toBe(200);

      for (const consentType of consentTypes) {
        expect((await call('POST', '/api/consent/grant', c.token, { clientId: c.id, consentType, consentVersion: '3.0', consentGranted: true })).status).toBe(200);
      }
      expect((await call('GET', `/api/consent/${c.id}`, c.token)).status).toBe(200);
      expect((await call('GET', `/api/consent/check/${c.id}/ai_processing`, ai)).body).toMatchObject({ hasConsent: true });
      if (i % 3 === 0) {
        expect((await call('POST', '/api/consent/revoke', admin, { clientId: c.id, consentType: 'photo_analysis', reason: 'client asked by phone' })).status).toBe(200);
      }
      expect((await call('POST', `${base}/checkins`, reader, { kind: i % 2 ? 'evening' : 'morning', scheduledFor: new Date().toISOString(), timezone: 'America/New_York' })).status).toBe(202);

      // the client types their own name and email into the AI query: it must not be echoed anywhere
      const query = await call('POST', '/api/ai-village/query', c.token, { query: `I am ${c.fullName} (${c.preferredName}), ${c.email}: how should I warm up?` });
      expect(query.status).toBe(subscribed.includes(c) ? 202 : 402);
      const photo = await call('POST', '/api/photo-upload', c.token, { objectKey: `uploads/${c.id}/front.jpg` });
      // photo_analysis consent revoked for every third client: refused; else accepted (no subscription needed)
      expect(photo.status).toBe(i % 3 === 0 ? 403 : 202);

      const links = await send('GET', '/api/billing/payment-links', c.token);
      expect(links.status).toBe(200);
      paymentLinks.push({ ...links, owner: c.email });
      const portal = await call('POST', '/api/stripe/create-portal-session', c.token);
      expect(portal.status).toBe(subscribed.includes(c) ? 200 : 404);

      // PII access: the exceptions
      for (const t of [admin, ...(i % 2 === 0 ? [trainer] : [])]) {
        const res = await send('GET', `${base}/pii?purpose=session_planning&reason=${encodeURIComponent('leak test: verify contact details')}`, t);
        expect(res.status).toBe(200);
        piiAccess.push({ route: `GET ${base}/pii`, ...res, owner: c.email });
      }
      for (const t of [admin, c.token]) {
        const res = await send('GET', `${base}/export`, t);
        expect(res.status).toBe(200);
        piiAccess.push({ route: `GET ${base}/export`, ...res, owner: c.email });
      }
      // denied PII access is a plain response
      expect((await call('GET', `${base}/pii?purpose=session_planning&reason=curious`, ai)).status).toBe(403);
      if (i % 2 === 1) expect((await call('GET', `${base}/pii?purpose=session_planning&reason=curious`, trainer)).status).toBe(403);
    }

    // rate-limit violations: photo uploads are 5 a minute
    const noisy = clients[1]!;
    let limited = 0;
    for (let k = 0; k < 6; k++) if ((await call('POST', '/api/photo-upload', noisy.token, { objectKey: 'uploads/again.jpg' })).status === 429) limited += 1;
    expect(limited).toBeGreaterThan(0);
    expect((await call('GET', '/api/admin/rate-limit/violators', admin)).status).toBe(200);

    // soft delete, erase, then every read of those clients
    expect((await call('DELETE', `/api/clients/${deleted.id}`, admin, { reason: 'duplicate account' })).status).toBe(200);
    for (const c of erased) {
      const res = await call('POST', `/api/clients/${c.id}/erase`, admin, { reason: 'right to erasure request' });
      expect(res.status).toBe(200);
    }
    for (const c of [deleted, ...erased]) {
      expect((await call('GET', `/api/clients/${c.id}/pii?purpose=session_planning&reason=${encodeURIComponent('after deletion')}`, admin)).status).toBe(404);
      if (c === deleted) {
        // an admin may still export a soft-deleted (restorable) client: PII access
        const res = await send('GET', `/api/clients/${c.id}/export`, admin);
        if (res.status === 200) piiAccess.push({ route: `GET /api/clients/${c.id}/export (soft-deleted)`, ...res, owner: c.email });
        else plain.push({ route: `GET /api/clients/${c.id}/export (soft-deleted)`, ...res });
      } else {
        // erased: whatever the export answers, it has no PII of anyone left
        await call('GET', `/api/clients/${c.id}/export`, admin);
      }
      await call('GET', `/api/clients/${c.id}/training`, admin);
      await call('GET', `/api/clients/${c.id}/master-prompt`, ai);
    }

    // the workers dead-letter the check-ins (no Twilio): wait, then read the admin routes
    const deadline = Date.now() + 30_000;
    let dead: any;
    do {
      await new Promise((r) => setTimeout(r, 200));
      dead = (await send('GET', '/api/admin/outbox/dead?limit=100', admin)).text;
    } while (JSON.parse(dead).count < clients.length - 3 && Date.now() < deadline);
    const deadList = await call('GET', '/api/admin/outbox/dead?limit=100', admin);
    expect(deadList.body.count).toBeGreaterThan(0);
    expect((await call('POST', `/api/admin/outbox/dead/${deadList.body.events[0].eventId ?? deadList.body.events[0].event_id}/redrive`, admin)).status).toBe(200);
    expect((await call('GET', '/api/admin/outbox/stats', admin)).status).toBe(200);
    const audit = await call('GET', '/api/audit/verify', admin);
    expect(audit.body).toMatchObject({ success: true, valid: true });
    expect((await call('GET', '/healthz', undefined)).status).toBe(200);

    // ---- the assertions
    expect(plain.length).toBeGreaterThan(POPULATION * 15);
    const responseLeaks = plain.flatMap((r) => leaks(r.text, people).map((l) => `${r.route} → ${r.status}: ${l}`));
    expect(responseLeaks).toEqual([]);

    // PII access carries its own client's PII (so the search works) and nobody else's
    for (const r of piiAccess) {
      const owner = people.find((p) => p.email === r.owner)!;
      // the search finds what is there (it is not vacuous)
      expect(leaks(r.text, [owner])).toEqual(expect.arrayContaining([`${owner.email}: full name`, `${owner.email}: preferred name`, `${owner.email}: email`]));
      expect(leaks(r.text, people.filter((p) => p !== owner))).toEqual([]);
    }

    // payment links: the caller's own email, only as prefilled_email of each tier URL
    expect(paymentLinks).toHaveLength(POPULATION);
    for (const r of paymentLinks) {
      const body = JSON.parse(r.text);
      expect(body.tiers).toHaveLength(3);
      for (const tier of body.tiers) {
        const url = new URL(tier.url);
        expect(url.searchParams.getAll('prefilled_email')).toEqual([r.owner]);
        url.searchParams.delete('prefilled_email');
        tier.url = url.toString();
      }
      expect(leaks(JSON.stringify(body), people)).toEqual([]);
    }

    // every outbox row (payload, errors, everything), read as the database owner
    const { rows } = await sql<{ event_type: string; row: unknown }>`select event_type, to_jsonb(o) as row from swan_outbox o`.execute(server.ctx.db);
    const types = new Set(rows.map((r) => r.event_type));
    for (const t of ['client_erased', 'consent_granted', 'consent_revoked', 'ai_query_submitted', 'master_prompt_stored']) expect(types).toContain(t);
    expect([...types].some((t) => t.includes('checkin'))).toBe(true);
    const eventLeaks = rows.flatMap((r) => leaks(JSON.stringify(r.row), people).map((l) => `${r.event_type}: ${l}`));
    expect(eventLeaks).toEqual([]);

    // every log line written, and every raw entry handed to the logger
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.flatMap((l) => leaks(l, people).map((x) => `${l.slice(0, 120)} → ${x}`))).toEqual([]);
    expect(raw.entries.flatMap((e) => leaks(JSON.stringify(e, (_k, v) => (v instanceof Error ? { message: v.message, stack: v.stack } : v)), people).map((x) => `${String(e.msg)} → ${x}`))).toEqual([]);
  }, 240_000);
});
