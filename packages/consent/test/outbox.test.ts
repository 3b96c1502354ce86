import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { EventPublisher } from '@swan/core';
import { createOutbox, migrations as outboxMigrations, type Outbox } from '@swan/outbox';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { createConsent, type ConsentService, seedConsentVersion30 } from '../src/index.js';
import { admin, asClient, createClient, rejection, sets } from './setup.js';

/** The consent service with the real @swan/outbox (its own migrations, its own payload validation). */
describe.each(testEngines())('consent events through the real outbox on $name', (engine) => {
  let t: TestDatabase;
  let outbox: Outbox;
  let consent: ConsentService;

  /** swan_outbox rows of one client, with the transaction that wrote them. */
  const outboxRows = async (clientId: string) => {
    const { rows } = await sql<{ event_type: string; aggregate_type: string; aggregate_id: string; status: string; payload: Record<string, unknown>; xid: string }>`
      select event_type, aggregate_type, aggregate_id, status, payload, xmin::text as xid
        from swan_outbox where payload->>'clientId' = ${clientId} order by id`.execute(t.admin);
    return rows;
  };
  /** Ledger rows of one client, with the transaction that last wrote each. */
  const ledgerRows = async (clientId: string) => {
    const { rows } = await sql<{ id: string; revoked_at: Date | null; xid: string }>`
      select id::text as id, revoked_at, xmin::text as xid from client_consents where client_id = ${clientId}::uuid order by granted_at`.execute(t.admin);
    return rows;
  };

  beforeAll(async () => {
    t = await engine.create([...sets, outboxMigrations]);
    outbox = createOutbox({ db: t.db });
    consent = createConsent({ db: t.db, events: outbox });
    await seedConsentVersion30(t.db);
  });
  afterAll(() => t?.close());

  it('a grant leaves exactly one consent_granted row, written by the grant’s own transaction', async () => {
    const clientId = await createClient(t.admin);
    const c = await consent.grantConsent(asClient(clientId), {
      clientId, consentType: 'wearable_integration', consentVersion: '3.0',
      ipAddress: '198.51.100.23', userAgent: 'SecretAgent/1.0', signatureData: 'c2lnbmVkLWJ5LWRhbmE=',
    });
    const events = await outboxRows(clientId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event_type: 'consent_granted', aggregate_type: 'client', aggregate_id: clientId, status: 'pending' });
    // the payload matches the outbox event map (consentVersion, not version)
    expect(events[0]!.payload).toEqual({ clientId, consentType: 'wearable_integration', consentVersion: '3.0', consentId: c.id });
    // same transaction: the event row and the consent row carry the same writing transaction id
    const ledger = await ledgerRows(clientId);
    expect(ledger.map((r) => r.id)).toEqual([c.id]);
    expect(events[0]!.xid).toBe(ledger[0]!.xid);
    // no proof data in the event
    expect(JSON.stringify(events)).not.toMatch(/198\.51\.100|SecretAgent|c2lnbmVk/);

    // a replacing grant: the old row's revocation, the new row and its event commit together
    const second = await consent.grantConsent(admin, { clientId, consentType: 'wearable_integration', consentVersion: '3.0' });
    const after = await outboxRows(clientId);
    expect(after.map((e) => e.event_type)).toEqual(['consent_granted', 'consent_granted']);
    const rows = await ledgerRows(clientId);
    expect(rows.map((r) => r.id)).toEqual([c.id, second.id]);
    expect(new Set([rows[0]!.xid, rows[1]!.xid, after[1]!.xid]).size).toBe(1);
  });

  it('a failing grant (unknown version, unknown client) leaves no event and no consent', async () => {
    const clientId = await createClient(t.admin);
    const unknownVersion = await rejection(consent.grantConsent(admin, { clientId, consentType: 'ai_processing', consentVersion: '9.9' }));
    expect([unknownVersion.code, unknownVersion.status]).toEqual(['NOT_FOUND', 404]);
    expect(await outboxRows(clientId)).toEqual([]);
    expect(await ledgerRows(clientId)).toEqual([]);
    const total = async () => (await sql<{ n: number }>`select count(*)::int as n from swan_outbox`.execute(t.admin)).rows[0]!.n;
    const before = await total();
    expect((await rejection(consent.revokeConsent(admin, { clientId, consentType: 'ai_processing' }))).code).toBe('NOT_FOUND');
    expect(await total()).toBe(before);
  });

  it('when the transaction fails after the event was published, neither the consent nor the event remains', async () => {
    const clientId = await createClient(t.admin);
    // the real outbox inserts its row, then the grant's transaction fails
    const failing: EventPublisher = {
      async publish(trx, event) {
        await outbox.publish(trx, event as never);
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from swan_outbox where payload->>'clientId' = ${clientId}`.execute(trx);
        expect(rows[0]!.n).toBe(1); // visible inside the transaction
        throw new Error('crash after publish');
      },
    };
    const crashing = createConsent({ db: t.db, events: failing });
    await expect(crashing.grantConsent(admin, { clientId, consentType: 'photo_analysis', consentVersion: '3.0' })).rejects.toThrow('crash after publish');
    expect(await outboxRows(clientId)).toEqual([]);
    expect(await ledgerRows(clientId)).toEqual([]);
  });

  it('a revoke leaves one consent_revoked row; a recorded refusal one with declined: true', async () => {
    const clientId = await createClient(t.admin);
    await consent.grantConsent(asClient(clientId), { clientId, consentType: 'ai_processing', consentVersion: '3.0' });
    const revoked = await consent.revokeConsent(asClient(clientId), { clientId, consentType: 'ai_processing', reason: 'Changed my mind' });
    let events = await outboxRows(clientId);
    expect(events.map((e) => e.event_type)).toEqual(['consent_granted', 'consent_revoked']);
    expect(events[1]!.payload).toEqual({ clientId, consentType: 'ai_processing', consentVersion: '3.0', consentId: revoked.id });
    const ledger = await ledgerRows(clientId);
    expect(ledger[0]!.revoked_at).not.toBeNull();
    expect(events[1]!.xid).toBe(ledger[0]!.xid);
    // the reason is free text a client typed: it stays in the ledger, not in the event
    expect(JSON.stringify(events)).not.toContain('Changed my mind');

    const refusal = await consent.grantConsent(asClient(clientId), { clientId, consentType: 'third_party_sharing', consentVersion: '3.0', consentGranted: false });
    events = await outboxRows(clientId);
    expect(events).toHaveLength(3);
    expect(events[2]).toMatchObject({ event_type: 'consent_revoked', payload: { clientId, consentType: 'third_party_sharing', consentVersion: '3.0', consentId: refusal.id, declined: true } });
  });
});
