/**
 * External services for tests. Each URL comes from the environment. Outside CI a missing URL
 * means "test on the embedded engine only"; with CI=true a missing or unreachable service is a
 * failure, never a silent skip.
 */
export const isCI = process.env.CI === 'true';

function serviceUrl(name: 'DATABASE_URL' | 'REDIS_URL' | 'NATS_URL'): string | undefined {
  const url = process.env[name];
  if (!url && isCI) throw new Error(`${name} is not set, and CI=true requires it: start the service and export ${name}`);
  return url || undefined;
}

/** PostgreSQL admin URL (a superuser, e.g. postgres://postgres@127.0.0.1:5432/test). */
export const postgresUrl = () => serviceUrl('DATABASE_URL');
export const redisUrl = () => serviceUrl('REDIS_URL');
export const natsUrl = () => serviceUrl('NATS_URL');
