import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { withActor, type EventPublisher, type PublishableEvent } from '@swan/core';
import { eraseClientRow, setClientDeleted, testEngines, type TestDatabase } from '@swan/test-utils';
import {
  CONSENT_TYPES,
  CONSENT_VERSION_3_0,
  createConsent,
  type ConsentService,
  consentRoutes,
  MAX_SIGNATURE_BYTES,
  REPLACED_REASON,
  seedConsentVersion30,
} from '../src/index.js';
import { admin, asClient, createClient, createDb, ledger, rejection, request } from './setup.js';

/** Records events in a table inside the caller's transaction, as the outbox does. */
class TableEvents implements EventPublisher {
  async publish(trx: Kysely<any>, event: PublishableEvent) {
    const { rows } = await sql<{ id: string }>`insert into test_events (event_type, payload)
      values (${event.eventType}, ${JSON.stringify(event.payload)}::jsonb) returning id::text`.execute(trx);
    return { eventId: rows[0]!.id };
  }
}

describe.each(testEngines())('consent ledger on $name', (engine) => {
  let t: TestDatabase;
  let consent: ConsentService;

  const counts = async () => {
    const { rows } = await sql<{ consents: number; events: number }>`
      select (select count(*)::int from client_consents) as consents, (select count(*)::int from test_events) as events`.execute(t.admin);
    return rows[0]!;
  };
  const events = async (clientId: string) => {
    const { rows } = await sql<{ event_type: string; payload: Record<string, unknown> }>`
      select event_type, payload from test_events where payload->>'clientId' = ${clientId} order by id`.execute(t.admin);
    return rows;
  };

  beforeAll(async () => {
    t = await createDb(engine);
    await sql`create table test_events (id bigint generated always as identity primary key, event_type text not null, payload jsonb not null)`.execute(t.admin);
    await sql`grant select, insert on test_events to swan_app`.execute(t.admin);
    consent = createConsent({ db: t.db, events: new TableEvents() });
    expect(await seedConsentVersion30(t.db)).toBe(true);
    expect(await seedConsentVersion30(t.db)).toBe(false);
  });
  afterAll(() => t?.close());

  describe('versions', () => {
    it('stores the seeded 3.0 text with the SHA-256 of its exact words', async () => {
      const v = await consent.getVersion('3.0');
      expect(v).toMatchObject({ version: '3.0', effectiveDate: '2025-11-04', requiresReConsent: true, summary: CONSENT_VERSION_3_0.summary });
      expect(v!.textSha256).toBe(createHash('sha256').update(CONSENT_VERSION_3_0.fullText, 'utf8').digest('hex'));
    });

    it('publishes as admin only, refuses duplicates and malformed input, and never rewrites a version', async () => {
      const text = 'Texte révisé ✓ — 2.9';
      const v = await consent.publishVersion(admin, { version: '2.9', effectiveDate: '2024-01-01', fullText: text });
      expect(v.textSha256).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
      expect((await rejection(consent.publishVersion(admin, { version: '2.9', effectiveDate: '2024-01-01', fullText: 'x' }))).code).toBe('CONFLICT');
      expect((await rejection(consent.publishVersion(asClient(randomUUID()), { version: '2.8', effectiveDate: '2024-01-01', fullText: 'x' }))).code).toBe('FORBIDDEN');
      for (const bad of [
        { version: 'v3', effectiveDate: '2024-01-01', fullText: 'x' },
        { version: '12345678901', effectiveDate: '2024-01-01', fullText: 'x' },
        { version: '2.7', effectiveDate: '2024-02-30', fullText: 'x' },
        { version: '2.7', effectiveDate: '2024-01-01', fullText: '' },
        { version: '2.7', effectiveDate: '2024-01-01', fullText: 'x', requiresReConsent: 'yes' },
      ]) {
        expect((await rejection(consent.publishVersion(admin, bad as never))).code).toBe('VALIDATION_FAILED');
      }
      expect(await consent.getVersion('2.7')).toBeNull();
      // row-level security: a client's transaction cannot publish even with raw SQL
      await expect(withActor(t.db, asClient(randomUUID()), (trx) =>
        sql`insert into consent_versions (version, effective_date, full_text) values ('2.6', '2024-01-01', 'x')`.execute(trx))).rejects.toThrow();
      // immutable, even for the owner
      await expect(sql`update consent_versions set full_text = 'changed' where version = '2.9'`.execute(t.admin)).rejects.toThrow(/immutable/);
      await expect(sql`delete from consent_versions where version = '2.9'`.execute(t.admin)).rejects.toThrow(/immutable/);
      expect((await consent.getVersion('2.9'))!.fullText).toBe(text);
      expect((await consent.listVersions()).map((x) => x.version)).toEqual(['3.0', '2.9']);
    });
  });

  describe('grant and revoke', () => {
    it('records the proof, replaces the previous consent in one step and keeps history', async () => {
      const clientId = await createClient(t.admin);
      const first = await consent.grantConsent(asClient(clientId), {
        clientId, consentType: 'wearable_integration', consentVersion: '3.0',
        ipAddress: '203.0.113.7', userAgent: 'Mozilla/5.0', consentMethod: 'web_form', signatureData: 'c2lnbmF0dXJl',
      });
      expect(first).toMatchObject({ clientId, consentGranted: true, ipAddress: '203.0.113.7', userAgent: 'Mozilla/5.0', signatureData: 'c2lnbmF0dXJl', active: true, revokedAt: null });
      const second = await consent.grantConsent(admin, { clientId, consentType: 'wearable_integration', consentVersion: '3.0', consentMethod: 'paper' });
      const rows = await ledger(t.admin, clientId);
      expect(rows.map((r) => [r.id, r.revoked_reason])).toEqual([[first.id, REPLACED_REASON], [second.id, null]]);
      expect(rows[0]!.revoked_at!.getTime()).toBeGreaterThanOrEqual(rows[0]!.granted_at.getTime());
      expect(await consent.hasValidConsent(clientId, 'wearable_integration')).toBe(true);

      // a recorded refusal replaces the grant and is not valid consent
      await consent.grantConsent(asClient(clientId), { clientId, consentType: 'wearable_integration', consentVersion: '3.0', consentGranted: false });
      expect(await consent.hasValidConsent(clientId, 'wearable_integration')).toBe(false);
      expect((await consent.consentStatus(clientId, 'wearable_integration')).status).toBe('declined');

      const evs = await events(clientId);
      expect(evs.map((e) => e.event_type)).toEqual(['consent_granted', 'consent_granted', 'consent_revoked']);
      expect(evs[0]!.payload).toEqual({ clientId, consentType: 'wearable_integration', consentVersion: '3.0', consentId: first.id });
      expect(evs[2]!.payload).toMatchObject({ consentType: 'wearable_integration', consentVersion: '3.0', declined: true });
      // no proof data (IP, user agent, signature) in events
      expect(JSON.stringify(evs)).not.toMatch(/203\.0\.113|Mozilla|c2lnbmF0dXJl/);
    });

    it('50 concurrent grants for one client and type end with one active consent and 49 replaced', async () => {
      const clientId = await createClient(t.admin);
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          consent.grantConsent(i % 2 ? admin : asClient(clientId), { clientId, consentType: 'ai_processing', consentVersion: '3.0' })),
      );
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const rows = await ledger(t.admin, clientId);
      expect(rows).toHaveLength(50);
      expect(rows.filter((r) => r.revoked_at === null)).toHaveLength(1);
      expect(rows.filter((r) => r.revoked_reason === REPLACED_REASON)).toHaveLength(49);
      // the active one is the last granted
      expect(rows.at(-1)!.revoked_at).toBeNull();
      expect(await consent.hasValidConsent(clientId, 'ai_processing')).toBe(true);
    });

    it('revocation is effective for the very next check and the very next guarded request', async () => {
      const clientId = await createClient(t.admin);
      const guard = consent.requireConsent('photo_analysis');
      const req = request(asClient(clientId));
      expect((await rejection(Promise.resolve(guard(req, { setHeader() {} })))).code).toBe('CONSENT_REQUIRED');
      await consent.grantConsent(asClient(clientId), { clientId, consentType: 'photo_analysis', consentVersion: '3.0' });
      await guard(req, { setHeader() {} });
      expect(await consent.hasValidConsent(clientId, 'photo_analysis')).toBe(true);

      const revoked = await consent.revokeConsent(asClient(clientId), { clientId, consentType: 'photo_analysis', reason: 'Changed my mind' });
      expect(revoked).toMatchObject({ active: false, revokedReason: 'Changed my mind' });
      expect(await consent.hasValidConsent(clientId, 'photo_analysis')).toBe(false);
      const denied = await rejection(Promise.resolve(guard(req, { setHeader() {} })));
      expect([denied.code, denied.status, (denied.details as { status: string }).status]).toEqual(['CONSENT_REQUIRED', 403, 'none']);
      expect((await events(clientId)).map((e) => e.event_type)).toEqual(['consent_granted', 'consent_revoked']);

      // revoking nothing is a 404, not a silent success
      const again = await rejection(consent.revokeConsent(admin, { clientId, consentType: 'photo_analysis' }));
      expect([again.code, again.status]).toEqual(['NOT_FOUND', 404]);
    });

    it('a soft-deleted or erased client is inactive whatever the ledger holds; erasure withdraws every active consent', async () => {
      const clientId = await createClient(t.admin);
      const other = await createClient(t.admin);
      for (const id of [clientId, other]) {
        for (const consentType of ['photo_analysis', 'ai_processing'] as const) {
          await consent.grantConsent(asClient(id), { clientId: id, consentType, consentVersion: '3.0' });
        }
      }
      await consent.revokeConsent(asClient(clientId), { clientId, consentType: 'ai_processing', reason: 'Changed my mind' });
      const guard = consent.requireConsent('photo_analysis');
      const req = request(asClient(clientId));
      await guard(req, { setHeader() {} });

      await setClientDeleted(t.admin, clientId, true);
      expect((await consent.consentStatus(clientId, 'photo_analysis')).status).toBe('inactive');
      expect(await consent.hasValidConsent(clientId, 'photo_analysis')).toBe(false);
      const gone = await rejection(Promise.resolve(guard(req, { setHeader() {} })));
      expect([gone.code, gone.status]).toEqual(['NOT_FOUND', 404]);
      // restored by an admin: the untouched ledger counts again
      await setClientDeleted(t.admin, clientId, false);
      expect(await consent.hasValidConsent(clientId, 'photo_analysis')).toBe(true);

      await eraseClientRow(t.admin, clientId);
      expect((await consent.consentStatus(clientId, 'photo_analysis')).status).toBe('inactive');
      const rows = await ledger(t.admin, clientId);
      expect(rows.map((r) => [r.consent_type, r.revoked_reason])).toEqual([
        ['photo_analysis', 'Client erased'],
        ['ai_processing', 'Consent withdrawn'], // already withdrawn: its plaintext reason (no sealer here) replaced by the fixed text
      ]);
      expect(rows.every((r) => r.revoked_at !== null)).toBe(true);
      // nobody else's consent moved
      expect((await ledger(t.admin, other)).every((r) => r.revoked_at === null)).toBe(true);
      expect(await consent.hasValidConsent(other, 'photo_analysis')).toBe(true);
      // a live client revoking with the same words is not taken for erased
      await consent.revokeConsent(asClient(other), { clientId: other, consentType: 'photo_analysis', reason: 'Client erased' });
      expect((await consent.consentStatus(other, 'photo_analysis')).status).toBe('none');
    });

    it('a grant racing an erasure never leaves an active consent behind', async () => {
      for (let i = 0; i < 12; i++) {
        const id = await createClient(t.admin);
        const erase = eraseClientRow(t.admin, id);
        const [grant] = await Promise.allSettled([consent.grantConsent(asClient(id), { clientId: id, consentType: 'ai_processing', consentVersion: '3.0' }), erase]);
        if (grant.status === 'rejected') expect(grant.reason).toMatchObject({ code: 'NOT_FOUND' });
        expect((await ledger(t.admin, id)).filter((r) => r.revoked_at === null)).toEqual([]);
      }
    });

    it('bad input gets the codes of API.md and writes nothing', async () => {
      const clientId = await createClient(t.admin);
      const before = await counts();
      const base = { clientId, consentType: 'ai_processing', consentVersion: '3.0' };
      const cases: [Record<string, unknown>, string][] = [
        [{ ...base, consentType: 'mind_reading' }, 'VALIDATION_FAILED'],
        [{ ...base, consentType: undefined }, 'VALIDATION_FAILED'],
        [{ ...base, consentVersion: '9.9' }, 'NOT_FOUND'],
        [{ ...base, consentVersion: '3.0; drop table x' }, 'VALIDATION_FAILED'],
        [{ ...base, clientId: randomUUID() }, 'NOT_FOUND'],
        [{ ...base, clientId: 'not-a-uuid' }, 'VALIDATION_FAILED'],
        [{ ...base, clientId: 42 }, 'VALIDATION_FAILED'],
        [{ ...base, signatureData: 'x'.repeat(MAX_SIGNATURE_BYTES + 1) }, 'PAYLOAD_TOO_LARGE'],
        [{ ...base, consentGranted: 'yes' }, 'VALIDATION_FAILED'],
        [{ ...base, consentMethod: 'telepathy' }, 'VALIDATION_FAILED'],
        [{ ...base, ipAddress: '999.1.1.1' }, 'VALIDATION_FAILED'],
        [{ ...base, expiresAt: '2001-01-01T00:00:00Z' }, 'VALIDATION_FAILED'],
        [{ ...base, expiresAt: 'soon' }, 'VALIDATION_FAILED'],
      ];
      for (const [input, code] of cases) {
        const e = await rejection(consent.grantConsent(admin, input as never));
        expect([JSON.stringify(input).slice(0, 80), e.code]).toEqual([JSON.stringify(input).slice(0, 80), code]);
      }
      // a client may not consent for someone else; a trainer not at all
      expect((await rejection(consent.grantConsent(asClient(randomUUID()), base as never))).code).toBe('FORBIDDEN');
      expect((await rejection(consent.grantConsent({ id: randomUUID(), role: 'trainer' }, base as never))).code).toBe('FORBIDDEN');
      expect((await rejection(consent.revokeConsent(admin, { clientId, consentType: 'nope' as never }))).code).toBe('VALIDATION_FAILED');
      expect((await rejection(consent.hasValidConsent('x', 'ai_processing'))).code).toBe('VALIDATION_FAILED');
      expect((await rejection(consent.getClientConsents(admin, randomUUID()))).code).toBe('NOT_FOUND');
      // a signature exactly at the limit is accepted
      const atLimit = await consent.grantConsent(admin, { ...base, signatureData: 's'.repeat(MAX_SIGNATURE_BYTES) } as never);
      expect(atLimit.signatureData).toHaveLength(MAX_SIGNATURE_BYTES);
      expect(await counts()).toEqual({ consents: before.consents + 1, events: before.events + 1 });
    });
  });

  describe('expiry', () => {
    it('is valid an instant before expires_at and not at or after it', async () => {
      const clientId = await createClient(t.admin);
      const expiresAt = new Date(Date.now() + 10 * 86_400_000);
      expiresAt.setUTCMilliseconds(0);
      const c = await consent.grantConsent(admin, { clientId, consentType: 'voice_transcription', consentVersion: '3.0', expiresAt });
      expect(c.expiresAt).toBe(expiresAt.toISOString());
      const at = (ms: number) => consent.hasValidConsent(clientId, 'voice_transcription', { at: new Date(expiresAt.getTime() + ms) });
      expect(await at(-1)).toBe(true);
      expect(await at(0)).toBe(false);
      expect(await at(1)).toBe(false);
      expect((await consent.consentStatus(clientId, 'voice_transcription', { at: expiresAt })).status).toBe('expired');
      expect(await consent.hasValidConsent(clientId, 'voice_transcription')).toBe(true);
      const guard = consent.requireConsent('voice_transcription', { clientId: () => clientId });
      await guard(request(admin), { setHeader() {} });

      const sweep = await consent.expiringConsents(admin, 11);
      expect(sweep.filter((s) => s.clientId === clientId)).toEqual([
        { consentId: c.id, clientId, consentType: 'voice_transcription', consentVersion: '3.0', expiresAt: expiresAt.toISOString() },
      ]);
      expect((await consent.expiringConsents(admin, 9)).filter((s) => s.clientId === clientId)).toEqual([]);
      expect((await rejection(consent.expiringConsents(admin, -1))).code).toBe('VALIDATION_FAILED');
      expect((await rejection(consent.expiringConsents(asClient(clientId), 5))).code).toBe('FORBIDDEN');
    });

    it('lapses on the real clock', async () => {
      const clientId = await createClient(t.admin);
      await consent.grantConsent(admin, { clientId, consentType: 'data_collection', consentVersion: '3.0', expiresAt: new Date(Date.now() + 800) });
      expect(await consent.hasValidConsent(clientId, 'data_collection')).toBe(true);
      await new Promise((r) => setTimeout(r, 900));
      expect(await consent.hasValidConsent(clientId, 'data_collection')).toBe(false);
      const e = await rejection(Promise.resolve(consent.requireConsent('data_collection')(request(asClient(clientId)), { setHeader() {} })));
      expect([e.code, (e.details as { status: string }).status]).toEqual(['CONSENT_REQUIRED', 'expired']);
    });
  });

  describe('row-level security and history', () => {
    let alice: string;
    let bob: string;
    beforeAll(async () => {
      alice = await createClient(t.admin);
      bob = await createClient(t.admin);
      await consent.grantConsent(asClient(alice), { clientId: alice, consentType: 'third_party_sharing', consentVersion: '3.0' });
      await consent.grantConsent(asClient(bob), { clientId: bob, consentType: 'third_party_sharing', consentVersion: '3.0' });
    });
    const visible = (actor: Parameters<typeof withActor>[1]) =>
      withActor(t.db, actor, async (trx) => (await sql<{ client_id: string }>`select client_id::text from client_consents`.execute(trx)).rows.map((r) => r.client_id));

    it('admins see every row, a client only its own, trainers none, ai_service is refused', async () => {
      const all = await visible(admin);
      expect(all).toEqual(expect.arrayContaining([alice, bob]));
      expect(new Set(await visible(asClient(alice)))).toEqual(new Set([alice]));
      expect(await visible({ id: randomUUID(), role: 'trainer' })).toEqual([]);
      await expect(visible({ id: randomUUID(), role: 'ai_service' })).rejects.toThrow(/permission denied/);
      // …but the status function answers for any caller, ai_service included
      const status = await withActor(t.db, { id: randomUUID(), role: 'ai_service' }, async (trx) =>
        (await sql<{ status: string }>`select status from swan_consent_status(${alice}::uuid, 'third_party_sharing')`.execute(trx)).rows[0]!.status);
      expect(status).toBe('valid');
      const list = await consent.getClientConsents(asClient(alice), alice);
      expect(list.every((c) => c.clientId === alice)).toBe(true);
      expect((await rejection(consent.getClientConsents(asClient(alice), bob))).code).toBe('FORBIDDEN');
    });

    it('a client cannot write for another client even with raw SQL', async () => {
      await expect(withActor(t.db, asClient(alice), (trx) =>
        sql`insert into client_consents (client_id, consent_version, consent_type, consent_granted) values (${bob}::uuid, '3.0', 'ai_processing', true)`.execute(trx),
      )).rejects.toThrow(/row-level security/);
      const r = await withActor(t.db, asClient(alice), (trx) =>
        sql`update client_consents set revoked_at = clock_timestamp(), revoked_reason = 'x' where client_id = ${bob}::uuid`.execute(trx));
      expect(Number(r.numAffectedRows)).toBe(0);
    });

    it('rows are never deleted or rewritten beyond revocation', async () => {
      const n = (await ledger(t.admin)).length;
      await expect(withActor(t.db, admin, (trx) => sql`delete from client_consents where client_id = ${alice}::uuid`.execute(trx))).rejects.toThrow(/permission denied|keeps history/);
      await expect(withActor(t.db, admin, (trx) => sql`update client_consents set consent_version = '2.9' where client_id = ${alice}::uuid`.execute(trx))).rejects.toThrow(/permission denied|keeps history/);
      // even the owner: no rewrite of proof, no un-revoking, no delete
      await expect(sql`update client_consents set ip_address = '10.0.0.1' where client_id = ${alice}::uuid`.execute(t.admin)).rejects.toThrow(/keeps history/);
      await expect(sql`update client_consents set revoked_at = null, revoked_reason = null where revoked_at is not null`.execute(t.admin)).rejects.toThrow(/keeps history/);
      await expect(sql`delete from client_consents`.execute(t.admin)).rejects.toThrow(/keeps history/);
      expect((await ledger(t.admin)).length).toBe(n);
    });
  });

  describe('routes and export', () => {
    const route = (method: string, path: string) => consentRoutes(consent).find((r) => r.method === method && r.path === path)!;

    it('grant, check, list and revoke over the framework-free routes', async () => {
      const clientId = await createClient(t.admin);
      const grant = route('POST', '/api/consent/grant');
      const res = await grant.handler(request(asClient(clientId), { method: 'POST', body: { clientId, consentType: 'ai_processing', consentVersion: '3.0', consentGranted: true } }));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, consent: { clientId, ipAddress: '203.0.113.9', userAgent: 'vitest/4', consentMethod: 'web_form' } });
      expect((await rejection(grant.handler(request(asClient(randomUUID()), { method: 'POST', body: { clientId, consentType: 'ai_processing', consentVersion: '3.0', consentGranted: true } })))).code).toBe('FORBIDDEN');
      expect((await rejection(grant.handler(request(admin, { method: 'POST', body: 'nope' })))).code).toBe('VALIDATION_FAILED');

      const check = route('GET', '/api/consent/check/:clientId/:consentType');
      const checked = await check.handler(request({ id: randomUUID(), role: 'trainer' }, { params: { clientId, consentType: 'ai_processing' } }));
      expect(checked.body).toMatchObject({ success: true, hasConsent: true });
      expect((await check.handler(request(admin, { params: { clientId, consentType: 'photo_analysis' } }))).body).toMatchObject({ hasConsent: false });
      expect((await rejection(check.handler(request(admin, { params: { clientId, consentType: 'telepathy' } })))).code).toBe('VALIDATION_FAILED');
      expect((await rejection(check.handler(request(admin, { params: { clientId: 'x', consentType: 'ai_processing' } })))).code).toBe('VALIDATION_FAILED');

      const list = await route('GET', '/api/consent/:clientId').handler(request(asClient(clientId), { params: { clientId } }));
      expect(list.body).toMatchObject({ success: true, consents: [{ consentType: 'ai_processing', fullText: CONSENT_VERSION_3_0.fullText, summary: CONSENT_VERSION_3_0.summary }] });

      const revoke = route('POST', '/api/consent/revoke');
      expect((await revoke.handler(request(asClient(clientId), { method: 'POST', body: { clientId, consentType: 'ai_processing', reason: 'no' } }))).status).toBe(200);
      expect((await check.handler(request(admin, { params: { clientId, consentType: 'ai_processing' } }))).body).toMatchObject({ hasConsent: false });
      expect((await rejection(revoke.handler(request(asClient(clientId), { method: 'POST', body: { clientId, consentType: 'ai_processing' } })))).code).toBe('NOT_FOUND');

      const published = await route('POST', '/api/consent/versions').handler(request(admin, { method: 'POST', body: { version: '2.5', effectiveDate: '2023-01-01', fullText: 'old' } }));
      expect(published).toMatchObject({ status: 201, body: { success: true, version: { version: '2.5' } } });
    });

    it('contributes every consent with the text agreed to to the data-subject export', async () => {
      const clientId = await createClient(t.admin);
      for (const type of CONSENT_TYPES) await consent.grantConsent(asClient(clientId), { clientId, consentType: type, consentVersion: '3.0' });
      await consent.revokeConsent(asClient(clientId), { clientId, consentType: 'photo_analysis' });
      const contributor = consent.exportContributor();
      expect(contributor.name).toBe('consents');
      const exported = (await withActor(t.db, asClient(clientId), (trx) => contributor.collect(trx, clientId))) as { consentType: string; fullText: string; textSha256: string; active: boolean }[];
      expect(exported).toHaveLength(CONSENT_TYPES.length);
      expect(new Set(exported.map((e) => e.consentType))).toEqual(new Set(CONSENT_TYPES));
      expect(exported.every((e) => e.fullText === CONSENT_VERSION_3_0.fullText && e.textSha256.length === 64)).toBe(true);
      expect(exported.filter((e) => !e.active).map((e) => e.consentType)).toEqual(['photo_analysis']);
    });
  });
});
