import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { SEALED_PREFIX, verifyAuditChain, withActor } from '@swan/core';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { DEFAULT_PURPOSES, type PiiService } from '@swan/pii';
import { admin, ai, auditOf, clientBody, makeService, trainer, withPiiDatabase } from './fixtures.js';

/** Everything the audit log, the PII tombstones and the restriction history hold, as text (read as the owner). */
async function storedText(t: TestDatabase): Promise<string> {
  const { rows } = await sql<{ t: string | null }>`select concat_ws(E'\n',
      (select string_agg(x::text, E'\n') from swan_audit_log x),
      (select string_agg(coalesce(deletion_reason, ''), E'\n') from client_profile_pii),
      (select string_agg(x::text, E'\n') from client_restrictions x)) as t`.execute(t.admin);
  return rows[0]!.t ?? '';
}

const auditCount = async (t: TestDatabase) =>
  (await sql<{ n: number }>`select count(*)::int as n from swan_audit_log`.execute(t.admin)).rows[0]!.n;

describe.each(testEngines())('purpose-bound reads and sealed free text on $name', (engine) => {
  let t: TestDatabase;
  let pii: PiiService;
  withPiiDatabase(engine, (db, service) => ((t = db), (pii = service)));

  it('a missing or unknown purpose, or a note over 200 characters, is VALIDATION_FAILED and writes nothing', async () => {
    const { clientId } = await pii.createClient(admin, clientBody(1));
    const tr = trainer();
    await pii.assignTrainer(admin, tr.id, clientId);
    const before = await auditCount(t);
    const refused = [
      pii.getClientPII(clientId, admin, { purpose: '' }),
      pii.getClientPII(clientId, admin, { purpose: undefined as never, note: 'no purpose' }),
      pii.getClientPII(clientId, tr, { purpose: 'curiosity' }),
      pii.getClientPII(clientId, admin, 'weekly session planning'), // free text alone states no purpose
      pii.getClientPII(clientId, admin, 'Session_Planning'),
      pii.getClientPII(clientId, tr, { purpose: 'session_planning', note: 'x'.repeat(201) }),
      pii.getClientPII(clientId, admin, `session_planning: ${'y'.repeat(201)}`),
      pii.getClientPII(clientId, admin, { purpose: 'session_planning', note: 'nul \0 inside' }),
    ];
    for (const p of refused) await expect(p).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await auditCount(t)).toBe(before);
    // at the limit: accepted
    expect((await pii.getClientPII(clientId, tr, { purpose: 'session_planning', note: 'z'.repeat(200) })).clientId).toBe(clientId);
    expect(await auditCount(t)).toBe(before + 1);
    expect(pii.purposes).toEqual([...DEFAULT_PURPOSES]);
  });

  it('the purpose is on record in plaintext, the note sealed under the client key; it opens until erasure', async () => {
    const marker = `note-marker-${randomBytes(6).toString('hex')}`;
    const { clientId } = await pii.createClient(admin, clientBody(2));
    await pii.getClientPII(clientId, admin, { purpose: 'emergency_contact', note: `called ${marker} a` });
    await pii.getClientPII(clientId, admin, `billing_support: ${marker} b`);
    await pii.getClientPII(clientId, admin, { purpose: 'session_planning', reason: `${marker} c` }); // reason is the note
    await pii.getClientPII(clientId, admin, { purpose: 'data_subject_request' }); // no note
    const reads = (await auditOf(t.admin, clientId)).filter((a) => a.action === 'PII_ACCESS');
    expect(reads.map((a) => a.reason)).toEqual(['emergency_contact', 'billing_support', 'session_planning', 'data_subject_request']);
    expect(reads.map((a) => typeof a.details.note === 'string' && (a.details.note as string).startsWith(SEALED_PREFIX))).toEqual([true, true, true, false]);
    expect(await storedText(t)).not.toContain(marker);

    // opened for the client's own export; by the sealer while the key exists
    const doc = await pii.exportClientData(clientId, { id: clientId, role: 'client' });
    const log = (doc.accessLog as Array<{ action: string; reason: string; note: string | null }>).filter((e) => e.action === 'PII_ACCESS');
    expect(log.map((e) => [e.reason, e.note])).toEqual([
      ['emergency_contact', `called ${marker} a`], ['billing_support', `${marker} b`], ['session_planning', `${marker} c`], ['data_subject_request', null],
    ]);
    const sealed = reads[0]!.details.note as string;
    expect(await withActor(t.db, admin, (trx) => pii.sealer.open(trx, clientId, sealed, 'audit.note'))).toBe(`called ${marker} a`);
    // bound to the client and the field
    const other = await pii.createClient(admin, clientBody(3));
    await expect(withActor(t.db, admin, (trx) => pii.sealer.open(trx, clientId, sealed, 'restriction.reason'))).rejects.toMatchObject({ code: 'PII_DECRYPTION_FAILED' });
    await expect(withActor(t.db, admin, (trx) => pii.sealer.open(trx, other.clientId, sealed, 'audit.note'))).rejects.toMatchObject({ code: 'PII_DECRYPTION_FAILED' });

    await pii.erase(clientId, admin, `erased, see ${marker}`);
    expect(await withActor(t.db, admin, (trx) => pii.sealer.open(trx, clientId, sealed, 'audit.note'))).toBeNull();
    await expect(withActor(t.db, admin, (trx) => pii.sealer.seal(trx, clientId, 'late', 'audit.note'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await storedText(t)).not.toContain(marker);
    expect(await verifyAuditChain(t.db)).toMatchObject({ valid: true });
  });

  it('denied attempts are audited with the purpose and a sealed note, never the note in plaintext', async () => {
    const marker = `denied-${randomBytes(6).toString('hex')}`;
    const { clientId } = await pii.createClient(admin, clientBody(4));
    await expect(pii.getClientPII(clientId, trainer(), { purpose: 'session_planning', note: `${marker} t` })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(pii.getClientPII(clientId, ai, `security_investigation: ${marker} ai`)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(pii.getClientPII(clientId, { id: randomUUID(), role: 'client' }, { purpose: 'nonsense', note: `${marker} c` })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const denied = (await auditOf(t.admin, clientId)).filter((a) => a.outcome === 'denied');
    expect(denied.map((a) => [a.reason, typeof a.details.note])).toEqual([['session_planning', 'string'], ['security_investigation', 'string'], [null, 'string']]);
    expect(await storedText(t)).not.toContain(marker);
    const doc = await pii.exportClientData(clientId, admin);
    const notes = (doc.accessLog as Array<{ outcome: string; actor_role: string; note: string | null }>).filter((e) => e.outcome === 'denied');
    // another client's attempt shows without its note; staff attempts with theirs
    expect(notes.map((e) => [e.actor_role, e.note])).toEqual([['trainer', `${marker} t`], ['ai_service', `${marker} ai`], ['client', null]]);
  });

  it('deletion, restoration, restriction and erasure reasons are sealed; the audit keeps record codes', async () => {
    const marker = `reason-${randomBytes(6).toString('hex')}`;
    const { clientId } = await pii.createClient(admin, clientBody(5));
    await pii.restrict(admin, clientId, `${marker} contested`);
    await pii.unrestrict(admin, clientId, { reason: `${marker} verified`, code: 'legal_obligation' });
    await pii.softDelete(clientId, admin, `${marker} paused`);
    const { rows: deleted } = await sql<{ deletion_reason: string }>`select deletion_reason from client_profile_pii where client_id = ${clientId}`.execute(t.admin);
    expect(deleted[0]!.deletion_reason.startsWith(SEALED_PREFIX)).toBe(true);
    await pii.restore(clientId, admin, `${marker} back`);
    const { rows: history } = await sql<{ reason: string; lift_reason: string }>`select reason, lift_reason from client_restrictions where client_id = ${clientId}`.execute(t.admin);
    expect(history.every((h) => h.reason.startsWith(SEALED_PREFIX) && h.lift_reason.startsWith(SEALED_PREFIX))).toBe(true);
    expect((await pii.exportClientData(clientId, admin)).restrictions).toMatchObject([{ reason: `${marker} contested`, liftReason: `${marker} verified` }]);
    expect(await storedText(t)).not.toContain(marker);

    await expect(pii.erase(clientId, admin, { reason: 'asked', code: 'because' as never })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await pii.erase(clientId, admin, { reason: `${marker} art. 17`, code: 'legal_obligation' });
    const audit = await auditOf(t.admin, clientId);
    expect(audit.filter((a) => a.action !== 'PII_EXPORT').map((a) => `${a.action}:${a.reason}`)).toEqual([
      'CLIENT_CREATED:null', 'PROCESSING_RESTRICTED:data_subject_request', 'PROCESSING_UNRESTRICTED:legal_obligation',
      'PII_DELETED:operator_request', 'PII_RESTORED:operator_request', 'PII_ERASED:legal_obligation',
    ]);
    const { rows: tomb } = await sql<{ deletion_reason: string }>`select deletion_reason from client_profile_pii where client_id = ${clientId}`.execute(t.admin);
    expect(tomb[0]!.deletion_reason).toBe('legal_obligation');
    expect(await storedText(t)).not.toContain(marker);
    expect(await verifyAuditChain(t.db)).toMatchObject({ valid: true });
  });

  it('lookups by email and phone are audited with the index and the outcome, never the value', async () => {
    const body = clientBody(6);
    const { clientId } = await pii.createClient(admin, body);
    const before = await auditCount(t);
    const { rows: last } = await sql<{ id: number }>`select max(id)::int as id from swan_audit_log`.execute(t.admin);
    expect(await pii.findClientByEmail(body.pii.email, admin)).toMatchObject({ clientId });
    expect(await pii.findClientByPhone(body.pii.phone_number, admin)).toMatchObject({ clientId });
    const missing = `nobody.${randomBytes(4).toString('hex')}@example.com`;
    expect(await pii.findClientByEmail(missing, admin)).toBeNull();
    expect(await pii.findClientByPhone('not a phone', admin)).toBeNull();
    const { rows } = await sql<{ resource_id: string | null; outcome: string; details: Record<string, unknown>; actor_id: string; x: string }>`
      select resource_id, outcome, details, actor_id, x::text from swan_audit_log x where id > ${last[0]!.id} and action = 'PII_LOOKUP' order by id`.execute(t.admin);
    expect(await auditCount(t)).toBe(before + 4);
    expect(rows.map((r) => [r.resource_id, r.outcome, r.details, r.actor_id])).toEqual([
      [clientId, 'allowed', { index: 'email' }, admin.id], [clientId, 'allowed', { index: 'phone' }, admin.id],
      [null, 'not_found', { index: 'email' }, admin.id], [null, 'not_found', { index: 'phone' }, admin.id],
    ]);
    const text = rows.map((r) => r.x).join('\n');
    for (const v of [body.pii.email, body.pii.phone_number, body.pii.phone_number.slice(2), missing]) expect(text).not.toContain(v);
  });

  it('purposes are configurable; a bad list is refused at creation', () => {
    expect(() => makeService(t.db, pii.keys, undefined, { purposes: [] })).toThrow(/purposes/);
    expect(() => makeService(t.db, pii.keys, undefined, { purposes: ['Session Planning'] })).toThrow(/purposes/);
    const custom = makeService(t.db, pii.keys, undefined, { purposes: ['coaching'] });
    expect(custom.purposes).toEqual(['coaching']);
  });

  it('a configured purpose list decides what getClientPII accepts; the SDK service reads still use service_delivery', async () => {
    const custom = makeService(t.db, pii.keys, undefined, { purposes: ['coaching'] });
    const body = clientBody(7);
    const { clientId } = await custom.createClient(admin, body);
    await expect(custom.getClientPII(clientId, admin, { purpose: 'session_planning' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await custom.getClientPII(clientId, admin, { purpose: 'coaching' })).email).toBe(body.pii.email);
    expect(await custom.emailFor({ id: clientId, role: 'client' }, clientId, 'checkout prefill')).toBe(body.pii.email);
    expect((await auditOf(t.admin, clientId)).filter((a) => a.action === 'PII_ACCESS').map((a) => [a.reason, a.details.onBehalfOf ?? null]))
      .toEqual([['coaching', null], ['service_delivery', 'client']]);
  });
});
