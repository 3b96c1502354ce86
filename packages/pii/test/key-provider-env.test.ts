import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AwsKmsKeyProvider } from '@swan/pii/aws-kms';
import { LocalKeyProvider, indexKeyFromEnv, keyProviderFromEnv } from '@swan/pii';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('keyProviderFromEnv', () => {
  it('reads local master keys from SWAN_MASTER_KEYS, newest last', async () => {
    const keys = await keyProviderFromEnv({ SWAN_MASTER_KEYS: `${key('k1')},${key('k2')}` });
    expect(keys).toBeInstanceOf(LocalKeyProvider);
    expect(keys.currentKeyId).toBe('k2');
    const context = { clientId: '6f1c9a52-3e0b-4d7a-9c61-2b8e5d4f7a10' };
    const dataKey = randomBytes(32);
    const wrapped = await keys.wrap(dataKey, context);
    expect(await keys.unwrap(wrapped.keyId, wrapped.wrapped, context)).toEqual(dataKey);
  });

  it('prefers AWS KMS when SWAN_KMS_KEY_ID is set', async () => {
    const keys = await keyProviderFromEnv({ SWAN_KMS_KEY_ID: 'alias/swan-pii', AWS_REGION: 'eu-west-1', SWAN_MASTER_KEYS: key('k1') });
    expect(keys).toBeInstanceOf(AwsKmsKeyProvider);
    expect(keys.currentKeyId).toBe('alias/swan-pii');
  });

  it('passes the forgotten-clients store on: an erased client stays unreadable', async () => {
    const forgotten = new Set<string>();
    const spec = key('k1');
    const context = { clientId: '6f1c9a52-3e0b-4d7a-9c61-2b8e5d4f7a10' };
    const keys = await keyProviderFromEnv({ SWAN_MASTER_KEYS: spec }, { forgotten });
    const wrapped = await keys.wrap(randomBytes(32), context);
    await keys.forget!(context);
    expect(forgotten.has(context.clientId)).toBe(true);
    const again = await keyProviderFromEnv({ SWAN_MASTER_KEYS: spec }, { forgotten });
    await expect(again.unwrap(wrapped.keyId, wrapped.wrapped, context)).rejects.toMatchObject({ code: 'PII_KEY_UNAVAILABLE' });
  });

  it('refuses missing or malformed keys with CONFIG_INVALID and no key material in the message', async () => {
    await expect(keyProviderFromEnv({})).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('SWAN_MASTER_KEYS') });
    const short = 'k1:c2VjcmV0LXRvby1zaG9ydA==';
    const error = await keyProviderFromEnv({ SWAN_MASTER_KEYS: short }).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    expect((error as Error).message).not.toContain('c2VjcmV0');
  });
});

describe('indexKeyFromEnv', () => {
  it('decodes SWAN_INDEX_KEY and refuses a missing or short key', () => {
    const raw = randomBytes(32);
    expect(indexKeyFromEnv({ SWAN_INDEX_KEY: raw.toString('base64') })).toEqual(raw);
    expect(() => indexKeyFromEnv({})).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => indexKeyFromEnv({ SWAN_INDEX_KEY: randomBytes(16).toString('base64') })).toThrow(/at least 32 bytes/);
  });
});
