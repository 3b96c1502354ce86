import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { appendAudit, auditHash, chainAuditLog, pruneAuditLog, verifyAuditChain, withActor, type Actor } from '@swan/core';

const admin: Actor = { id: randomUUID(), role: 'admin' };

/** Runs `statement` as a superuser with triggers off, the way an attacker with the owner's keys would. */
async function tamper(db: Kysely<any>, statement: string) {
  await db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    await sql.raw(statement).execute(trx);
  });
}

async function append(db: Kysely<any>, n: number, action: string) {
  for (let i = 0; i < n; i++) await withActor(db, admin, (trx) => appendAudit(trx, { actor: admin, action, resource: 'r', details: { i } }));
  await chainAuditLog(db);
}

const count = async (db: Kysely<any>) =>
  (await sql<{ log: number; chain: number }>`select (select count(*)::int from swan_audit_log) as log, (select count(*)::int from swan_audit_chain) as chain`.execute(db)).rows[0]!;

const idsBySeq = async (db: Kysely<any>) =>
  (await sql<{ id: number }>`select entry_id as id from swan_audit_chain order by chain_seq`.execute(db)).rows.map((r) => Number(r.id));

describe.each(testEngines())('audit retention on $name', (engine) => {
  let t: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    t = await engine.create();
    dir = mkdtempSync(join(tmpdir(), 'swan-audit-'));
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prunes the prefix before the cut-off, exports it with its SHA-256, and verify is exact from the checkpoint', async () => {
    await append(t.db, 30, 'OLD_ENTRY');
    await new Promise((r) => setTimeout(r, 20));
    const cut = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await append(t.db, 10, 'NEW_ENTRY');
    expect(await verifyAuditChain(t.db)).toEqual({ valid: true, entries: 40 });

    expect(await pruneAuditLog(t.db, { before: cut, dryRun: true })).toMatchObject({ removed: 30, checkpoint: null });
    expect(await count(t.db)).toEqual({ log: 40, chain: 40 });

    const file = join(dir, 'segment.jsonl');
    const result = await pruneAuditLog(t.db, { before: cut, exportTo: file, batchSize: 7 }); // 5 batches: 7,7,7,7,2
    expect(result.removed).toBe(30);
    expect(result.checkpoint?.chainSeq).toBe(30);
    // the table shrinks to what the window keeps
    expect(await count(t.db)).toEqual({ log: 10, chain: 10 });
    const { rows: left } = await sql<{ action: string }>`select distinct action from swan_audit_log`.execute(t.db);
    expect(left.map((r) => r.action)).toEqual(['NEW_ENTRY']);

    // the export: 30 lines, its SHA-256 in the result and in every checkpoint of the run; the lines recompute the chain
    const text = readFileSync(file, 'utf8');
    expect(createHash('sha256').update(text).digest('hex')).toBe(result.exportSha256);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(30);
    let prev = '0'.repeat(64);
    for (const line of lines) {
      expect(line.prev_hash).toBe(prev);
      expect(auditHash(line, prev)).toBe(line.hash);
      prev = line.hash;
    }
    expect(prev).toBe(result.checkpoint?.hash);
    const { rows: cps } = await sql<{ chain_seq: string; first_seq: string; entries: string; export_sha256: string }>`
      select chain_seq, first_seq, entries, export_sha256 from swan_audit_checkpoint order by chain_seq`.execute(t.db);
    expect(cps.map((c) => [Number(c.first_seq), Number(c.chain_seq), Number(c.entries)])).toEqual([[1, 7, 7], [8, 14, 7], [15, 21, 7], [22, 28, 7], [29, 30, 2]]);
    expect(new Set(cps.map((c) => c.export_sha256))).toEqual(new Set([result.exportSha256]));

    expect(await verifyAuditChain(t.db)).toEqual({ valid: true, entries: 10, checkpoint: result.checkpoint });
    // a second run finds nothing more; new entries chain on from the head
    expect((await pruneAuditLog(t.db, { before: cut })).removed).toBe(0);
    await append(t.db, 3, 'NEWER_ENTRY');
    expect(await verifyAuditChain(t.db)).toMatchObject({ valid: true, entries: 13 });
  });

  it('the application role can neither delete entries nor forge a checkpoint; the owner cannot delete past the checkpoint', async () => {
    const [firstKept] = await idsBySeq(t.admin);
    if (engine.name === 'postgres') {
      // privileges hold for swan_app (PGlite's one session is a superuser: no security boundary, see DESIGN rule 2)
      await expect(sql`delete from swan_audit_log where id = ${firstKept}`.execute(t.db)).rejects.toThrow(/denied/);
      await expect(sql`insert into swan_audit_checkpoint (chain_seq, hash, first_seq, entries) values (1000, 'x', 1, 1)`.execute(t.db)).rejects.toThrow(/denied/);
    }
    // the owner: the trigger refuses entries and links the checkpoint does not cover
    await expect(sql`delete from swan_audit_log where id = ${firstKept}`.execute(t.admin)).rejects.toThrow(/append-only/);
    await expect(sql`delete from swan_audit_chain where entry_id = ${firstKept}`.execute(t.admin)).rejects.toThrow(/append-only/);
    await expect(sql`update swan_audit_checkpoint set hash = 'x'`.execute(t.admin)).rejects.toThrow(/append-only/);
    // pruning with a hash other than the chain's is refused, nothing removed
    const before = await count(t.db);
    await expect(sql`select swan_audit_prune(35, ${'f'.repeat(64)}, null)`.execute(t.db)).rejects.toThrow(/verified hash/);
    expect(await count(t.db)).toEqual(before);
    expect(await verifyAuditChain(t.db)).toMatchObject({ valid: true });
  });

  it('deleting an entry after the checkpoint by other means (a superuser, triggers off) is still found', async () => {
    const ids = await idsBySeq(t.admin);
    await tamper(t.admin, `delete from swan_audit_log where id = ${ids[0]}`);
    await tamper(t.admin, `delete from swan_audit_chain where entry_id = ${ids[0]}`);
    const result = await verifyAuditChain(t.db);
    expect(result).toMatchObject({ valid: false, firstBrokenId: ids[1] });
    // and pruning refuses to hide it
    await expect(pruneAuditLog(t.db, { before: new Date(Date.now() + 60_000) })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('a tampered entry inside the segment to prune is refused before anything is removed', async () => {
    const fresh = await engine.create();
    try {
      await append(fresh.db, 5, 'E');
      const ids = await idsBySeq(fresh.admin);
      await tamper(fresh.admin, `update swan_audit_log set reason = 'forged' where id = ${ids[2]}`);
      await expect(pruneAuditLog(fresh.db, { before: new Date(Date.now() + 60_000) })).rejects.toThrow(/broken at entry/);
      expect(await count(fresh.db)).toEqual({ log: 5, chain: 5 });
    } finally {
      await fresh.close();
    }
  });
});
