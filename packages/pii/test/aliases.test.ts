import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Route, SwanRequest } from '@swan/core';
import { SwanError } from '@swan/core';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import { GALAXY_SWAN_ALIASES, type PiiService, parseAlias, piiRoutes } from '@swan/pii';
import { admin, ai, clientBody, makeService, trainer, withPiiDatabase } from './fixtures.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('the retired naming scheme is gone from code and data', () => {
  it('tracked and new files outside docs/aliases.md and changesets never name the retired scheme', () => {
    // the retired names are assembled here so this file does not contain them either
    const retired = [['spirit', 'name'], ['golden', 'hawk'], ['silver', 'crane'], ['thunder', 'phoenix'], ['mountain', 'bear']].map((w) => w.join(' '));
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
      .split('\n').filter((f) => f && !f.startsWith('.changeset/') && f !== 'docs/aliases.md' && !f.includes('CHANGELOG') && !f.includes('node_modules'));
    expect(files.length).toBeGreaterThan(10);
    const hits: string[] = [];
    for (const f of files) {
      let text: string;
      try { text = readFileSync(`${root}${f}`, 'utf8').toLowerCase(); } catch { continue; }
      for (const name of retired) if (text.includes(name)) hits.push(`${f}: ${name}`);
    }
    expect(hits).toEqual([]);
  });
});

function call(routes: Route[], method: string, path: string, actor: SwanRequest['actor'], body?: unknown, query: Record<string, string> = {}) {
  const route = routes.find((r) => r.method === method && new RegExp(`^${r.path.replace(/:[a-zA-Z]+/g, '[^/]+')}$`).test(path))!;
  const names = [...route.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => m[1]!);
  const values = new RegExp(`^${route.path.replace(/:[a-zA-Z]+/g, '([^/]+)')}$`).exec(path)!.slice(1);
  const params = Object.fromEntries(names.map((n, i) => [n, values[i]!]));
  if (route.access !== 'public' && route.access !== 'authenticated' && !route.access.includes(actor!.role)) return Promise.resolve({ status: 403, body: { success: false } });
  return route.handler({ method, path, url: `http://x${path}`, params, query, headers: {}, body, actor, ip: '127.0.0.1' })
    .catch((e: SwanError) => ({ status: e.code === 'NOT_FOUND' ? 404 : e.code === 'FORBIDDEN' ? 403 : 400, body: { success: false, error: { code: e.code, message: e.message, details: e.details } } }));
}

