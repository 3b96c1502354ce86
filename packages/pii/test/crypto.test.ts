import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KMSClient } from '@aws-sdk/client-kms';
import { AwsKmsKeyProvider } from '@swan/pii/aws-kms';
import {
  BlindIndex, LocalKeyProvider, aliasName, decryptField, encryptField, normalizeEmail, normalizePhone, parseAlias, parseMasterKeys,
} from '@swan/pii';

const bind = { table: 'client_profile_pii', column: 'full_name', clientId: '6f1c1f6e-0c1b-4c1e-9a7e-2f7f9f0c1a11' };

describe('field encryption', () => {
  it('round-trips arbitrary Unicode', () => {
    const key = randomBytes(32);
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.string({ unit: 'binary' }), (text, column) => {
      const b = { ...bind, column };
      expect(decryptField(key, encryptField(key, 1, text, b), b)).toBe(text);
    }), { numRuns: 300 });
  });

  it('fails closed on any flipped byte, another row or column, another key, and plaintext', () => {
    const key = randomBytes(32);
    const c = encryptField(key, 1, 'Ada Lovelace', bind);
    fc.assert(fc.property(fc.integer({ min: 0, max: c.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const t = Buffer.from(c);
      t[i] = t[i]! ^ x;
      expect(() => decryptField(key, t, bind)).toThrow(expect.objectContaining({ code: 'PII_DECRYPTION_FAILED' }));
    }), { numRuns: 200 });
    expect(() => decryptField(key, c, { ...bind, column: 'email' })).toThrow(/failed to decrypt/);
    expect(() => decryptField(key, c, { ...bind, clientId: '6f1c1f6e-0c1b-4c1e-9a7e-2f7f9f0c1a12' })).toThrow(/failed to decrypt/);
    expect(() => decryptField(randomBytes(32), c, bind)).toThrow(/failed to decrypt/);
    expect(() => decryptField(key, Buffer.from('Ada Lovelace plain text stored here'), bind)).toThrow(/failed to decrypt/);
    expect(() => decryptField(key, Buffer.alloc(0), bind)).toThrow(/failed to decrypt/);
  });

  it('every ciphertext and wrapped key gets its own nonce, across refills of the nonce pool', async () => {
    const key = randomBytes(32);
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(encryptField(key, 1, 'same text', bind).subarray(5, 17).toString('hex'));
    const keys = LocalKeyProvider.fromEnv(`k1:${randomBytes(32).toString('base64')}`);
    for (let i = 0; i < 200; i++) seen.add((await keys.wrap(key, { clientId: bind.clientId })).wrapped.subarray(1, 13).toString('hex'));
    expect(seen.size).toBe(2200); // 2,200 × 12 bytes: six fills of the 4 kB pool
    expect([...seen].every((n) => n.length === 24 && n !== '0'.repeat(24))).toBe(true);
  });

  it('error messages carry no plaintext', () => {
    const key = randomBytes(32);
    const c = encryptField(key, 1, 'Grace Hopper', bind);
    try { decryptField(randomBytes(32), c, bind); } catch (e) { expect(String((e as Error).message)).not.toContain('Grace'); }
  });
});

