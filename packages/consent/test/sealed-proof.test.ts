import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { SEALED_PREFIX, type Actor } from '@swan/core';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { createPii, LocalKeyProvider, type PiiService } from '@swan/pii';
import { createConsent, seedConsentVersion30, type ConsentService } from '../src/index.js';
import { asClient, sets } from './setup.js';

const admin: Actor = { id: randomUUID(), role: 'admin' };

/** The ledger rows of a client as stored (owner handle, no row-level security). */
const stored = async (t: TestDatabase, clientId: string) =>
  (await sql<{ consent_type: string; consent_version: string; ip_address: string | null; user_agent: string | null; signature_data: string | null; revoked_reason: string | null; granted_at: Date; revoked_at: Date | null }>`
    select consent_type, consent_version, ip_address, user_agent, signature_data, revoked_reason, granted_at, revoked_at
      from client_consents where client_id = ${clientId}::uuid order by granted_at`.execute(t.admin)).rows;

const ledgerText = async (t: TestDatabase) =>
  (await sql<{ t: string | null }>`select string_agg(x::text, E'\n') as t from client_consents x`.execute(t.admin)).rows[0]!.t ?? '';

describe.each(testEngines())('consent proof sealed under the client key on $name', (engine) => {
  let t: TestDatabase;
  let pii: PiiService;
  let sealed: ConsentService;
  let plain: ConsentService;
  beforeAll(async () => {
    t = await engine.create(sets);
    pii = createPii({ db: t.db, keys: LocalKeyProvider.fromEnv(`k1:${randomBytes(32).toString('base64')}`), indexKey: randomBytes(32) });
    sealed = createConsent({ db: t.db, sealer: pii.sealer });
    plain = createConsent({ db: t.db });
    await seedConsentVersion30(t.db);
  });
  afterAll(() => t.close());

  const newClient = async () => (await pii.createClient(admin, {
    pii: { full_name: 'Proof Person', date_of_birth: '1990-01-01', email: `proof.${randomUUID()}@example.org`, emergency_contact: { name: 'Kin' } },
  })).clientId;

  it('stores IP, user agent, signature and a given revocation reason sealed; reads open them; erasure shreds them and the ledger keeps the proof of what and when', async () => {
    const m = randomBytes(5).toString('hex');
    const proof = { ipAddress: '198.51.100.77', userAgent: `ProofAgent/${m}`, signatureData: `sig-${m}` };
    const clientId = await newClient();
    const granted = await sealed.grantConsent(asClient(clientId), { clientId, consentType: 'ai_processing', consentVersion: '3.0', ...proof });
    expect(granted).toMatchObject(proof);
    await sealed.grantConsent(admin, { clientId, consentType: 'photo_analysis', consentVersion: '3.0', ...proof });
    const revoked = await sealed.revokeConsent(asClient(clientId), { clientId, consentType: 'photo_analysis', reason: `changed my mind ${m}` });
    expect(revoked).toMatchObject({ ...proof, revokedReason: `changed my mind ${m}` });
    await sealed.grantConsent(admin, { clientId, consentType: 'data_collection', consentVersion: '3.0' });
    await sealed.revokeConsent(admin, { clientId, consentType: 'data_collection' }); // default reason: a fixed text, not sealed

    const rows = await stored(t, clientId);
    for (const r of rows.filter((x) => x.consent_type !== 'data_collection')) {
      for (const v of [r.ip_address, r.user_agent, r.signature_data]) expect(v!.startsWith(SEALED_PREFIX)).toBe(true);
    }
    expect(rows.map((r) => r.revoked_reason?.startsWith(SEALED_PREFIX) ?? null)).toEqual([null, true, false]);
    expect(rows.find((r) => r.consent_type === 'data_collection')!.revoked_reason).toBe('Consent withdrawn');
    const text = await ledgerText(t);
    for (const v of [proof.ipAddress, m]) expect(text).not.toContain(v);

    const read = await sealed.getClientConsents(asClient(clientId), clientId);
    expect(read.find((c) => c.consentType === 'photo_analysis')).toMatchObject({ ...proof, revokedReason: `changed my mind ${m}`, textSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const exported = await pii.exportClientData(clientId, admin, [sealed.exportContributor()]);
    expect((exported.consents as Array<{ consentType: string; ipAddress: string }>).find((c) => c.consentType === 'ai_processing')!.ipAddress).toBe(proof.ipAddress);

    await pii.erase(clientId, admin, 'art. 17');
    const after = await stored(t, clientId);
    expect(after.map((r) => [r.consent_type, r.consent_version, r.ip_address, r.user_agent, r.signature_data])).toEqual([
      ['ai_processing', '3.0', null, null, null], ['photo_analysis', '3.0', null, null, null], ['data_collection', '3.0', null, null, null],
    ]);
    expect(after.map((r) => r.granted_at)).toEqual(rows.map((r) => r.granted_at));
    expect(after.every((r) => r.revoked_at !== null)).toBe(true);
    expect(after[0]!.revoked_reason).toBe('Client erased');
    // the sealed reason stays as ciphertext that nothing can open any more
    const history = await sealed.getClientConsents(admin, clientId);
    expect(history.find((c) => c.consentType === 'photo_analysis')).toMatchObject({ ipAddress: null, userAgent: null, signatureData: null, revokedReason: null, consentVersion: '3.0' });
    expect(await ledgerText(t)).not.toContain(m);
  });

  it('without a sealer the proof is plaintext until erasure, which clears it and any plaintext reason', async () => {
    const m = randomBytes(5).toString('hex');
    const clientId = await newClient();
    await plain.grantConsent(asClient(clientId), { clientId, consentType: 'ai_processing', consentVersion: '3.0', ipAddress: '192.0.2.44', userAgent: `Plain/${m}`, signatureData: `plain-${m}` });
    await plain.revokeConsent(asClient(clientId), { clientId, consentType: 'ai_processing', reason: `plain reason ${m}` });
    await plain.grantConsent(asClient(clientId), { clientId, consentType: 'photo_analysis', consentVersion: '3.0', ipAddress: '192.0.2.44' });
    expect(await ledgerText(t)).toContain(m);
    // the ledger stays append-only for a live client
    await expect(sql`update client_consents set ip_address = null where client_id = ${clientId}::uuid`.execute(t.admin)).rejects.toThrow(/keeps history/);

    await pii.erase(clientId, admin, 'art. 17');
    const after = await stored(t, clientId);
    expect(after.map((r) => [r.consent_type, r.ip_address, r.user_agent, r.signature_data, r.revoked_reason])).toEqual([
      ['ai_processing', null, null, null, 'Consent withdrawn'], ['photo_analysis', null, null, null, 'Client erased'],
    ]);
    expect(await ledgerText(t)).not.toContain(m);
    expect(await ledgerText(t)).not.toContain('192.0.2.44');
    // even for an erased client, what was agreed to and when never changes
    await expect(sql`update client_consents set consent_version = '3.0', consent_type = 'voice_transcription' where client_id = ${clientId}::uuid`.execute(t.admin)).rejects.toThrow(/keeps history/);
    await expect(sql`delete from client_consents where client_id = ${clientId}::uuid`.execute(t.admin)).rejects.toThrow(/keeps history/);
  });
});
