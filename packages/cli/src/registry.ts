import type { MigrationSet } from '@swan/core';
import { UsageError } from './command.js';

/**
 * The packages whose migrations `swan migrate` can apply, loaded on demand. A package adds one
 * line here (and becomes a dependency of `@swan/cli`).
 *
 * @example
 * ```ts
 * const set = await migrationRegistry.core!();
 * ```
 */
export const migrationRegistry: Record<string, () => Promise<MigrationSet>> = {
  core: async () => (await import('@swan/core')).migrations,
  outbox: async () => (await import('@swan/outbox')).migrations,
  pii: async () => (await import('@swan/pii')).migrations,
  consent: async () => (await import('@swan/consent')).migrations,
  schema: async () => (await import('@swan/schema')).migrations,
  billing: async () => (await import('@swan/billing')).migrations,
  checkins: async () => (await import('@swan/checkins')).migrations,
};

/**
 * Loads the migration sets of `names` plus everything they depend on (core always), checking
 * each name against {@link migrationRegistry}.
 *
 * @example
 * ```ts
 * await migrate(db, await resolveMigrationSets(['pii']));  // core and pii
 * ```
 */
export async function resolveMigrationSets(names: readonly string[], registry = migrationRegistry): Promise<MigrationSet[]> {
  const loaded = new Map<string, MigrationSet>();
  const load = async (name: string, wantedBy?: string): Promise<void> => {
    if (loaded.has(name)) return;
    const loader = registry[name];
    if (!loader) {
      const known = Object.keys(registry).join(', ');
      throw new UsageError(`Unknown package "${name}"${wantedBy ? ` (needed by ${wantedBy})` : ''}; known: ${known}`);
    }
    const set = await loader();
    loaded.set(name, set);
    for (const dep of ['core', ...(set.dependsOn ?? [])]) await load(dep, name);
  };
  for (const name of names) await load(name);
  return [...loaded.values()];
}