describe('normalization and blind indexes', () => {
  const index = new BlindIndex(randomBytes(32));
  const local = fc.stringMatching(/^[a-zA-Z0-9._%+-]{1,20}$/);
  const domain = fc.stringMatching(/^[a-zA-Z0-9-]{1,15}\.[a-zA-Z]{2,6}$/);

  it('email normalization is trim + lower-case and idempotent; equal emails share one index', () => {
    fc.assert(fc.property(local, domain, fc.stringMatching(/^[ \t]{0,3}$/), fc.stringMatching(/^[ \t]{0,3}$/), (l, d, pre, post) => {
      const email = `${l}@${d}`;
      const n = normalizeEmail(`${pre}${email}${post}`);
      expect(n).toBe(email.toLowerCase());
      expect(normalizeEmail(n!)).toBe(n);
      expect(normalizeEmail(email.toUpperCase())).toBe(n);
      expect(index.email(`${pre}${email.toUpperCase()}${post}`)!.equals(index.email(email)!)).toBe(true);
    }));
    expect(normalizeEmail('not an email')).toBeNull();
    expect(index.email(' A@x.com')!.equals(index.email('a@x.com')!)).toBe(true);
    expect(index.email('a@x.com')).toHaveLength(32);
    expect(index.email('b@x.com')!.equals(index.email('a@x.com')!)).toBe(false);
  });

  it('phones normalize to E.164 and index equally in any format', () => {
    expect(normalizePhone('(213) 373-4253')).toBe('+12133734253');
    expect(normalizePhone('+1 213 373 4253')).toBe('+12133734253');
    expect(normalizePhone('12')).toBeNull();
    expect(index.phone('213.373.4253')!.equals(index.phone('+12133734253')!)).toBe(true);
    expect(new BlindIndex(randomBytes(32)).phone('+12133734253')!.equals(index.phone('+12133734253')!)).toBe(false);
    // an already normalized number indexes to the same bytes without a second parse
    expect(index.phoneE164(index.normalizePhone('(213) 373-4253')!).equals(index.phone('213.373.4253')!)).toBe(true);
    for (const bad of ['2133734253', '+0213', '+1 213 373 4253', '']) expect(() => index.phoneE164(bad)).toThrow(/E\.164/);
  });
});

describe('aliases', () => {
  it('names ordinals readably and parses them back', () => {
    expect(aliasName('Nebula Swan', 1)).toBe('Nebula Swan');
    expect(aliasName('Nebula Swan', 2)).toBe('Nebula Swan II');
    expect(aliasName('Orbit Swan', 14)).toBe('Orbit Swan XIV');
    fc.assert(fc.property(fc.integer({ min: 1, max: 3999 }), (n) => {
      expect(parseAlias(aliasName('Constellation Swan', n))).toEqual({ base: 'Constellation Swan', ordinal: n });
    }), { numRuns: 200 });
    expect(parseAlias('Nebula Swan 2')).toBeNull();
    for (let n = 2; n <= 5000; n++) expect(parseAlias(aliasName('Meteor Swan', n))?.ordinal).toBe(n);
    for (const bad of ['Nebula Swan I', 'Nebula Swan IIII', 'Nebula Swan IC', 'Nebula Swan iv', 'Nebula Swan XIV ', 'Nebula Swan ', 'Nebula Swan VX']) {
      expect(parseAlias(bad)).toBeNull();
    }
  });
});

describe('LocalKeyProvider', () => {
  const k1 = `k1:${randomBytes(32).toString('base64')}`;
  const k2 = `k2:${randomBytes(32).toString('base64')}`;
  const ctx = { clientId: bind.clientId };

  it('wraps under the newest key and unwraps with any configured key', async () => {
    const old = LocalKeyProvider.fromEnv(k1);
    const both = LocalKeyProvider.fromEnv(`${k1},${k2}`);
    expect(both.currentKeyId).toBe('k2');
    const dk = randomBytes(32);
    const w = await old.wrap(dk, ctx);
    expect(w.keyId).toBe('k1');
    expect((await both.unwrap(w.keyId, w.wrapped, ctx)).equals(dk)).toBe(true);
    await expect(LocalKeyProvider.fromEnv(k2).unwrap(w.keyId, w.wrapped, ctx)).rejects.toMatchObject({ code: 'PII_KEY_UNAVAILABLE' });
    await expect(both.unwrap(w.keyId, w.wrapped, { clientId: '00000000-0000-0000-0000-000000000001' })).rejects.toMatchObject({ code: 'PII_KEY_UNAVAILABLE' });
    const flipped = Buffer.from(w.wrapped); flipped[20] = flipped[20]! ^ 1;
    await expect(both.unwrap(w.keyId, flipped, ctx)).rejects.toMatchObject({ code: 'PII_KEY_UNAVAILABLE' });
    await both.forget(ctx);
    await expect(both.unwrap(w.keyId, w.wrapped, ctx)).rejects.toThrow(/erased/);
  });

  it('rejects bad configuration without echoing key material', () => {
    expect(() => parseMasterKeys('k1:c2hvcnQ=')).toThrow(/32 bytes/);
    expect(() => parseMasterKeys('')).toThrow(/empty/);
    expect(() => parseMasterKeys(`${k1},${k1}`)).toThrow(/twice/);
    try { parseMasterKeys('bad key:abc'); } catch (e) { expect((e as Error).message).not.toContain('abc'); }
  });
});

