import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { eraseClientRow, setClientDeleted, testEngines, type TestDatabase } from '@swan/test-utils';
import { withActor, type Actor, type EventPublisher } from '@swan/core';
import { checkMasterPrompt, createMasterPromptService, masterPromptExportContributor, MASTER_PROMPT_STORED, type MasterPrompt, type MasterPromptService } from '@swan/schema';
import { actors, assign, createClient, migrationSets } from './harness.js';
import { fullPrompt, invalidCases, validPrompt } from './fixtures.js';
import { masterPromptArbitrary } from './schema-arbitrary.js';

const code = (promise: Promise<unknown>) => promise.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));

describe.each(testEngines())('master prompt storage on $name', (engine) => {
  let t: TestDatabase;
  let service: MasterPromptService;
  let clientId: string;
  const now = new Date('2025-11-06T10:00:00.000Z');

  // A real publisher over a test table: the event commits or rolls back with the write.
  const events: EventPublisher = {
    async publish(trx, event) {
      const { rows } = await sql<{ id: string }>`insert into test_events (type, payload) values (${event.eventType}, ${JSON.stringify(event.payload)}::jsonb) returning id::text`.execute(trx);
      return { eventId: rows[0]!.id };
    },
  };
  const count = async (table: string) => Number((await sql<{ n: string }>`select count(*)::text as n from ${sql.table(table)}`.execute(t.admin)).rows[0]!.n);

  beforeAll(async () => {
    t = await engine.create(migrationSets);
    await sql`create table test_events (id bigint generated always as identity, type text, payload jsonb)`.execute(t.admin);
    await sql`grant select, insert on test_events to swan_app`.execute(t.admin);
    service = createMasterPromptService({ db: t.db, events, now: () => now });
    clientId = await createClient(t.admin, { alias: 'Nebula Swan' });
    await assign(t.admin, actors.trainer.id, clientId);
  });
  afterAll(() => t?.close());

  it('stores versions with server-managed meta and an appended change log', async () => {
    const submitted = validPrompt();
    submitted.meta.client_id = randomUUID(); // the URL names the client
    const first = await service.save(actors.admin, clientId, submitted);
    expect(first).toMatchObject({ clientId, version: 1, schemaVersion: '3.0.0', createdBy: actors.admin.id });
    expect(first.masterPrompt.meta).toMatchObject({
      client_id: clientId,
      client_alias: 'Nebula Swan',
      created_date: '2025-11-04T09:00:00Z',
      last_updated: now.toISOString(),
      last_updated_by: `admin:${actors.admin.id}`,
      change_log: submitted.meta.change_log,
    });
    expect(first.masterPrompt.client_profile).toEqual(submitted.client_profile);

    const update = fullPrompt();
    update.meta.prompt_version = '3.1.0';
    update.meta.created_date = '2030-01-01T00:00:00Z';
    update.meta.change_log = [...update.meta.change_log!, { version: '3.1.0', date: '2025-11-06T09:00:00Z', changes: 'Added movement screen' }];
    const second = await service.save(actors.trainer, clientId, update);
    expect(second.version).toBe(2);
    expect(second.masterPrompt.meta.created_date).toBe('2025-11-04T09:00:00Z');
    expect(second.masterPrompt.meta.last_updated_by).toBe(`trainer:${actors.trainer.id}`);
    expect(second.masterPrompt.meta.change_log).toEqual([
      ...submitted.meta.change_log!,
      { version: '3.1.0', date: now.toISOString(), changes: 'Added movement screen', updated_by: `trainer:${actors.trainer.id}` },
    ]);
    expect(await service.latest(actors.ai, clientId)).toEqual(second);
    expect((await service.history(actors.admin, clientId)).map((r) => r.version)).toEqual([1, 2]);
    const published = (await sql<{ type: string; payload: unknown }>`select type, payload from test_events order by id`.execute(t.admin)).rows;
    expect(published).toEqual([
      { type: MASTER_PROMPT_STORED, payload: { clientId, version: 1, schemaVersion: '3.0.0' } },
      { type: MASTER_PROMPT_STORED, payload: { clientId, version: 2, schemaVersion: '3.0.0' } },
    ]);
  });

  it('lets only admins and assigned trainers write, and readers read', async () => {
    expect(await code(service.save(actors.otherTrainer, clientId, validPrompt()))).toBe('FORBIDDEN');
    expect(await code(service.latest(actors.otherTrainer, clientId))).toBe('FORBIDDEN');
    expect(await code(service.save(actors.ai, clientId, validPrompt()))).toBe('FORBIDDEN');
    expect(await code(service.latest({ id: clientId, role: 'client' }, clientId))).toBe('FORBIDDEN');
    expect(await code(service.save(null, clientId, validPrompt()))).toBe('UNAUTHENTICATED');
    expect(await code(service.save(actors.admin, randomUUID(), validPrompt()))).toBe('NOT_FOUND');
    expect(await code(service.save(actors.admin, 'client-42', validPrompt()))).toBe('NOT_FOUND');
    const empty = await createClient(t.admin);
    expect(await code(service.latest(actors.admin, empty))).toBe('NOT_FOUND');
  });

  it('writes nothing (no row, no event) for a refused document', async () => {
    const before = [await count('client_master_prompts'), await count('test_events')];
    for (const c of invalidCases) expect(await code(service.save(actors.admin, clientId, c.document as MasterPrompt))).toBe(c.code);
    // a stored document must stay valid too: a change log the schema would not accept is refused
    const long = validPrompt();
    long.meta.change_log = Array.from({ length: 1000 }, (_, i) => ({ version: '3.0.0', date: '2025-11-04T09:00:00Z', changes: `c${i}` }));
    const stored = await service.save(actors.admin, clientId, long); // previous log + 1 entry: still ≤ 1000
    expect(stored.masterPrompt.meta.change_log).toHaveLength(3);
    expect([await count('client_master_prompts'), await count('test_events')]).toEqual([before[0]! + 1, before[1]! + 1]);
  });

  it('row-level security: unassigned trainers see nothing, ai_service cannot write', async () => {
    const rows = await withActor(t.db, actors.otherTrainer, (trx) => trx.selectFrom('client_master_prompts').selectAll().execute());
    expect(rows).toEqual([]);
    const insert = (actor: Actor) => withActor(t.db, actor, (trx) => trx.insertInto('client_master_prompts')
      .values({ client_id: clientId, version: 99, schema_version: '3.0.0', document: JSON.stringify(validPrompt()), created_by: actor.id, created_by_role: 'trainer' }).execute());
    expect(await code(insert(actors.otherTrainer))).toBe('42501');
    expect(await code(insert(actors.ai))).toBe('42501');
    const aiRows = await withActor(t.db, actors.ai, (trx) => trx.selectFrom('client_master_prompts').select('version').where('client_id', '=', clientId).execute());
    expect(aiRows.length).toBeGreaterThan(0);
  });

  it('hides a soft-deleted client from trainers and ai_service (a restore shows them again); erasure deletes every version', async () => {
    const id = await createClient(t.admin);
    await assign(t.admin, actors.trainer.id, id);
    await service.save(actors.admin, id, validPrompt());
    await service.save(actors.trainer, id, validPrompt());
    const visible = async () => Promise.all([actors.ai, actors.trainer, actors.admin].map((a) => code(service.latest(a, id))));
    const aiRows = () => withActor(t.db, actors.ai, (trx) => trx.selectFrom('client_master_prompts').select('version').where('client_id', '=', id).execute());
    expect(await visible()).toEqual(['ok', 'ok', 'ok']);

    await setClientDeleted(t.admin, id, true);
    expect(await visible()).toEqual(['NOT_FOUND', 'NOT_FOUND', 'ok']);
    expect(await aiRows()).toEqual([]); // row-level security, not only the service
    await setClientDeleted(t.admin, id, false);
    expect(await visible()).toEqual(['ok', 'ok', 'ok']);

    const others = await count('client_master_prompts');
    await eraseClientRow(t.admin, id);
    expect(await count('client_master_prompts')).toBe(others - 2);
    expect(await code(service.latest(actors.admin, id))).toBe('NOT_FOUND');
    expect((await service.latest(actors.ai, clientId)).clientId).toBe(clientId); // other clients untouched
  });

  it('a save racing an erasure never leaves a version behind', async () => {
    for (let i = 0; i < 16; i++) {
      const id = await createClient(t.admin);
      // started a little later each time, to land inside the save's transaction at different points
      const erase = new Promise((r) => setTimeout(r, i % 8)).then(() => eraseClientRow(t.admin, id));
      const [saved] = await Promise.allSettled([service.save(actors.admin, id, validPrompt()), erase]);
      if (saved.status === 'rejected') expect(saved.reason).toMatchObject({ code: 'NOT_FOUND' });
      expect(Number((await sql<{ n: number }>`select count(*)::int as n from client_master_prompts where client_id = ${id}::uuid`.execute(t.admin)).rows[0]!.n)).toBe(0);
    }
  });

  it('contributes every version to the data-subject export (read as the client)', async () => {
    const exported = await withActor(t.db, { id: clientId, role: 'client' }, (trx) => masterPromptExportContributor.collect(trx, clientId)) as { version: number }[];
    expect(masterPromptExportContributor.name).toBe('masterPrompts');
    expect(exported.map((r) => r.version)).toEqual((await service.history(actors.admin, clientId)).map((r) => r.version));
    const other = await withActor(t.db, { id: randomUUID(), role: 'client' }, (trx) => masterPromptExportContributor.collect(trx, clientId));
    expect(other).toEqual([]);
  });

  it('a valid document round-trips through storage unchanged', async () => {
    // Documents built from the schema's own sections (see schema-arbitrary.ts), one new client per
    // run, so each is a first version: the server only sets its own meta fields.
    await fc.assert(fc.asyncProperty(masterPromptArbitrary, async (d) => {
      expect(checkMasterPrompt(d)).toMatchObject({ ok: true }); // the arbitrary only makes valid prompts
      const submitted = structuredClone(d);
      const roundTripClient = await createClient(t.admin);
      const stored = await service.save(actors.admin, roundTripClient, d);
      expect(d).toEqual(submitted); // the caller's object is not changed either
      const read = await service.latest(actors.ai, roundTripClient);
      expect(read).toEqual(stored);
      const { client_alias: _alias, ...meta } = d.meta;
      expect(read.masterPrompt).toEqual({
        ...d,
        meta: {
          ...meta,
          client_id: roundTripClient,
          last_updated: now.toISOString(),
          last_updated_by: `admin:${actors.admin.id}`,
          change_log: d.meta.change_log?.length
            ? d.meta.change_log
            : [{ version: d.meta.prompt_version, date: now.toISOString(), changes: 'Initial version', updated_by: `admin:${actors.admin.id}` }],
        },
      });
    }), { numRuns: engine.name === 'pglite' ? 25 : 40 });
  });
});
