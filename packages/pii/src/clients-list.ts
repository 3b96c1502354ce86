import { sql } from 'kysely';
import { errors, withActor, type Actor } from '@swan/core';
import { forbidden, type PiiContext } from './context.js';

/** A client's lifecycle state in the admin list. */
export type ClientStatus = 'active' | 'restricted' | 'deleted' | 'erased';

/** One row of the admin client list: alias and state, no PII. */
export interface ClientListEntry {
  clientId: string;
  alias: string | null;
  status: ClientStatus;
  createdAt: string;
}

/** A page of {@link ClientListEntry}; `nextCursor` is `null` on the last page. */
export interface ClientListPage {
  clients: ClientListEntry[];
  nextCursor: string | null;
}

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

const encodeCursor = (createdKey: string, clientId: string) => Buffer.from(`${createdKey}|${clientId}`, 'utf8').toString('base64url');

function decodeCursor(cursor: string): { created: string; clientId: string } {
  const m = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8')) : null;
  if (!m) throw errors.validation('cursor is not a cursor of this list', [{ path: 'cursor', message: 'must be a nextCursor this list returned' }]);
  return { created: m[1]!, clientId: m[2]! };
}

/** `limit` as a query string or number: an integer from 1 to 100 (default 20). */
function limitOf(limit: unknown): number {
  if (limit === undefined || limit === null || limit === '') return 20;
  const n = typeof limit === 'string' && /^\d{1,3}$/.test(limit) ? Number(limit) : limit;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 100) {
    throw errors.validation('limit must be an integer from 1 to 100', [{ path: 'limit', message: 'must be an integer from 1 to 100' }]);
  }
  return n;
}

/** The admin client list. */
export function createClientsList(ctx: PiiContext) {
  /**
   * Every client (live, restricted, soft-deleted, erased tombstones) for an admin, oldest first,
   * with its alias and status only, never PII. Keyset paging: pass the answer's `nextCursor` (an
   * opaque string) to get the next page; `limit` is 1–100 (default 20). A malformed limit or
   * cursor → `VALIDATION_FAILED`.
   *
   * @example
   * ```ts
   * let page = await pii.listClients(admin, { limit: 50 });
   * while (page.nextCursor) page = await pii.listClients(admin, { limit: 50, cursor: page.nextCursor });
   * ```
   */
  async function listClients(actor: Actor, options: { limit?: number | string; cursor?: string | null } = {}): Promise<ClientListPage> {
    if (actor?.role !== 'admin') throw forbidden('Only an admin may list clients');
    const limit = limitOf(options.limit);
    const after = options.cursor === undefined || options.cursor === null || options.cursor === '' ? null : decodeCursor(String(options.cursor));
    const rows = await withActor(ctx.db, actor, async (trx) => (await sql<{
      client_id: string; alias: string | null; created_key: string; created_at: Date; deleted_at: Date | null; erased_at: Date | null; restricted: boolean;
    }>`
      select p.client_id, a.alias, p.created_at, p.deleted_at, p.erased_at,
             to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_key,
             exists (select 1 from client_restrictions r where r.client_id = p.client_id and r.lifted_at is null) as restricted
        from client_profile_pii p left join client_aliases a on a.client_id = p.client_id
       where ${after ? sql`(p.created_at, p.client_id) > (${after.created}::timestamptz, ${after.clientId}::uuid)` : sql`true`}
       order by p.created_at, p.client_id
       limit ${limit + 1}`.execute(trx)).rows);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      clients: page.map((r) => ({
        clientId: r.client_id,
        alias: r.alias,
        status: r.erased_at ? 'erased' : r.deleted_at ? 'deleted' : r.restricted ? 'restricted' : 'active',
        createdAt: new Date(r.created_at).toISOString(),
      })),
      nextCursor: rows.length > limit && last ? encodeCursor(last.created_key, last.client_id) : null,
    };
  }

  return { listClients };
}
