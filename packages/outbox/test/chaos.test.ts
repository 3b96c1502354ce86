import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, testEngines, type TestDatabase } from '@swan/test-utils';
import { createOutbox, migrations } from '@swan/outbox';

const N = Number(process.env.OUTBOX_CHAOS_EVENTS ?? 20_000);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));
const postgres = testEngines().find((e) => e.name === 'postgres');

interface Proc {
  child: ChildProcess;
  owner: Promise<string>;
}

function spawnWorker(url: string): Proc {
  // node itself with tsx's loader (the tsx CLI forks a child that SIGKILL would not reach)
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: root,
    env: { ...process.env, OUTBOX_DB_URL: url, TSX_TSCONFIG_PATH: `${root}tsconfig.json` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const owner = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
  });
  owner.catch(() => undefined);
  return { child, owner };
}

describe.skipIf(!postgres || !postgresUrl())('outbox chaos on postgres', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await postgres!.create([migrations]);
    await sql`create table chaos_runs (event_id uuid not null, owner text not null, at timestamptz not null default clock_timestamp())`.execute(t.admin);
    await sql`grant insert on chaos_runs to swan_app`.execute(t.admin);
  });
  afterAll(() => t?.close());

  it(`drains ${N} events with 4 worker processes while one is SIGKILLed every 2 s`, { timeout: 180_000 }, async () => {
    const outbox = createOutbox({ db: t.db });
    for (let i = 0; i < N; i += 2000) {
      const chunk = Array.from({ length: Math.min(2000, N - i) }, () => ({ eventType: 'client_erased' as const, payload: { clientId: randomUUID() } }));
      await t.db.transaction().execute((trx) => outbox.publishMany(trx, chunk));
    }
    const url = t.appUrl!;
    const procs = Array.from({ length: 4 }, () => spawnWorker(url));
    await Promise.all(procs.map((p) => p.owner));
    const killed = new Set<string>();
    const completed = async () =>
      Number((await sql<{ n: number }>`select count(*) as n from swan_outbox where status = 'completed'`.execute(t.admin)).rows[0]!.n);
    const started = Date.now();
    let kills = 0;
    try {
      let lastKill = Date.now();
      while ((await completed()) < N) {
        if (Date.now() - started > 150_000) throw new Error('drain did not finish');
        if (Date.now() - lastKill > 2000) {
          const victim = procs.splice(Math.floor(Math.random() * procs.length), 1)[0]!;
          killed.add(await victim.owner);
          victim.child.kill('SIGKILL');
          kills++;
          lastKill = Date.now();
          procs.push(spawnWorker(url));
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await Promise.all(
        procs.map((p) => new Promise<void>((resolve) => {
          if (p.child.exitCode !== null) return resolve();
          p.child.once('exit', () => resolve());
          p.child.kill('SIGTERM');
        })),
      );
    }
    console.log(`chaos: ${N} events drained in ${Date.now() - started} ms with ${kills} SIGKILLs`);
    expect(kills).toBeGreaterThanOrEqual(3);

    const { rows: [summary] } = await sql<{ total: number; completed: number; attempts: number }>`
      select count(*) as total, count(*) filter (where status = 'completed') as completed, coalesce(sum(attempts), 0) as attempts
        from swan_outbox`.execute(t.admin);
    expect(Number(summary!.total)).toBe(N);
    expect(Number(summary!.completed)).toBe(N); // none lost, none dead (handlers never fail)
    expect(Number(summary!.attempts)).toBe(0); // no crash burned a failure attempt

    const { rows: runs } = await sql<{ event_id: string; owners: string[] }>`
      select o.event_id, coalesce(array_agg(r.owner) filter (where r.owner is not null), '{}') as owners
        from swan_outbox o left join chaos_runs r on r.event_id = o.event_id group by o.event_id`.execute(t.admin);
    expect(runs.length).toBe(N);
    const neverRun = runs.filter((r) => r.owners.length === 0);
    expect(neverRun).toEqual([]);
    // A second run happens only after a killed process held the lease: per event, at most one
    // run by a process that was not killed, and every extra run is by a killed one.
    const badDuplicates = runs.filter((r) => r.owners.length > 1 && r.owners.filter((o) => !killed.has(o)).length > 1);
    expect(badDuplicates).toEqual([]);
    const duplicates = runs.filter((r) => r.owners.length > 1).length;
    console.log(`chaos: ${duplicates} events ran more than once, all after their holder was killed`);
  });
});
