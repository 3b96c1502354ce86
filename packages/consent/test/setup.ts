import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll } from 'vitest';
import type { Actor, SwanError, SwanRequest } from '@swan/core';
import { migrations as piiMigrations } from '@swan/pii';
import { insertClientRow, type TestDatabase, type TestEngine } from '@swan/test-utils';
import { createConsent, migrations as consentMigrations, seedConsentVersion30, type ConsentService } from '../src/index.js';

export const sets = [piiMigrations, consentMigrations];

export const admin: Actor = { id: randomUUID(), role: 'admin' };
export const asClient = (clientId: string): Actor => ({ id: clientId, role: 'client' });

/** A minimal client (ciphertext placeholders, a training row), inserted with the owner handle. */
export const createClient = (owner: Kysely<any>): Promise<string> => insertClientRow(owner);

export async function createDb(engine: TestEngine) {
  return engine.create(sets);
}

/**
 * Sets up, for a describe block, a migrated database with consent version 3.0 and a consent
 * service over it; `ready` receives both (and may publish more versions first).
 */
export function withConsentDatabase(engine: TestEngine, ready: (t: TestDatabase, consent: ConsentService) => Promise<void> | void): void {
  let t: TestDatabase | undefined;
  beforeAll(async () => {
    t = await createDb(engine);
    await seedConsentVersion30(t.db);
    await ready(t, createConsent({ db: t.db }));
  });
  afterAll(() => t?.close());
}

/** A framework-free request as the adapters build it. */
export function request(actor: Actor | null, init: Partial<SwanRequest> = {}): SwanRequest {
  return {
    method: 'GET',
    path: '/',
    url: 'http://localhost/',
    params: {},
    query: {},
    headers: { 'user-agent': 'vitest/4' },
    body: undefined,
    actor,
    ip: '203.0.113.9',
    ...init,
  };
}

/** Every ledger row, read with the owner handle (bypasses row-level security). */
export async function ledger(owner: Kysely<any>, clientId?: string) {
  const { rows } = await sql<{ id: string; client_id: string; consent_type: string; consent_version: string; revoked_at: Date | null; revoked_reason: string | null; granted_at: Date }>`
    select id::text, client_id::text, consent_type, consent_version, revoked_at, revoked_reason, granted_at
      from client_consents where ${clientId ?? null}::uuid is null or client_id = ${clientId ?? null}::uuid
     order by granted_at`.execute(owner);
  return rows;
}

/** The error `p` rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<SwanError> {
  try {
    await p;
  } catch (e) {
    return e as SwanError;
  }
  throw new Error('expected a rejection');
}
