import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutbox } from '@swan/outbox';
import { swan, targets, using, type Target } from './harness.js';

describe.each(targets)('swan outbox stats|dead|redrive on $name', ({ create }) => {
  let target: Target;
  beforeAll(async () => {
    target = await create();
    const r = await swan(['migrate', '--packages', 'outbox', ...target.args]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => target.dispose());

  it('reports, lists and redrives dead letters', async () => {
    const [a, b] = await using(target.openApp, (db) =>
      db.transaction().execute((trx) =>
        createOutbox({ db }).publishMany(trx, [{ eventType: 'client_erased', payload: { clientId: randomUUID() } }, { eventType: 'client_erased', payload: { clientId: randomUUID() } }])));
    await using(target.open, (owner) =>
      sql`update swan_outbox set status = 'dead', attempts = max_attempts, last_error = 'Error: boom' where event_id = ${a!.eventId}::uuid`.execute(owner));

    const stats = await swan(['outbox', 'stats', ...target.appArgs]);
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.json()).toMatchObject({ byStatus: { pending: 1, dead: 1 }, dead: 1 });
    const dead = await swan(['outbox', 'dead', ...target.appArgs]);
    expect(dead.json()).toEqual([expect.objectContaining({ eventId: a!.eventId, lastError: 'Error: boom', attempts: 5 })]);
    expect((await swan(['outbox', 'dead', '--event-type', 'consent_granted', ...target.appArgs])).json()).toEqual([]);
    expect((await swan(['outbox', 'dead', '--limit', '0', ...target.appArgs])).code).toBe(2);

    const notDead = await swan(['outbox', 'redrive', b!.eventId, ...target.appArgs]);
    expect({ code: notDead.code, json: notDead.json() }).toEqual({ code: 1, json: { redriven: [], notDead: [b!.eventId] } });
    const redriven = await swan(['outbox', 'redrive', a!.eventId, ...target.appArgs]);
    expect({ code: redriven.code, json: redriven.json() }).toEqual({ code: 0, json: { redriven: [a!.eventId], notDead: [] } });
    expect((await swan(['outbox', 'stats', ...target.appArgs])).json()).toMatchObject({ byStatus: { pending: 2, dead: 0 } });
    expect((await swan(['outbox', 'redrive', ...target.appArgs])).code).toBe(2);
  });
});
