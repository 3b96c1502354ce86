import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { createPii, indexKeyFromEnv, keyProviderFromEnv, migrations, piiRoutes, type ForgottenClients, type KeyProvider } from '@swan/pii';
import type { ServerConfig, ServerModule } from './types.js';

/** Erased client ids, one a line in a file, so a restarted server still refuses their old keys. */
function forgottenFile(path: string): ForgottenClients {
  const ids = new Set(existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);
  return {
    has: (id) => ids.has(id),
    add: (id) => {
      if (ids.has(id)) return;
      ids.add(id);
      appendFileSync(path, `${id}\n`, { mode: 0o600 });
    },
  };
}

/**
 * Development keys, generated once and kept in `DATA_DIR/swan-dev-keys.json` (mode 600) so a
 * restarted development server can still decrypt what it wrote. Never used in production.
 */
function developmentKeys(dir: string): { masterKeys: string; indexKey: string } {
  const file = join(dir, 'swan-dev-keys.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { masterKeys: string; indexKey: string };
  const keys = { masterKeys: `dev1:${randomBytes(32).toString('base64')}`, indexKey: randomBytes(32).toString('base64') };
  writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  return keys;
}

async function keysFrom(config: ServerConfig, warn: (m: string) => void): Promise<{ keys: KeyProvider; indexKey: Buffer }> {
  const env = { ...config.env };
  const dir = resolve(config.dataDir);
  mkdirSync(dir, { recursive: true });
  const forgotten = forgottenFile(join(dir, 'swan-erased-clients.txt'));
  if ((!env.SWAN_MASTER_KEYS && !env.SWAN_KMS_KEY_ID) || !env.SWAN_INDEX_KEY) {
    // loadConfig has already refused this in production
    const dev = developmentKeys(dir);
    env.SWAN_MASTER_KEYS ||= dev.masterKeys;
    env.SWAN_INDEX_KEY ||= dev.indexKey;
    warn(`pii: DEVELOPMENT KEYS in ${join(dir, 'swan-dev-keys.json')} — set SWAN_MASTER_KEYS and SWAN_INDEX_KEY; data written now is only as safe as that file. Development keys are per data directory: instances of one deployment must share SWAN_MASTER_KEYS and SWAN_INDEX_KEY, or none can read what another wrote`);
  }
  return { keys: await keyProviderFromEnv(env, { forgotten }), indexKey: indexKeyFromEnv(env) };
}

/**
 * PII of the example server: keys from `SWAN_MASTER_KEYS` / `SWAN_INDEX_KEY` (or `SWAN_KMS_KEY_ID`
 * for AWS KMS), development keys persisted in `DATA_DIR` with a loud warning when unset, the
 * client/PII/training/erase/export/audit routes of API.md, `ctx.services.pii` for later modules
 * (check-ins find a client by phone and read a number with an audited, purpose-stated access),
 * and a daily release of erased clients' aliases after the retention window (the
 * `pii_alias_release` schedule, 04:00 UTC, once across instances).
 */
export const piiModule: ServerModule = {
  name: 'pii',
  migrations: [migrations],
  async setup(ctx) {
    const { keys, indexKey } = await keysFrom(ctx.config, (m) => ctx.logger.warn(m));
    const service = createPii({ db: ctx.db, keys, indexKey, erasureParticipants: () => ctx.erasureParticipants, ...(ctx.events ? { events: ctx.events } : {}) });
    ctx.services.pii = service;
    ctx.schedule?.({ name: 'pii_alias_release', cron: '0 4 * * *', eventType: 'pii_alias_release', backfill: 86_400_000 }, async () => {
      const n = await service.releaseErasedAliases();
      if (n) ctx.logger.info('pii: released aliases of erased clients', { count: n });
    });
    const general = ctx.rateLimit?.('general');
    return {
      routes: piiRoutes({ service, exportContributors: () => ctx.exportContributors, ...(general ? { guards: [general] } : {}) }),
    };
  },
};