describe.each(testEngines())('Galaxy-Swan aliases on $name', (engine) => {
  let t: TestDatabase;
  let pii: PiiService;
  withPiiDatabase(engine, (db, service) => ((t = db), (pii = service)));

  it('1,000 clients created concurrently get 1,000 distinct aliases, lowest tiers first', async () => {
    const creators = [pii, makeService(t.connectApp(8), pii.keys)];
    const made = await Promise.all(Array.from({ length: 1000 }, (_, i) => creators[i % 2]!.createClient(admin, clientBody(i))));
    const aliases = made.map((m) => m.alias);
    expect(new Set(aliases).size).toBe(1000);
    const parsed = aliases.map((a) => parseAlias(a));
    expect(parsed.every((p) => p !== null)).toBe(true);
    // 1,000 = 83 full tiers of twelve + 4: every ordinal up to 83 is complete
    const perTier = new Map<number, number>();
    for (const p of parsed) perTier.set(p!.ordinal, (perTier.get(p!.ordinal) ?? 0) + 1);
    for (let o = 1; o <= 83; o++) expect(perTier.get(o)).toBe(GALAXY_SWAN_ALIASES.length);
    expect(aliases).toContain('Nebula Swan II');
  }, 120_000);

  it('an admin can re-assign an alias; taken or unknown aliases are refused', async () => {
    const a = await pii.createClient(admin, clientBody(5000));
    const b = await pii.createClient(admin, clientBody(5001));
    await expect(pii.reassignAlias(admin, a.clientId, b.alias)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(pii.reassignAlias(admin, a.clientId, 'Morning Star')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(pii.reassignAlias(trainer(), a.clientId)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const free = 'Quantum Swan MMM';
    expect(await pii.reassignAlias(admin, a.clientId, free)).toEqual({ clientId: a.clientId, alias: free });
    expect(await pii.getAlias(a.clientId, ai)).toBe(free);
    const r = await pii.reassignAlias(admin, a.clientId);
    expect(r.alias).not.toBe(free);
    expect(parseAlias(r.alias!)).not.toBeNull();
  });

  it('responses other than PII access, and published events, never carry names or emails', async () => {
    const events: unknown[] = [];
    const svc = makeService(t.db, pii.keys, undefined, { events: { publish: async (_trx, e) => { events.push(e); return { eventId: 'e' }; } } });
    const routes = piiRoutes({ service: svc });
    const tr = trainer();
    const bodies = Array.from({ length: 24 }, (_, i) => clientBody(8000 + i));
    const outputs: unknown[] = [];
    const piiOutputs: unknown[] = [];
    for (const [i, b] of bodies.entries()) {
      const created = await call(routes, 'POST', '/api/clients', admin, b);
      expect(created.status).toBe(201);
      outputs.push(created);
      const id = (created.body as { client: { clientId: string } }).client.clientId;
      outputs.push(await call(routes, 'PUT', `/api/trainers/${tr.id}/clients/${id}`, admin));
      outputs.push(await call(routes, 'GET', `/api/clients/${id}/training`, tr));
      outputs.push(await call(routes, 'GET', `/api/clients/${id}/training`, ai));
      outputs.push(await call(routes, 'GET', `/api/clients/${id}/pii`, ai, undefined, { purpose: 'session_planning', reason: 'x' }));
      const denied = await call(routes, 'GET', `/api/clients/${id}/pii`, { id, role: 'client' }, undefined, { purpose: 'session_planning', reason: 'x' });
      expect(denied.status).toBe(403);
      outputs.push(denied);
      outputs.push(await call(routes, 'GET', `/api/clients/${id}/pii`, trainer(), undefined, { purpose: 'session_planning', reason: 'x' }));
      outputs.push(await call(routes, 'POST', '/api/clients', admin, { ...b, pii: { ...b.pii, phone_number: 'call ' + b.pii.full_name } }));
      outputs.push(await call(routes, 'POST', '/api/clients', admin, b)); // duplicate
      const read = await call(routes, 'GET', `/api/clients/${id}/pii`, tr, undefined, { purpose: 'session_planning', reason: 'session' });
      expect(read.status).toBe(200);
      piiOutputs.push(read);
      if (i % 4 === 0) outputs.push(await call(routes, 'DELETE', `/api/clients/${id}`, admin, { reason: 'paused' }));
      if (i % 4 === 1) outputs.push(await call(routes, 'POST', `/api/clients/${id}/erase`, admin, { reason: 'gdpr' }));
    }
    const text = JSON.stringify([outputs, events]);
    for (const b of bodies) {
      for (const v of [b.pii.full_name, b.pii.preferred_name, b.pii.email, b.pii.email.split('@')[0]!]) expect(text).not.toContain(v);
    }
    expect(JSON.stringify(piiOutputs)).toContain(bodies[0]!.pii.full_name);
    expect(events.length).toBe(6); // one client_erased per erased client
    const { rows: deniedAudit } = await sql<{ n: number }>`select count(*)::int as n from swan_audit_log where action = 'PII_ACCESS' and outcome = 'denied' and actor_role = 'client'`.execute(t.admin);
    expect(deniedAudit[0]!.n).toBe(bodies.length);
    const verify = await call(routes, 'GET', '/api/audit/verify', admin);
    expect(verify.body).toMatchObject({ success: true, valid: true });
    expect((await call(routes, 'GET', '/api/clients/not-a-uuid/training', admin)).status).toBe(400);
  });

  it('an erased client keeps its alias until the retention window ends, then frees it', async () => {
    const svc = makeService(t.db, pii.keys, undefined, { aliasRetentionDays: 7 });
    const c = await svc.createClient(admin, clientBody(9000));
    await svc.erase(c.clientId, admin, 'gdpr');
    const { rows } = await sql<{ alias: string }>`select alias from client_aliases where client_id = ${c.clientId}`.execute(t.admin);
    expect(rows[0]!.alias).toBe(c.alias);
    expect(await svc.releaseErasedAliases(new Date(Date.now() + 6 * 86_400_000))).toBe(0);
    expect(await svc.releaseErasedAliases(new Date(Date.now() + 8 * 86_400_000))).toBeGreaterThanOrEqual(1);
    expect((await sql`select 1 from client_aliases where alias = ${c.alias}`.execute(t.admin)).rows).toHaveLength(0);
  });
});
