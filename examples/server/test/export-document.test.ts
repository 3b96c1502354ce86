/**
 * The data-subject export (GDPR Art. 15 and 20) as one document: over HTTP on the example server
 * (JSON and the printable HTML page, Express and Fastify) and from `swan export` (JSON and HTML),
 * for one client with something in every section, among other clients who tried to read them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '@swan/cli';
import { SYSTEM_ACTOR } from '@swan/core';
import { postgresUrl, testEngines, type TestDatabase } from '@swan/test-utils';
import { validPrompt } from '../../../packages/schema/test/fixtures.js';
import { events, newSubscription, PRICES, sign, startFakeStripe, WEBHOOK_SECRET, type FakeStripe } from '../../../packages/billing/test/fake-stripe.js';
import { ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, FROM, inboundFields, twilioSignature } from '../../../packages/checkins/test/fake-twilio.js';
import { bootServer, mintToken, type TestServer } from './helpers.js';
import { serveFakeTwilio } from './fakes.js';

/** Every part of the document, by the names the export uses. */
const SECTIONS = ['pii', 'training', 'consents', 'masterPrompts', 'subscriptions', 'checkins', 'accessLog', 'restrictions'] as const;
const PUBLIC_URL = 'http://swan.test';

const postgres = postgresUrl() ? testEngines().find((e) => e.name === 'postgres') : undefined;
const cases = [
  { name: 'PGlite, express', framework: 'express', engine: undefined },
  { name: 'PGlite, fastify', framework: 'fastify', engine: undefined },
  ...(postgres ? [{ name: 'PostgreSQL, fastify', framework: 'fastify', engine: postgres }] : []),
];

