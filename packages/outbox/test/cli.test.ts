import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { createOutbox, migrations } from '@swan/outbox';
import { outboxDeadCommand, outboxRedriveCommand, outboxStatsCommand } from '../../cli/src/commands/outbox-admin.js';

const postgres = testEngines().find((e) => e.name === 'postgres');

describe.skipIf(!postgres)('swan outbox stats|dead|redrive', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await postgres!.create([migrations]);
  });
  afterAll(() => t?.close());

  const run = async (command: typeof outboxStatsCommand, positionals: string[] = [], values: Record<string, string> = {}) => {
    let out = '';
    const code = await command.run({ values: { 'database-url': t.appUrl!, limit: '100', ...values }, positionals, io: { stdout: (s) => (out += s), stderr: () => undefined, env: {} } });
    return { code, json: JSON.parse(out) };
  };

  it('reports, lists and redrives dead letters', async () => {
    const outbox = createOutbox({ db: t.db });
    const [a, b] = await t.db.transaction().execute((trx) =>
      outbox.publishMany(trx, [{ eventType: 'client_erased', payload: { clientId: randomUUID() } }, { eventType: 'client_erased', payload: { clientId: randomUUID() } }]));
    await sql`update swan_outbox set status = 'dead', attempts = max_attempts, last_error = 'Error: boom' where event_id = ${a!.eventId}::uuid`.execute(t.admin);

    const stats = await run(outboxStatsCommand);
    expect(stats.json).toMatchObject({ byStatus: { pending: 1, dead: 1 }, dead: 1 });
    const dead = await run(outboxDeadCommand);
    expect(dead.json).toEqual([expect.objectContaining({ eventId: a!.eventId, lastError: 'Error: boom', attempts: 5 })]);

    const notDead = await run(outboxRedriveCommand, [b!.eventId]);
    expect(notDead).toEqual({ code: 1, json: { redriven: [], notDead: [b!.eventId] } });
    const redriven = await run(outboxRedriveCommand, [a!.eventId]);
    expect(redriven).toEqual({ code: 0, json: { redriven: [a!.eventId], notDead: [] } });
    expect((await run(outboxStatsCommand)).json).toMatchObject({ byStatus: { pending: 2, dead: 0 } });
  });
});
