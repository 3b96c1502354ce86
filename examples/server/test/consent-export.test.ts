import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { CONSENT_VERSION_3_0 } from '@swan/consent';
import { postgresUrl, testEngines, type TestDatabase } from '@swan/test-utils';
import { bootServer, mintToken, type TestServer } from './helpers.js';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const postgres = postgresUrl() ? testEngines().find((e) => e.name === 'postgres') : undefined;
const cases = [
  { name: 'PGlite, express', framework: 'express', engine: undefined },
  { name: 'PGlite, fastify', framework: 'fastify', engine: undefined },
  ...(postgres ? [{ name: 'PostgreSQL, express', framework: 'express', engine: postgres }] : []),
];

/** The data-subject export, end to end: every consent with the exact text agreed to and its hash. */
describe.each(cases)('consent in the data-subject export ($name)', ({ framework, engine }) => {
  let pg: TestDatabase | undefined;
  let server: TestServer;
  let admin: string;

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'user-agent': 'export-test/1' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const createClient = async (name: string) => {
    const created = await call('POST', '/api/clients', admin, {
      pii: { full_name: name, date_of_birth: '1990-06-15', email: `${randomUUID()}@example.org`, emergency_contact: { name: 'Sam', relationship: 'friend', phone: '+14155550100' } },
      training: { height_inches: 70 },
    });
    expect(created.status).toBe(201);
    const clientId: string = created.body.client.clientId;
    return { clientId, token: await mintToken({ sub: clientId, role: 'client' }, { expiresIn: '10m' }) };
  };

  beforeAll(async () => {
    pg = engine ? await engine.create([]) : undefined;
    server = await bootServer({ SWAN_FRAMEWORK: framework, RUN_WORKERS: 'false', ...(pg ? { DATABASE_URL: pg.adminUrl! } : {}) }, [], []);
    admin = await mintToken({ sub: randomUUID(), role: 'admin' }, { expiresIn: '10m' });
  });
  afterAll(async () => {
    await server?.dispose();
    await pg?.close();
  });

  it('contains every consent with the full text agreed to and its SHA-256, for the admin and the client; another client gets 403', async () => {
    const dana = await createClient('Dana Export');
    const { clientId } = dana;

    // a second text, with characters whose UTF-8 bytes differ from their UTF-16 code units
    const text31 = `Consentement 3.1 — traitement par l’IA ✓ ${randomUUID()}`;
    const published = await call('POST', '/api/consent/versions', admin, { version: '3.1', effectiveDate: '2025-12-01', fullText: text31, summary: 'Clarifications', requiresReConsent: false });
    expect(published.status).toBe(201);
    const texts: Record<string, string> = { '3.0': CONSENT_VERSION_3_0.fullText, '3.1': text31 };

    const grant = async (token: string, consentType: string, consentVersion: string, consentGranted = true) => {
      const r = await call('POST', '/api/consent/grant', token, { clientId, consentType, consentVersion, consentGranted });
      expect(r.status).toBe(200);
      return r.body.consent as { id: string };
    };
    const ids = [
      (await grant(dana.token, 'data_collection', '3.0')).id,
      (await grant(dana.token, 'ai_processing', '3.0')).id, // replaced below: history is exported too
      (await grant(dana.token, 'ai_processing', '3.1')).id,
      (await grant(admin, 'photo_analysis', '3.1')).id,
      (await grant(dana.token, 'wearable_integration', '3.0', false)).id, // a recorded refusal
      (await grant(dana.token, 'voice_transcription', '3.0')).id,
    ];
    expect((await call('POST', '/api/consent/revoke', dana.token, { clientId, consentType: 'voice_transcription', reason: 'No longer needed' })).status).toBe(200);

    // each change published its outbox event, with the payload of the outbox event map
    const { rows: events } = await sql<{ event_type: string; payload: Record<string, unknown> }>`
      select event_type, payload from swan_outbox where aggregate_id = ${clientId} and event_type like 'consent_%' order by id`.execute(server.ctx.db);
    expect(events.map((e) => [e.event_type, e.payload.consentType, e.payload.consentVersion, e.payload.declined ?? null])).toEqual([
      ['consent_granted', 'data_collection', '3.0', null],
      ['consent_granted', 'ai_processing', '3.0', null],
      ['consent_granted', 'ai_processing', '3.1', null],
      ['consent_granted', 'photo_analysis', '3.1', null],
      ['consent_revoked', 'wearable_integration', '3.0', true],
      ['consent_granted', 'voice_transcription', '3.0', null],
      ['consent_revoked', 'voice_transcription', '3.0', null],
    ]);
    expect(events.map((e) => e.payload.consentId).slice(0, 6)).toEqual(ids);

    for (const token of [admin, dana.token]) {
      const res = await call('GET', `/api/clients/${clientId}/export`, token);
      expect(res.status).toBe(200);
      expect(res.body.success).toBe(true);
      expect(res.body.export.clientId).toBe(clientId);
      const consents = res.body.export.consents as Array<Record<string, any>>;
      expect(consents.map((c) => c.id).sort()).toEqual([...ids].sort());
      for (const c of consents) {
        expect(c.clientId).toBe(clientId);
        expect(c.fullText).toBe(texts[c.consentVersion]);
        expect(c.textSha256).toBe(sha256(texts[c.consentVersion]!));
      }
      const byType = (type: string) => consents.filter((c) => c.consentType === type);
      expect(byType('ai_processing').map((c) => [c.consentVersion, c.active, c.revokedReason]).sort())
        .toEqual([['3.0', false, 'Replaced by new consent'], ['3.1', true, null]]);
      expect(byType('photo_analysis')[0]).toMatchObject({ consentVersion: '3.1', consentGranted: true, summary: 'Clarifications' });
      expect(byType('wearable_integration')[0]).toMatchObject({ consentGranted: false, active: true });
      expect(byType('voice_transcription')[0]).toMatchObject({ active: false, revokedReason: 'No longer needed' });
      // the proof travels with the record
      expect(byType('data_collection')[0]).toMatchObject({ consentMethod: 'web_form', userAgent: 'export-test/1', ipAddress: expect.any(String) });
    }

    // another client, and a trainer, may not export Dana
    const other = await createClient('Other Client');
    const denied = await call('GET', `/api/clients/${clientId}/export`, other.token);
    expect(denied).toMatchObject({ status: 403, body: { success: false, error: { code: 'FORBIDDEN' } } });
    expect(JSON.stringify(denied.body)).not.toContain('Dana');
    const trainer = await mintToken({ sub: randomUUID(), role: 'trainer' }, { expiresIn: '10m' });
    expect((await call('GET', `/api/clients/${clientId}/export`, trainer)).status).toBe(403);
    // the other client's own export has none of Dana's consents
    const own = await call('GET', `/api/clients/${other.clientId}/export`, other.token);
    expect(own.status).toBe(200);
    expect(own.body.export.consents).toEqual([]);
  });

  it('names no other client: clients refused each other\'s exports and PII appear in the access log by role only', async () => {
    const names = ['Priya Quill', 'Tomasz Wren', 'Odile Marsh'];
    const clients = await Promise.all(names.map((n) => createClient(n)));
    const aliases: string[] = [];
    for (const c of clients) {
      const own = await call('GET', `/api/clients/${c.clientId}/export`, c.token);
      aliases.push(own.body.export.alias);
    }
    // every client tries every other client's export and PII, with a note that names itself
    for (const [i, c] of clients.entries()) {
      for (const other of clients.filter((o) => o !== c)) {
        expect((await call('GET', `/api/clients/${other.clientId}/export`, c.token)).status).toBe(403);
        expect((await call('GET', `/api/clients/${other.clientId}/pii?purpose=session_planning&reason=${encodeURIComponent(`I am ${names[i]}`)}`, c.token)).status).toBe(403);
      }
    }
    for (const [i, c] of clients.entries()) {
      for (const token of [admin, c.token]) {
        const res = await call('GET', `/api/clients/${c.clientId}/export`, token);
        expect(res.status).toBe(200);
        const log = res.body.export.accessLog as Array<Record<string, unknown>>;
        // the four refusals are on record, by role only
        const refused = log.filter((e) => e.outcome === 'denied');
        expect(refused).toHaveLength(4);
        for (const e of refused) expect(e).toMatchObject({ actor_role: 'client', actor_id: null, reason: null });
        // the admin's own entries keep the admin's id (staff are the controller's accountable people)
        expect(log.some((e) => e.actor_role === 'admin' && typeof e.actor_id === 'string')).toBe(true);
        const text = JSON.stringify(res.body);
        clients.forEach((o, j) => {
          if (j === i) return;
          expect(text).not.toContain(o.clientId);
          expect(text).not.toContain(aliases[j]!);
          for (const part of names[j]!.split(' ')) expect(text).not.toContain(part);
        });
      }
    }
  });
});
