import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '@swan/core';
import { createOutbox } from '@swan/outbox';
import { postgresUrl, testEngines, type TestDatabase } from '@swan/test-utils';
import { ensureBuilt, root } from './build.js';

const cli = join(root, 'packages/cli/dist/cli.js');
const handlersFile = join(root, 'examples/server/dist/handlers.js');
const postgres = postgresUrl() ? testEngines().find((e) => e.name === 'postgres') : undefined;

/** The CLI, the server's handlers file and the packages they use, built when older than their sources. */
const ensureWorkerBuilt = () => ensureBuilt(['packages/cli/dist/cli.js', 'examples/server/dist/handlers.js'],
  ['packages/outbox', 'packages/cli', 'examples/server/src', 'migrations/outbox'], ['@swan/example-server', '@swan/cli']);

// RUN_WORKERS=false on the web server; the handlers run in `swan outbox work` (docs/deployment.md).
describe.runIf(postgres)('swan outbox work --handlers examples/server/dist/handlers.js', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    ensureWorkerBuilt();
    t = await postgres!.create([]); // empty: the handlers module migrates as the server does on boot
  }, 300_000);
  afterAll(() => t?.close());

  it('runs the in-process handlers in a separate worker process, drains the events and exits 0 on SIGTERM', { timeout: 90_000 }, async () => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', NODE_ENV: 'development', DATABASE_URL: t.adminUrl! };
    const child = spawn(process.execPath, [cli, 'outbox', 'work', '--handlers', handlersFile, '--database-url', t.appUrl!, '--poll-ms', '200'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const running = new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += String(d);
        const m = /outbox worker \S+ running: (.*)\n/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`swan outbox work exited with ${code}: ${stderr}`)));
    });
    const db = createDatabase({ url: t.appUrl!, poolSize: 2 });
    try {
      const types = (await running).split(', ');
      // the same handlers the server's in-process workers run: check-ins and the AI queue
      expect(types).toEqual(expect.arrayContaining(['morning_checkin_scheduled', 'evening_checkin_scheduled', 'ai_query_submitted', 'photo_analysis_requested', 'retention_run', 'audit_chain_verify']));

      const outbox = createOutbox({ db });
      const clientId = randomUUID();
      const published = await db.transaction().execute((trx) =>
        outbox.publishMany(trx, [
          ...Array.from({ length: 20 }, () => ({ eventType: 'ai_query_submitted' as const, payload: { clientId } })),
          ...Array.from({ length: 5 }, () => ({ eventType: 'photo_analysis_requested' as const, payload: { clientId } })),
          // no Twilio configured: the check-in handler refuses the send for good (dead letter with its reason)
          { eventType: 'morning_checkin_scheduled' as const, payload: { clientId, scheduledFor: new Date().toISOString(), timezone: 'UTC' } },
        ]),
      );
      const checkin = published.at(-1)!.eventId;
      const end = Date.now() + 30_000;
      for (;;) {
        const { rows } = await sql<{ n: number }>`select count(*) as n from swan_outbox where status in ('pending', 'processing') and coalesce(idempotency_key, '') not like 'schedule:%'`.execute(t.admin);
        if (Number(rows[0]!.n) === 0) break;
        if (Date.now() > end) throw new Error(`events not drained: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const { rows } = await sql<{ event_id: string; event_type: string; status: string; last_error: string | null }>`
        select event_id, event_type, status, last_error from swan_outbox where coalesce(idempotency_key, '') not like 'schedule:%'`.execute(t.admin);
      expect(rows.filter((r) => r.event_type !== 'morning_checkin_scheduled').every((r) => r.status === 'completed')).toBe(true);
      const sms = rows.find((r) => r.event_id === checkin)!;
      expect(sms.status).not.toBe('pending'); // the check-in handler ran in the worker process
      expect(sms.last_error ?? '').not.toMatch(/No handler/);
    } finally {
      await db.destroy();
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/stopping: finishing running handlers/);
    // the server's schedules are queued by the worker process too (their next occurrences wait, pending)
    expect(stderr).toMatch(/outbox schedules queued: retention, audit_chain_verify, pii_alias_release/);
  });
});
