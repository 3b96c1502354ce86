import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { withActor, verifyAuditChain } from '@swan/core';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { LocalKeyProvider, type PiiService, isAssignedTrainer, type CreateClientInput } from '@swan/pii';
import { admin, ai, auditOf, clientBody, makeService, masterKey, trainer, withPiiDatabase } from './fixtures.js';

const count = async (t: TestDatabase, table: string) =>
  Number((await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(t.admin)).rows[0]!.n);

describe.each(testEngines())('@swan/pii on $name', (engine) => {
  let t: TestDatabase;
  let pii: PiiService;
  withPiiDatabase(engine, (db, service) => ((t = db), (pii = service)));

  it('creates a client, derives the age, and reads it back decrypted with an audit entry', async () => {
    const body = clientBody(1);
    const { clientId, alias } = await pii.createClient(admin, body);
    expect(alias).toMatch(/ Swan/);
    const got = await pii.getClientPII(clientId, admin, 'session_planning: verifying intake');
    expect(got).toMatchObject({ clientId, alias, ...body.pii, phone_number: '+12133000001' });
    const training = await pii.getTraining(clientId, ai);
    expect(training).toMatchObject({ clientId, alias, gender: 'female', weight_lbs: 150.5, training_goals: ['strength'], training_tier: 'tier_2' });
    expect(training.age).toBeGreaterThan(20);
    expect(JSON.stringify(training)).not.toContain(body.pii.full_name);
    const audit = await auditOf(t.admin, clientId);
    expect(audit.map((a) => `${a.action}/${a.outcome}`)).toEqual(['CLIENT_CREATED/allowed', 'PII_ACCESS/allowed']);
    expect(audit[1]!.reason).toBe('session_planning');
    expect(JSON.stringify(audit)).not.toContain('verifying intake');
    // the access stamp is copied from the audit entry when the chainer links it
    const stamp = async () => (await sql<{ accessed_by: string | null; last_accessed_at: Date | null }>`
      select accessed_by, last_accessed_at from client_profile_pii where client_id = ${clientId}`.execute(t.admin)).rows[0]!;
    expect(await stamp()).toEqual({ accessed_by: null, last_accessed_at: null });
    await sql`select swan_audit_chain()`.execute(t.admin);
    const first = await stamp();
    expect(first.accessed_by).toBe(admin.id);
    const { rows: entry } = await sql<{ occurred_at: Date }>`select occurred_at from swan_audit_log
      where resource_id = ${clientId} and action = 'PII_ACCESS'`.execute(t.admin);
    expect(new Date(first.last_accessed_at!).getTime()).toBe(new Date(entry[0]!.occurred_at).getTime());
    const other = { id: randomUUID(), role: 'admin' as const };
    await pii.getClientPII(clientId, other, 'session_planning: second look');
    await expect(pii.getClientPII(randomUUID(), other, 'session_planning: unknown client')).rejects.toMatchObject({ code: 'NOT_FOUND' }); // stamps nothing
    await sql`select swan_audit_chain()`.execute(t.admin);
    expect((await stamp()).accessed_by).toBe(other.id);
  });

  it('emailFor gives the client (or an admin) the email for a stated purpose, audited, and nobody else', async () => {
    const body = clientBody(40);
    const { clientId } = await pii.createClient(admin, body);
    const self = { id: clientId, role: 'client' as const };
    expect(await pii.emailFor(self, clientId, 'prefill checkout')).toBe(body.pii.email);
    await expect(pii.emailFor({ id: randomUUID(), role: 'client' }, clientId, 'prefill checkout')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(pii.emailFor(self, clientId, 'x'.repeat(201))).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const audit = await auditOf(t.admin, clientId);
    expect(audit.slice(1).map((a) => `${a.action}/${a.outcome}`)).toEqual(['PII_ACCESS/allowed', 'PII_ACCESS/denied']);
    expect(audit[1]!.reason).toBe('service_delivery');
    expect(JSON.stringify(audit)).not.toContain('prefill checkout');
  });

  it('phoneFor gives an admin/service actor (or the client) the phone and alias only, audited under its id', async () => {
    const body = clientBody(41);
    const { clientId, alias } = await pii.createClient(admin, body);
    const service = { id: randomUUID(), role: 'admin' as const };
    const got = await pii.phoneFor(service, clientId, 'checkin_sms');
    expect(got).toEqual({ phone: expect.stringMatching(/^\+\d+$/), alias });
    await expect(pii.phoneFor({ id: randomUUID(), role: 'trainer' }, clientId, 'checkin_sms')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(pii.phoneFor(service, randomUUID(), 'checkin_sms')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const audit = await auditOf(t.admin, clientId);
    expect(audit.slice(1).map((a) => `${a.actor_id}/${a.outcome}/${a.reason}`)).toEqual([`${service.id}/allowed/service_delivery`, expect.stringMatching(/\/denied\/service_delivery$/)]);
  });

  it('rejects invalid input with paths only, writing nothing', async () => {
    const before = await count(t, 'client_profile_pii');
    const bad = { pii: { full_name: 'Secret Person', date_of_birth: '2999-01-01', email: 'secret-not-an-email', emergency_contact: 'Secret Kin' }, training: { height_inches: -3, spirit: 1 } };
    const err = await pii.createClient(admin, bad as unknown as CreateClientInput).catch((e) => e);
    expect(err).toMatchObject({ code: 'VALIDATION_FAILED' });
    const text = JSON.stringify({ m: err.message, d: err.details });
    for (const v of ['Secret', 'secret-not-an-email', '2999']) expect(text).not.toContain(v);
    expect(err.details.map((d: { path: string }) => d.path).sort()).toEqual(['pii.date_of_birth', 'pii.email', 'pii.emergency_contact', 'training.height_inches', 'training.spirit']);
    // control characters (NUL can't even be stored) in any text field
    const nul = clientBody(3);
    const withNul = {
      pii: { ...nul.pii, full_name: 'Ada\u0000Lovelace', email: 'ada\u0000@example.org', preferred_name: 'A\u0007', address: { street: '1\u0000 Main St' } },
      training: { ...nul.training, gender: 'f\u0000', training_goals: ['strength\u0000'], movement_screen: { 'squat\u0000': 1 } },
    };
    const nulErr = await pii.createClient(admin, withNul).catch((e) => e);
    expect(nulErr).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(nulErr.details.map((d: { path: string }) => d.path).sort()).toEqual(['pii.address.street', 'pii.email', 'pii.full_name', 'pii.preferred_name', 'training.gender', 'training.movement_screen', 'training.training_goals']);
    expect(await count(t, 'client_profile_pii')).toBe(before);
    await expect(pii.createClient(trainer(), clientBody(2))).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a duplicate email (any case, surrounding spaces) is a CONFLICT with nothing written', async () => {
    const body = clientBody(3);
    const { clientId } = await pii.createClient(admin, body);
    const tables = ['client_profile_pii', 'client_data_keys', 'client_profile_training', 'client_aliases', 'swan_audit_log'];
    const before = await Promise.all(tables.map((x) => count(t, x)));
    const dup = clientBody(4);
    dup.pii.email = `  ${body.pii.email.toUpperCase()} `;
    await expect(pii.createClient(admin, dup)).rejects.toMatchObject({ code: 'CONFLICT', message: expect.not.stringContaining('@') });
    expect(await Promise.all(tables.map((x) => count(t, x)))).toEqual(before);
    expect(await pii.findClientByEmail(` ${body.pii.email.toUpperCase()}`, admin)).toMatchObject({ clientId });
    expect(await pii.findClientByPhone('(213) 300-0003', admin)).toMatchObject({ clientId });
    expect(await pii.findClientByEmail('nobody@example.com', admin)).toBeNull();
  });

  it('trainers read only assigned clients; denied, unknown and reasonless attempts are audited or refused', async () => {
    const { clientId } = await pii.createClient(admin, clientBody(5));
    const tr = trainer();
    await expect(pii.getClientPII(clientId, tr, 'session_planning: planning')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(pii.getTraining(clientId, tr)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await pii.findClientByEmail(clientBody(5).pii.email, tr)).toBeNull();
    await pii.assignTrainer(admin, tr.id, clientId);
    expect(await withActor(t.db, tr, (trx) => isAssignedTrainer(trx, tr.id, clientId))).toBe(true);
    expect((await pii.getClientPII(clientId, tr, 'session_planning: planning')).clientId).toBe(clientId);
    const unknown = randomUUID();
    await expect(pii.getClientPII(unknown, tr, 'session_planning: planning')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(pii.getClientPII(clientId, tr, '  ')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(pii.getClientPII('not-a-uuid', tr, 'session_planning: x')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(pii.getClientPII(clientId, ai, 'session_planning: prompt')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // a role that may never read PII is denied and audited even without a reason
    await expect(pii.getClientPII(clientId, ai, undefined as never)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const audit = await auditOf(t.admin, clientId);
    expect(audit.filter((a) => a.action === 'PII_ACCESS').map((a) => `${a.outcome}:${a.actor_id === tr.id ? 'tr' : a.actor_id === ai.id ? 'ai' : '?'}`))
      .toEqual(['denied:tr', 'allowed:tr', 'denied:ai', 'denied:ai']);
    expect(audit.at(-1)!.reason).toBeNull();
    expect((await auditOf(t.admin, unknown)).map((a) => a.outcome)).toEqual(['not_found']);
    // a trainer has no update policy on the PII row: the update sees no row and changes nothing
    const r = await withActor(t.db, tr, (trx) => sql`update client_profile_pii set email_index = null where client_id = ${clientId}`.execute(trx));
    expect(Number(r.numAffectedRows)).toBe(0);
    expect((await sql<{ n: number }>`select count(*)::int as n from client_profile_pii where client_id = ${clientId} and email_index is not null`.execute(t.admin)).rows[0]!.n).toBe(1);
  });

  it('ai_service gets permission denied on every path to PII and may read training data', async () => {
    const { clientId } = await pii.createClient(admin, clientBody(6));
    const attempts = [
      sql`select * from client_profile_pii`,
      sql`select client_id from client_profile_pii`,
      sql`select * from client_data_keys`,
      sql`update client_profile_pii set last_accessed_at = now()`,
      sql`insert into client_profile_pii (client_id, encryption_key_id) values (gen_random_uuid(), 'x')`,
      sql`select swan_pii_client_exists(${clientId}::uuid)`,
      sql`select * from swan_pii_audited_reads(array[${ai.id}]::uuid[], array['admin'], array[${clientId}]::uuid[], array['PII_ACCESS'], array['leak'], array['{}'::jsonb], false)`,
      sql`select swan_pii_create(${ai.id}::uuid, gen_random_uuid(), array[]::bytea[], null, null, 'x', '\\x00'::bytea, 30, '{}'::jsonb, array['Nebula Swan'], array[1])`,
      sql`select t.*, p.email from client_profile_training t join client_profile_pii p using (client_id)`,
      sql`create view ai_leak as select * from client_profile_pii`,
      sql`create function ai_leak() returns setof client_profile_pii language sql security definer as 'select * from client_profile_pii'`,
    ];
    for (const q of attempts) {
      await expect(withActor(t.db, ai, (trx) => q.execute(trx))).rejects.toThrow(/permission denied/);
    }
    // no view or function in the database exposes PII or key tables to ai_service
    const { rows: views } = await sql<{ v: string }>`select distinct v.table_name as v from information_schema.view_table_usage v
       where v.table_name in ('client_profile_pii', 'client_data_keys') and has_table_privilege('ai_service', format('%I.%I', v.view_schema, v.view_name), 'select')`.execute(t.admin);
    expect(views).toEqual([]);
    const { rows: fns } = await sql<{ f: string }>`select p.proname as f from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'public' and has_function_privilege('ai_service', p.oid, 'execute')
         and (p.prosecdef or exists (select 1 from unnest(p.proconfig) c where c like 'role=%'))
         and (p.prosrc ilike '%client_profile_pii%' or p.prosrc ilike '%client_data_keys%')`.execute(t.admin);
    expect(fns).toEqual([]);
    const { rows } = await withActor(t.db, ai, (trx) => sql<{ client_id: string; alias: string }>`select t.client_id, a.alias from client_profile_training t join client_aliases a using (client_id) where client_id = ${clientId}`.execute(trx));
    expect(rows).toHaveLength(1);
  });

  it('a raw dump of the PII tables contains none of the plaintext of 100 clients', async () => {
    const bodies = Array.from({ length: 100 }, (_, i) => clientBody(1000 + i));
    await Promise.all(bodies.map((b) => pii.createClient(admin, b)));
    const dump: Buffer[] = [];
    for (const table of ['client_profile_pii', 'client_data_keys']) {
      const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(t.admin);
      const { rows: text } = await sql<{ r: string }>`select x::text as r from ${sql.table(table)} x`.execute(t.admin);
      for (const r of rows) for (const v of Object.values(r)) dump.push(v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v)));
      for (const r of text) dump.push(Buffer.from(r.r));
    }
    const all = Buffer.concat(dump);
    expect(all.length).toBeGreaterThan(100 * 200);
    for (const b of bodies) {
      const values = [b.pii.full_name, b.pii.preferred_name, b.pii.email, b.pii.phone_number, b.pii.phone_number.slice(2), b.pii.date_of_birth, b.pii.emergency_contact.name, b.pii.address.street];
      for (const v of values) expect(all.includes(Buffer.from(v)), v).toBe(false);
    }
  });

  it('1,000 random trainer/client pairs through a pooled connection: never an unassigned read', async () => {
    const pool = t.connectApp(8);
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => pii.createClient(admin, clientBody(2000 + i))));
    const trainers = Array.from({ length: 10 }, trainer);
    const assigned = new Set<string>();
    for (const tr of trainers) {
      for (const c of clients) {
        if (Math.random() < 0.3) { await pii.assignTrainer(admin, tr.id, c.clientId); assigned.add(`${tr.id}/${c.clientId}`); }
      }
    }
    const pooled = makeService(pool, pii.keys, undefined);
    const results = await Promise.all(Array.from({ length: 1000 }, async () => {
      const tr = trainers[Math.floor(Math.random() * trainers.length)]!;
      const c = clients[Math.floor(Math.random() * clients.length)]!;
      const readTraining = Math.random() < 0.5;
      const outcome = await (readTraining ? pooled.getTraining(c.clientId, tr) : pooled.getClientPII(c.clientId, tr, 'session_planning: pairs test'))
        .then((r) => (r.clientId === c.clientId ? 'read' : 'wrong'), (e) => e.code);
      return { ok: assigned.has(`${tr.id}/${c.clientId}`) ? outcome === 'read' : outcome === 'FORBIDDEN' };
    }));
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });

  it('reads batched into one statement keep each its own actor, row-level security, outcome and audit entry', async () => {
    const batched = makeService(t.db, pii.keys, undefined, { readBatching: { maxInFlight: 1, maxBatch: 64 } });
    const bodies = Array.from({ length: 4 }, (_, i) => clientBody(2100 + i));
    const clients = await Promise.all(bodies.map((b) => pii.createClient(admin, b)));
    const [a, b] = [trainer(), trainer()];
    await pii.assignTrainer(admin, a.id, clients[0]!.clientId);
    await pii.assignTrainer(admin, b.id, clients[1]!.clientId);
    const cases = [
      { actor: a, client: 0, expect: 'read' }, { actor: a, client: 1, expect: 'FORBIDDEN' },
      { actor: b, client: 1, expect: 'read' }, { actor: b, client: 0, expect: 'FORBIDDEN' },
      { actor: admin, client: 2, expect: 'read' }, { actor: b, client: 3, expect: 'FORBIDDEN' },
      { actor: admin, client: -1, expect: 'NOT_FOUND' },
    ];
    const requests = Array.from({ length: 56 }, (_, i) => cases[i % cases.length]!);
    const unknown = randomUUID();
    const idOf = (client: number) => (client < 0 ? unknown : clients[client]!.clientId);
    const { rows: last } = await sql<{ id: number }>`select coalesce(max(id), 0)::int as id from swan_audit_log`.execute(t.admin);
    const got = await Promise.all(requests.map((r) =>
      batched.getClientPII(idOf(r.client), r.actor, { purpose: 'legal_obligation' }).then((p) => (p.email === bodies[r.client]!.pii.email ? 'read' : 'wrong'), (e) => e.code)));
    expect(got).toEqual(requests.map((r) => r.expect));
    const { rows } = await sql<{ resource_id: string; actor_id: string; outcome: string; tx: string }>`
      select resource_id, actor_id, outcome, xmin::text as tx from swan_audit_log
       where id > ${last[0]!.id} and action = 'PII_ACCESS' and reason = 'legal_obligation'`.execute(t.admin);
    const outcomeOf = { read: 'allowed', FORBIDDEN: 'denied', NOT_FOUND: 'not_found' } as const;
    expect(rows.map((r) => `${r.actor_id}/${r.resource_id}/${r.outcome}`).sort())
      .toEqual(requests.map((r) => `${r.actor.id}/${idOf(r.client)}/${outcomeOf[r.expect as keyof typeof outcomeOf]}`).sort());
    // they went as a few statements, not one each: entries share transactions
    expect(new Set(rows.map((r) => r.tx)).size).toBeLessThan(requests.length / 4);

    // a malformed read fails alone: the reads queued with it still succeed
    const mixed = await Promise.all([
      batched.getClientPII(clients[2]!.clientId, admin, 'session_planning: batch neighbour 1'),
      batched.getClientPII(clients[2]!.clientId, admin, 'session_planning: nul \0 in reason'),
      batched.getClientPII(clients[2]!.clientId, { id: 'not-a-uuid', role: 'admin' }, 'session_planning: bad actor'),
      batched.getClientPII(clients[2]!.clientId, ai, 'session_planning: nul \0 from a role that is denied anyway'),
      batched.getClientPII(clients[2]!.clientId, admin, 'session_planning: batch neighbour 2'),
    ].map((p) => p.then((r) => r.email, (e) => e.code)));
    expect(mixed).toEqual([bodies[2]!.pii.email, 'VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', bodies[2]!.pii.email]);
  });

  it('a read whose audit entry fails to commit hands out nothing (rows decrypted during the commit are dropped)', async () => {
    const body = clientBody(41);
    const { clientId } = await pii.createClient(admin, body);
    // a deferred trigger refuses, at commit, the audit entries of one reason
    await sql.raw(`create function test_refuse_at_commit() returns trigger language plpgsql as $$
      begin
        if new.reason = 'security_investigation' then raise exception 'audit storage refused' using errcode = 'check_violation'; end if;
        return null;
      end $$`).execute(t.admin);
    await sql.raw(`create constraint trigger test_refuse_at_commit after insert on swan_audit_log
      deferrable initially deferred for each row execute function test_refuse_at_commit()`).execute(t.admin);
    try {
      const before = (await auditOf(t.admin, clientId)).length;
      const error = await pii.getClientPII(clientId, admin, 'security_investigation: refused at commit').then(() => null, (e: unknown) => e);
      expect(error).toMatchObject({ message: expect.stringContaining('audit storage refused') });
      expect(JSON.stringify(error)).not.toContain(body.pii.full_name);
      expect(await auditOf(t.admin, clientId)).toHaveLength(before);
      expect(await pii.getClientPII(clientId, admin, 'session_planning: allowed again')).toMatchObject({ full_name: body.pii.full_name });
    } finally {
      await sql.raw('drop trigger test_refuse_at_commit on swan_audit_log').execute(t.admin);
      await sql.raw('drop function test_refuse_at_commit()').execute(t.admin);
    }
  });

  it('ciphertext swapped between rows or columns, tampered, or plaintext fails closed', async () => {
    const a = await pii.createClient(admin, clientBody(3000));
    const b = await pii.createClient(admin, clientBody(3001));
    await sql`update client_profile_pii set full_name = (select full_name from client_profile_pii where client_id = ${b.clientId}) where client_id = ${a.clientId}`.execute(t.admin);
    await expect(pii.getClientPII(a.clientId, admin, 'session_planning: swap test')).rejects.toMatchObject({ code: 'PII_DECRYPTION_FAILED' });
    await sql`update client_profile_pii set full_name = preferred_name where client_id = ${b.clientId}`.execute(t.admin);
    await expect(pii.getClientPII(b.clientId, admin, 'session_planning: column swap')).rejects.toMatchObject({ code: 'PII_DECRYPTION_FAILED' });
    const c = await pii.createClient(admin, clientBody(3002));
    await sql`update client_profile_pii set email = set_byte(email, 20, get_byte(email, 20) # 1) where client_id = ${c.clientId}`.execute(t.admin);
    await expect(pii.getClientPII(c.clientId, admin, 'session_planning: tamper')).rejects.toMatchObject({ code: 'PII_DECRYPTION_FAILED' });
    const d = await pii.createClient(admin, clientBody(3003));
    await sql`update client_profile_pii set blood_type = convert_to('O+', 'UTF8') where client_id = ${d.clientId}`.execute(t.admin);
    await expect(pii.getClientPII(d.clientId, admin, 'session_planning: plaintext')).rejects.toMatchObject({ code: 'PII_DECRYPTION_FAILED' });
    const e = await pii.createClient(admin, clientBody(3004));
    await sql`update client_data_keys set master_key_id = 'nope' where client_id = ${e.clientId}`.execute(t.admin);
    await expect(makeService(t.db, pii.keys).getClientPII(e.clientId, admin, 'session_planning: unknown key')).rejects.toMatchObject({ code: 'PII_KEY_UNAVAILABLE' });
    expect((await auditOf(t.admin, d.clientId)).at(-1)).toMatchObject({ action: 'PII_ACCESS', outcome: 'error' });
  });

  it('soft delete hides a client until an admin restores it', async () => {
    const body = clientBody(4000);
    const { clientId } = await pii.createClient(admin, body);
    const tr = trainer();
    await pii.assignTrainer(admin, tr.id, clientId);
    await expect(pii.softDelete(clientId, admin, '')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(pii.softDelete(clientId, tr, 'x')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await pii.softDelete(clientId, admin, 'client paused');
    await expect(pii.getClientPII(clientId, tr, 'session_planning: x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(pii.getTraining(clientId, ai)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await pii.findClientByEmail(body.pii.email, admin)).toBeNull();
    await expect(pii.softDelete(clientId, admin, 'again')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await pii.restore(clientId, admin, 'mistake');
    expect((await pii.getClientPII(clientId, tr, 'session_planning: back')).email).toBe(body.pii.email);
    // a restored client may not take an email that a live client now holds
    await pii.softDelete(clientId, admin, 'again');
    await pii.createClient(admin, { ...clientBody(4001), pii: { ...clientBody(4001).pii, email: body.pii.email } });
    await expect(pii.restore(clientId, admin, 'try')).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('after erase, a snapshot taken before cannot be decrypted for that client; others still can', async () => {
    const keys = LocalKeyProvider.fromEnv(masterKey('e1'));
    const published: { eventType: string; payload: Record<string, unknown> }[] = [];
    const svc = makeService(t.db, keys, undefined, { events: { publish: async (_trx, e) => { published.push(e); return { eventId: randomUUID() }; } } });
    const gone = await svc.createClient(admin, clientBody(5000));
    const kept = await svc.createClient(admin, clientBody(5001));
    const ids = [gone.clientId, kept.clientId];
    const snapshot = {
      pii: (await sql<any>`select * from client_profile_pii where client_id = any(${ids}::uuid[])`.execute(t.admin)).rows,
      keys: (await sql<any>`select * from client_data_keys where client_id = any(${ids}::uuid[])`.execute(t.admin)).rows,
    };
    const erased = await svc.erase(gone.clientId, admin, 'GDPR request');
    expect(erased.clientId).toBe(gone.clientId);
    const { rows } = await sql<any>`select * from client_profile_pii where client_id = ${gone.clientId}`.execute(t.admin);
    expect(rows[0]).toMatchObject({ full_name: null, email: null, email_index: null, phone_index: null, deletion_reason: 'data_subject_request' });
    expect(rows[0].erased_at).not.toBeNull();
    expect(await count(t, 'client_data_keys')).toBeGreaterThan(0);
    expect((await sql`select 1 from client_data_keys where client_id = ${gone.clientId}`.execute(t.admin)).rows).toHaveLength(0);
    expect(published.map((e) => e.eventType)).toEqual(['client_erased']);
    expect(published[0]!.payload).toEqual({ clientId: gone.clientId, alias: gone.alias, erasedAt: erased.erasedAt });
    // decrypt the snapshot through the same provider
    const { decryptField } = await import('@swan/pii');
    const decryptSnapshot = async (clientId: string) => {
      const k = snapshot.keys.find((r: any) => r.client_id === clientId);
      const p = snapshot.pii.find((r: any) => r.client_id === clientId);
      const dk = await keys.unwrap(k.master_key_id, Buffer.from(k.wrapped_key), { clientId });
      return decryptField(dk, p.full_name, { table: 'client_profile_pii', column: 'full_name', clientId });
    };
    await expect(decryptSnapshot(gone.clientId)).rejects.toMatchObject({ code: 'PII_KEY_UNAVAILABLE' });
    expect(await decryptSnapshot(kept.clientId)).toBe((await svc.getClientPII(kept.clientId, admin, 'session_planning: check')).full_name);
    await expect(svc.getClientPII(gone.clientId, admin, 'session_planning: x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(svc.erase(gone.clientId, admin, 'twice')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await auditOf(t.admin, gone.clientId)).map((a) => a.action)).toContain('PII_ERASED');
    // the alias stays on the tombstone until the retention window ends
    expect(await svc.getAlias(gone.clientId, admin)).toBe(gone.alias);
    expect(await svc.releaseErasedAliases(new Date(Date.now() + 31 * 86_400_000))).toBe(1);
    expect(await svc.getAlias(gone.clientId, admin)).toBeNull();
  });

  it('an assignment racing an erasure never outlives it', async () => {
    for (let i = 0; i < 12; i++) {
      const { clientId } = await pii.createClient(admin, clientBody(6000 + i));
      const [erased, assigned] = await Promise.allSettled([pii.erase(clientId, admin, 'race'), pii.assignTrainer(admin, randomUUID(), clientId)]);
      expect(erased.status).toBe('fulfilled');
      if (assigned.status === 'rejected') expect(assigned.reason).toMatchObject({ code: 'NOT_FOUND' });
      const { rows } = await sql`select 1 from trainer_client_assignments where client_id = ${clientId}::uuid`.execute(t.admin);
      expect(rows).toHaveLength(0);
    }
  });

  it('rotates every data key to the newest master key, resumably, and old data still decrypts', async () => {
    const k1 = masterKey('r1');
    const k2 = masterKey('r2');
    const before = makeService(t.db, LocalKeyProvider.fromEnv(k1));
    const made = await Promise.all(Array.from({ length: 7 }, (_, i) => before.createClient(admin, clientBody(6000 + i))));
    const after = makeService(t.db, LocalKeyProvider.fromEnv(`${k1},${k2}`));
    const progress: number[] = [];
    const r = await after.rotateKeys({ batchSize: 3, onProgress: (p) => progress.push(p.done) });
    // other tests' clients are under other keys this provider can't unwrap: they stay and are counted
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from client_data_keys where master_key_id not in ('r1', 'r2')`.execute(t.admin);
    expect(r.rewrapped).toBe(7);
    expect(r.remaining).toBe(Number(rows[0]!.n));
    expect(progress.at(-1)).toBe(7);
    const only2 = makeService(t.db, LocalKeyProvider.fromEnv(k2));
    for (const m of made) expect((await only2.getClientPII(m.clientId, admin, 'session_planning: after rotation')).clientId).toBe(m.clientId);
    expect((await after.rotateKeys()).rewrapped).toBe(0);
  });

  it('exports a client for an admin or the client themself, with the access log and contributors', async () => {
    const body = clientBody(7000);
    const { clientId, alias } = await pii.createClient(admin, body);
    await pii.getClientPII(clientId, admin, 'session_planning: before export');
    const contributor = { name: 'consents', collect: async (_trx: unknown, id: string) => [{ clientId: id, consentType: 'ai_processing' }] };
    const self = { id: clientId, role: 'client' as const };
    const doc = await pii.exportClientData(clientId, self, [contributor]);
    expect(doc).toMatchObject({ clientId, alias, pii: { full_name: body.pii.full_name, email: body.pii.email }, training: { gender: 'female' }, consents: [{ clientId }] });
    expect((doc.accessLog as { action: string }[]).map((a) => a.action)).toEqual(['CLIENT_CREATED', 'PII_ACCESS', 'PII_EXPORT']);
    // the client's own access log: the purpose in plaintext, the sealed note opened
    expect((doc.accessLog as Record<string, unknown>[])[1]).toMatchObject({ action: 'PII_ACCESS', reason: 'session_planning', note: 'before export' });
    expect((await pii.exportClientData(clientId, admin)).clientId).toBe(clientId);
    await expect(pii.exportClientData(clientId, { id: randomUUID(), role: 'client' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(pii.exportClientData(clientId, trainer())).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(pii.exportClientData(randomUUID(), admin)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('keeps the audit chain valid through all of it', async () => {
    expect(await verifyAuditChain(t.db)).toMatchObject({ valid: true });
  });
});
