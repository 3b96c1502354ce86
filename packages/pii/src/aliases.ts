import { randomInt } from 'node:crypto';
import { sql, type Kysely } from 'kysely';

/**
 * The twelve Galaxy-Swan aliases (see docs/aliases.md for why and how new ones are added).
 *
 * @example
 * ```ts
 * GALAXY_SWAN_ALIASES[0]; // 'Nebula Swan'
 * ```
 */
export const GALAXY_SWAN_ALIASES = [
  'Nebula Swan', 'Stellar Swan', 'Cosmic Swan', 'Aurora Swan',
  'Eclipse Swan', 'Constellation Swan', 'Meteor Swan', 'Orbit Swan',
  'Pulsar Swan', 'Quantum Swan', 'Radiant Swan', 'Supernova Swan',
] as const;

const ROMAN: ReadonlyArray<[number, string]> = [
  [1000, 'M'], [900, 'CM'], [500, 'D'], [400, 'CD'], [100, 'C'], [90, 'XC'],
  [50, 'L'], [40, 'XL'], [10, 'X'], [9, 'IX'], [5, 'V'], [4, 'IV'], [1, 'I'],
];

function roman(n: number): string {
  let out = '';
  for (const [value, digits] of ROMAN) for (; n >= value; n -= value) out += digits;
  return out;
}

/**
 * The alias for a base name and ordinal: 1 → "Nebula Swan", 2 → "Nebula Swan II", 14 → "Nebula Swan XIV".
 *
 * @example
 * ```ts
 * aliasName('Nebula Swan', 3); // 'Nebula Swan III'
 * ```
 */
export function aliasName(base: string, ordinal: number): string {
  return ordinal === 1 ? base : `${base} ${roman(ordinal)}`;
}

/**
 * Parses an alias back into base and ordinal; `null` when it is not a Galaxy-Swan alias.
 *
 * @example
 * ```ts
 * parseAlias('Orbit Swan IV'); // { base: 'Orbit Swan', ordinal: 4 }
 * ```
 */
export function parseAlias(alias: string): { base: string; ordinal: number } | null {
  const base = GALAXY_SWAN_ALIASES.find((b) => alias === b || alias.startsWith(`${b} `));
  if (!base) return null;
  if (alias === base) return { base, ordinal: 1 };
  const ordinal = fromRoman(alias.slice(base.length + 1));
  return ordinal !== null && ordinal >= 2 ? { base, ordinal } : null;
}

const ROMAN_DIGITS: Readonly<Record<string, number>> = { I: 1, V: 5, X: 10, L: 50, C: 100, D: 500, M: 1000 };

/** The number a Roman numeral in canonical form stands for (`XIV` → 14); `null` for anything else (`IIII`, `iv`). */
function fromRoman(text: string): number | null {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = ROMAN_DIGITS[text[i]!];
    if (digit === undefined) return null;
    const next = ROMAN_DIGITS[text[i + 1]!] ?? 0;
    n += digit < next ? -digit : digit;
  }
  return n > 0 && roman(n) === text ? n : null;
}

/** The twelve aliases of one ordinal tier, in a cryptographically random order. */
function shuffledTier(ordinal: number): { names: string[]; ordinals: number[] } {
  const names = GALAXY_SWAN_ALIASES.map((b) => aliasName(b, ordinal));
  for (let i = names.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  return { names, ordinals: names.map(() => ordinal) };
}

/**
 * Candidate aliases for one attempt: tier `from` shuffled, then tier `from + 1` shuffled, and so on
 * for `tiers` tiers. The insert takes the first free one, so the pick is uniform among the free
 * names of the lowest open tier in the window.
 */
export function aliasCandidates(from: number, tiers = 2): { names: string[]; ordinals: number[] } {
  const all = Array.from({ length: tiers }, (_, i) => shuffledTier(from + i));
  return { names: all.flatMap((t) => t.names), ordinals: all.flatMap((t) => t.ordinals) };
}

/** Lowest ordinal tier that still has a free alias (one indexed query per tier in use). */
export async function lowestOpenTier(trx: Kysely<any>): Promise<number> {
  const { rows } = await sql<{ tier: number }>`
    select coalesce(min(t), 1)::int as tier
      from generate_series(1, coalesce((select max(alias_ordinal) from client_aliases), 0) + 1) t
     where (select count(*) from client_aliases where alias_ordinal = t) < ${GALAXY_SWAN_ALIASES.length}`.execute(trx);
  return Number(rows[0]?.tier ?? 1);
}

/**
 * SQL that inserts the first free candidate for `clientId`. A name another in-flight creation is
 * claiming (transaction-scoped advisory lock) is skipped instead of waited for, so concurrent
 * creations don't queue behind each other; nothing is inserted when every candidate is taken.
 * `unnest … with ordinality` yields the candidates in order and `limit 1` stops at the first hit,
 * so at most one name is locked per attempt.
 */
export function insertAliasSql(clientId: string, c: { names: string[]; ordinals: number[] }) {
  return sql`insert into client_aliases (client_id, alias, alias_ordinal)
    select ${clientId}::uuid, c.alias, c.ord
      from unnest(${c.names}::text[], ${c.ordinals}::int[]) with ordinality as c(alias, ord, pos)
     where case when exists (select 1 from client_aliases x where x.alias = c.alias) then false
                else pg_try_advisory_xact_lock(1400332656, hashtext(c.alias)) end
     limit 1
    on conflict (alias) do nothing
    returning alias`;
}