describe.each(cases)('the data-subject export document ($name)', ({ framework, engine }) => {
  let stripe: FakeStripe;
  let twilioApi: Awaited<ReturnType<typeof serveFakeTwilio>>;
  let pg: TestDatabase | undefined;
  let server: TestServer | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'swan-export-doc-'));
  const keys = { SWAN_MASTER_KEYS: `k1:${randomBytes(32).toString('base64')}`, SWAN_INDEX_KEY: randomBytes(32).toString('base64') };

  beforeAll(async () => {
    stripe = await startFakeStripe();
    twilioApi = await serveFakeTwilio(new FakeTwilio());
    pg = engine ? await engine.create([]) : undefined;
    server = await bootServer({
      SWAN_FRAMEWORK: framework, RUN_WORKERS: 'false', DATA_DIR: dataDir, PUBLIC_URL, ...keys,
      STRIPE_SECRET_KEY: 'sk_test_export', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_BASE: stripe.url,
      STRIPE_PAYMENT_LINK_TIER_1: 'https://buy.stripe.com/test_one', STRIPE_PRICE_TIER_1: PRICES.tier_1,
      STRIPE_PAYMENT_LINK_TIER_2: 'https://buy.stripe.com/test_two', STRIPE_PRICE_TIER_2: PRICES.tier_2,
      STRIPE_PAYMENT_LINK_TIER_3: 'https://buy.stripe.com/test_three', STRIPE_PRICE_TIER_3: PRICES.tier_3,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_FROM: FROM, TWILIO_API_BASE: twilioApi.url,
      ...(pg ? { DATABASE_URL: pg.adminUrl! } : {}),
    }, [], []);
  }, 90_000);
  afterAll(async () => {
    await server?.dispose();
    await pg?.close();
    await stripe?.close();
    await twilioApi?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const request = async (method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server!.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  const call = async (method: string, path: string, token: string | null, body?: unknown, headers?: Record<string, string>) => {
    const r = await request(method, path, token, body, headers);
    return { status: r.status, body: JSON.parse(r.text) as any };
  };
  /** `swan export` in-process, pointed at the server's database as the application role. */
  const swanExport = async (clientId: string, ...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const target = pg ? ['--database-url', pg.appUrl!] : ['--embedded', dataDir];
    const code = await runCli(['export', clientId, ...args, ...target], { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: keys });
    expect(code, err.join('')).toBe(0);
    return out.join('');
  };

  it('holds every section for one client, the same from GET …/export and swan export (JSON and HTML), and names no other client', async () => {
    const admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '10m' });
    const trainerId = randomUUID();
    const trainer = await mintToken({ sub: trainerId, role: 'trainer' }, { expiresIn: '10m' });
    const suffix = randomBytes(3).toString('hex');
    const create = async (fullName: string, phone: string) => {
      const created = await call('POST', '/api/clients', admin, {
        pii: { full_name: fullName, date_of_birth: '1986-03-14', email: `${fullName.split(' ')[0]!.toLowerCase()}.${suffix}@example.org`, phone_number: phone, emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' } },
        training: { training_goals: ['mobility'], height_inches: 66 },
      });
      expect(created.status).toBe(201);
      const { clientId, alias } = created.body.client as { clientId: string; alias: string };
      return { clientId, alias, fullName, token: await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '10m' }) };
    };
    const digits = () => String(1000 + Math.floor(Math.random() * 8999));
    const subject = await create(`Marisol Featherstone${suffix}`, `+1415555${digits()}`);
    const others = [await create(`Ignatius Brackwater${suffix}`, `+1415556${digits()}`), await create(`Wilhelmina Osgood${suffix}`, `+1415557${digits()}`)];
    const id = subject.clientId;

    // something in every section
    for (const consentType of ['data_collection', 'ai_processing']) {
      expect((await call('POST', '/api/consent/grant', subject.token, { clientId: id, consentType, consentVersion: '3.0', consentGranted: true })).status).toBe(200);
    }
    expect((await call('POST', `/api/clients/${id}/master-prompt`, admin, validPrompt())).status).toBe(201);
    const sub = newSubscription('tier_2', Math.floor(Date.now() / 1000) - 3600);
    stripe.subscriptions.set(sub.id, sub);
    const checkout = JSON.stringify(events.checkoutCompleted(sub, id, stripe.checkout(sub, id), sub.start));
    expect((await call('POST', '/webhooks/stripe', null, checkout, { 'stripe-signature': sign(checkout) })).body.outcome).toBe('applied');
    const reply = `<script>alert("${suffix}")</script> knees & hips`;
    const fields = inboundFields(await (async () => (await call('GET', `/api/clients/${id}/pii?purpose=service_delivery&reason=export+test`, admin)).body.pii.phone_number)(), reply);
    const sms = await fetch(`${server!.url}/webhooks/twilio/sms`, {
      method: 'POST', body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(`${PUBLIC_URL}/webhooks/twilio/sms`, fields) },
    });
    expect(sms.status).toBe(200);
    expect((await call('POST', `/api/clients/${id}/restrict`, admin, { reason: 'client contests accuracy' })).status).toBe(200);
    expect((await call('POST', `/api/clients/${id}/unrestrict`, admin, { reason: 'accuracy confirmed' })).status).toBe(200);
    expect((await call('PUT', `/api/trainers/${trainerId}/clients/${id}`, admin)).status).toBe(200);
    expect((await call('GET', `/api/clients/${id}/pii?purpose=session_planning&reason=plan`, trainer)).status).toBe(200);
    // the other clients try the subject's export and PII, with notes that name themselves
    for (const o of others) {
      expect((await call('GET', `/api/clients/${id}/export`, o.token)).status).toBe(403);
      expect((await call('GET', `/api/clients/${id}/pii?purpose=session_planning&reason=${encodeURIComponent(`I am ${o.fullName}`)}`, o.token)).status).toBe(403);
    }

    // --- over HTTP: the JSON document, for the admin
    const http = await call('GET', `/api/clients/${id}/export`, admin);
    expect(http.status).toBe(200);
    const doc = http.body.export as Record<string, any>;
    expect(doc).toMatchObject({ clientId: id, alias: subject.alias, exportedAt: expect.any(String) });
    for (const section of SECTIONS) expect(doc, section).toHaveProperty(section);
    expect(doc.pii).toMatchObject({ full_name: subject.fullName });
    expect(doc.training).toMatchObject({ training_goals: ['mobility'], height_inches: 66 });
    expect(doc.consents.map((c: any) => c.consentType).sort()).toEqual(['ai_processing', 'data_collection']);
    expect(doc.masterPrompts).toEqual([expect.objectContaining({ clientId: id, version: 1 })]);
    expect(doc.subscriptions).toEqual([expect.objectContaining({ tier: 'tier_2', stripe_subscription_id: sub.id })]);
    expect(doc.checkins.responses).toEqual([expect.objectContaining({ body: reply })]);
    expect(doc.restrictions).toHaveLength(1);
    expect(doc.restrictions[0]).toMatchObject({ restrictedAt: expect.any(String), liftedAt: expect.any(String) });
    const log = doc.accessLog as Array<Record<string, any>>;
    expect(log.filter((e) => e.outcome === 'denied')).toEqual(Array(4).fill(expect.objectContaining({ actor_role: 'client', actor_id: null, reason: null })));
    expect(log.some((e) => e.actor_role === 'trainer' && e.actor_id === trainerId && e.outcome === 'allowed')).toBe(true);
    expect(log.at(-1)).toMatchObject({ action: 'PII_EXPORT', actor_role: 'admin', outcome: 'allowed' });

    // an unknown format is refused before anything is read or audited
    const bad = await call('GET', `/api/clients/${id}/export?format=xml`, admin);
    expect(bad).toMatchObject({ status: 400, body: { success: false, error: { code: 'VALIDATION_FAILED' } } });

    // --- over HTTP: the printable page, for the client themself
    const page = await request('GET', `/api/clients/${id}/export?format=html`, subject.token);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'unsafe-inline'/);
    expect(page.headers.get('cache-control')).toBe('no-store');

    // --- from the CLI (on PGlite the server must let go of its data directory first)
    if (!pg) await server!.close();
    const cliDoc = JSON.parse(await swanExport(id)) as Record<string, any>;
    const cliPage = await swanExport(id, '--format', 'html');

    // the same document: only the export time and the access log's entries since differ
    const { exportedAt: _h, accessLog: _hl, ...httpRest } = doc;
    const { exportedAt: _c, accessLog: cliLog, ...cliRest } = cliDoc;
    expect(cliRest).toEqual(httpRest);
    expect(cliLog.slice(0, log.length)).toEqual(log);
    // since: the HTML export (by the client) and this one (by the system actor); the refused format left no entry
    expect(cliLog.slice(log.length).map((e: any) => [e.action, e.actor_id, e.outcome]))
      .toEqual([['PII_EXPORT', id, 'allowed'], ['PII_EXPORT', SYSTEM_ACTOR.id, 'allowed']]);

    // the page shows every section, escapes every text and runs nothing
    for (const html of [page.text, cliPage]) {
      for (const section of SECTIONS) expect(html, section).toContain(`data-section="${section}"`);
      expect(html).not.toMatch(/<script/i);
      expect(html).toContain('&lt;script&gt;alert(&quot;');
      expect(html).toContain('knees &amp; hips');
      expect(html).toContain(subject.fullName);
      expect(html).toContain(sub.id);
    }

    // no other client, by id, alias or name, anywhere
    for (const text of [JSON.stringify(http.body), page.text, JSON.stringify(cliDoc), cliPage]) {
      for (const o of others) {
        expect(text).not.toContain(o.clientId);
        expect(text).not.toContain(o.alias);
        for (const part of o.fullName.split(' ')) expect(text).not.toContain(part);
      }
    }
  });
});
