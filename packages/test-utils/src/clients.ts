import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';

// Client rows as @swan/pii leaves them, for packages whose tests do without PiiService (no keys,
// no encryption: the ciphertext columns hold placeholder bytes). Run with the owner handle.

/** Inserts a live client (PII row, training row, optionally an alias); returns its id. */
export async function insertClientRow(owner: Kysely<any>, options: { alias?: string } = {}): Promise<string> {
  const id = randomUUID();
  await sql`insert into client_profile_pii (client_id, full_name, date_of_birth, email, email_index, encryption_key_id)
            values (${id}::uuid, '\\x01'::bytea, '\\x02'::bytea, '\\x03'::bytea, ${Buffer.from(id)}, 'test')`.execute(owner);
  await sql`insert into client_profile_training (client_id, age) values (${id}::uuid, 30)`.execute(owner);
  if (options.alias) {
    await sql`insert into client_aliases (client_id, alias, alias_ordinal) values (${id}::uuid, ${options.alias}, 1)`.execute(owner);
  }
  return id;
}

/** Soft-deletes (or restores) a client as `PiiService.softDelete` / `restore` do: the PII row and its training mirror. */
export async function setClientDeleted(owner: Kysely<any>, clientId: string, deleted: boolean): Promise<void> {
  await sql`update client_profile_pii set deleted_at = ${deleted ? sql`now()` : null} where client_id = ${clientId}::uuid`.execute(owner);
  await sql`update client_profile_training set deleted_at = ${deleted ? sql`now()` : null} where client_id = ${clientId}::uuid`.execute(owner);
}

/** Erases a client as `PiiService.erase` does to the rows: PII emptied, `erased_at` set, the training row deleted. */
export async function eraseClientRow(owner: Kysely<any>, clientId: string): Promise<void> {
  await sql`update client_profile_pii set full_name = null, date_of_birth = null, email = null, email_index = null,
              deleted_at = coalesce(deleted_at, now()), erased_at = now() where client_id = ${clientId}::uuid`.execute(owner);
  await sql`delete from client_profile_training where client_id = ${clientId}::uuid`.execute(owner);
}
