import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { sql, type Kysely } from 'kysely';
import type { Actor } from '@swan/core';
import type { TestDatabase, TestEngine } from '@swan/test-utils';
import { createPii, LocalKeyProvider, migrations, type KeyProvider, type PiiService, type PiiServiceOptions } from '@swan/pii';

export const admin: Actor = { id: randomUUID(), role: 'admin' };
export const ai: Actor = { id: randomUUID(), role: 'ai_service' };
export const trainer = (): Actor => ({ id: randomUUID(), role: 'trainer' });

export const masterKey = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

export function makeService(db: Kysely<any>, keys: KeyProvider = LocalKeyProvider.fromEnv(masterKey('k1')), indexKey = randomBytes(32), extra: Partial<PiiServiceOptions> = {}) {
  return createPii({ db, keys, indexKey, ...extra });
}

/** Before the block's tests, a migrated database of `engine` and a service on it (handed to `ready`); closed after them. */
export function withPiiDatabase(engine: TestEngine, ready: (t: TestDatabase, pii: PiiService) => void): void {
  let t: TestDatabase | undefined;
  beforeAll(async () => {
    t = await engine.create([migrations]);
    ready(t, makeService(t.db));
  });
  afterAll(() => t?.close());
}

const FIRST = ['Amara', 'Björn', 'Chidi', 'Dana', 'Élodie', 'Farid', 'Greta', 'Hiroshi', 'Ines', 'José', 'Kalani', 'Ließchen'];
const LAST = ['Okafor', 'Lindqvist', 'Nakamura', 'García', 'Kowalski', 'Haddad', 'Møller', 'Zhang'];

/** A generated client body with values unique to `n` and a random tag (so plaintext searches can't collide). */
export function clientBody(n: number, tag = randomBytes(4).toString('hex')) {
  const full = `${FIRST[n % FIRST.length]} ${LAST[n % LAST.length]}-${tag}${n}`;
  return {
    pii: {
      full_name: full,
      preferred_name: `Pref${tag}${n}`,
      date_of_birth: `19${50 + (n % 49)}-0${1 + (n % 9)}-1${n % 9}`,
      email: `user${n}.${tag}@example.com`,
      phone_number: `+1213${String(3000000 + n).padStart(7, '0')}`,
      blood_type: 'O+',
      emergency_contact: { name: `Kin${tag}${n}`, relationship: 'sibling', phone: '+12025550123' },
      address: { street: `${n} Street${tag}`, city: 'Springfield', state: 'CA', zip: '90001' },
    },
    training: { gender: 'female', height_inches: 66, weight_lbs: 150.5, training_goals: ['strength'], training_tier: 'tier_2' as const },
  };
}

/** The audit entries about one client, oldest first (read as the owner). */
export const auditOf = async (db: Kysely<any>, clientId: string) =>
  (await sql<{ action: string; outcome: string; actor_id: string | null; reason: string | null; details: Record<string, unknown> }>`
    select action, outcome, actor_id, reason, details from swan_audit_log where resource_id = ${clientId} order by id`.execute(db)).rows;