/** A fake of KMS's JSON API behind the real SDK: requests go through the SDK's serializers, signer and parsers. */
function fakeKms() {
  const master = randomBytes(32);
  const calls: { target: string; body: any }[] = [];
  const seal = (plain: Buffer, context: unknown) => {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', master, iv);
    c.setAAD(Buffer.from(JSON.stringify(context)));
    return Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]);
  };
  const open = (blob: Buffer, context: unknown) => {
    const d = createDecipheriv('aes-256-gcm', master, blob.subarray(0, 12));
    d.setAAD(Buffer.from(JSON.stringify(context)));
    d.setAuthTag(blob.subarray(-16));
    return Buffer.concat([d.update(blob.subarray(12, -16)), d.final()]);
  };
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    response: { statusCode: status, headers: { 'content-type': 'application/x-amz-json-1.1', ...headers }, body: Readable.from([Buffer.from(JSON.stringify(body))]) },
  });
  const requestHandler = {
    async handle(request: { headers: Record<string, string>; body: string | Uint8Array }) {
      const target = request.headers['x-amz-target']!;
      const body = JSON.parse(typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8'));
      calls.push({ target, body });
      expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
      const ctx = body.EncryptionContext;
      if (target === 'TrentService.GenerateDataKey') {
        const pt = randomBytes(32);
        return reply(200, { KeyId: body.KeyId, Plaintext: pt.toString('base64'), CiphertextBlob: seal(pt, ctx).toString('base64') });
      }
      if (target === 'TrentService.Encrypt') {
        return reply(200, { KeyId: body.KeyId, CiphertextBlob: seal(Buffer.from(body.Plaintext, 'base64'), ctx).toString('base64') });
      }
      if (target === 'TrentService.Decrypt') {
        try {
          return reply(200, { KeyId: body.KeyId, Plaintext: open(Buffer.from(body.CiphertextBlob, 'base64'), ctx).toString('base64') });
        } catch {
          return reply(400, { __type: 'InvalidCiphertextException', message: 'bad' }, { 'x-amzn-errortype': 'InvalidCiphertextException' });
        }
      }
      return reply(400, { __type: 'UnsupportedOperationException', message: target });
    },
  };
  const client = new KMSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, requestHandler: requestHandler as never, maxAttempts: 1 });
  return { client, calls };
}

describe('AwsKmsKeyProvider (real SDK, faked HTTP)', () => {
  it('GenerateDataKey and Decrypt with the client id as encryption context', async () => {
    const { client, calls } = fakeKms();
    const kms = new AwsKmsKeyProvider({ keyId: 'alias/swan-pii', client });
    const g = await kms.generateDataKey({ clientId: bind.clientId });
    expect(g.plaintext).toHaveLength(32);
    expect(calls[0]).toMatchObject({ target: 'TrentService.GenerateDataKey', body: { KeyId: 'alias/swan-pii', KeySpec: 'AES_256', EncryptionContext: { clientId: bind.clientId, purpose: 'swan-pii' } } });
    expect((await kms.unwrap(g.keyId, g.wrapped, { clientId: bind.clientId })).equals(g.plaintext)).toBe(true);
    expect(calls[1]!.target).toBe('TrentService.Decrypt');
    await expect(kms.unwrap(g.keyId, g.wrapped, { clientId: '00000000-0000-0000-0000-000000000009' })).rejects.toMatchObject({ code: 'PII_KEY_UNAVAILABLE', message: expect.stringContaining('InvalidCiphertextException') });
    const rewrapped = await kms.wrap(g.plaintext, { clientId: bind.clientId });
    expect(calls.at(-1)!.target).toBe('TrentService.Encrypt');
    expect((await kms.unwrap(rewrapped.keyId, rewrapped.wrapped, { clientId: bind.clientId })).equals(g.plaintext)).toBe(true);
    await kms.forget({ clientId: bind.clientId });
    const n = calls.length;
    await expect(kms.unwrap(g.keyId, g.wrapped, { clientId: bind.clientId })).rejects.toThrow(/erased/);
    expect(calls.length).toBe(n);
  });
});
