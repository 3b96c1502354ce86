import { existsSync } from 'node:fs';

/**
 * External services for tests. Each URL comes from the environment. Outside CI a missing URL
 * means "test on the embedded engine only"; with CI=true a missing or unreachable service is a
 * failure, never a silent skip. The environment is read at each call.
 */
export const isCI = (): boolean => process.env.CI === 'true';

function serviceUrl(name: 'DATABASE_URL' | 'REDIS_URL' | 'NATS_URL'): string | undefined {
  const url = process.env[name];
  if (!url && isCI()) throw new Error(`${name} is not set, and CI=true requires it: start the service and export ${name}`);
  return url || undefined;
}

/** PostgreSQL admin URL (a superuser, e.g. postgres://postgres@127.0.0.1:5432/test). */
export const postgresUrl = () => serviceUrl('DATABASE_URL');
export const redisUrl = () => serviceUrl('REDIS_URL');
export const natsUrl = () => serviceUrl('NATS_URL');

/**
 * Path of the headless Chromium that browser tests drive with playwright-core (`CHROMIUM_PATH`,
 * default Debian's `/usr/bin/chromium`). With CI=true a missing browser is a failure; elsewhere
 * the browser tests are skipped with a warning, so `pnpm test` runs on a machine without it.
 *
 * @example
 * ```ts
 * const browser = chromiumPath();
 * describe.skipIf(!browser)('the pricing page', () => { … chromium.launch({ executablePath: browser }) … });
 * ```
 */
export function chromiumPath(): string | undefined {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (existsSync(path)) return path;
  if (isCI()) throw new Error(`${path} is missing, and CI=true requires it for the browser tests: apt-get install chromium`);
  console.warn(`[swan tests] ${path} not found: browser tests are skipped (apt-get install chromium, or set CHROMIUM_PATH)`);
  return undefined;
}
