import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import type { ConsentService } from '../src/index.js';
import { asClient, createClient, rejection, request, withConsentDatabase } from './setup.js';

/** The guard and restriction of processing (GDPR Art. 18, `@swan/pii`'s client_restrictions). */
describe.each(testEngines())('requireConsent and restriction of processing on $name', (engine) => {
  let t: TestDatabase;
  let consent: ConsentService;
  withConsentDatabase(engine, (db, service) => void ((t = db), (consent = service)));

  const restrict = (clientId: string) => sql`insert into client_restrictions (client_id, restricted_by, reason)
    values (${clientId}::uuid, ${randomUUID()}::uuid, 'contested')`.execute(t.admin);
  const lift = (clientId: string) => sql`update client_restrictions set lifted_at = now(), lifted_by = ${randomUUID()}::uuid, lift_reason = 'verified'
    where client_id = ${clientId}::uuid and lifted_at is null`.execute(t.admin);

  it('refuses with PROCESSING_RESTRICTED before looking at consent, and passes again once lifted', async () => {
    const withConsent = await createClient(t.admin);
    const without = await createClient(t.admin);
    await consent.grantConsent(asClient(withConsent), { clientId: withConsent, consentType: 'ai_processing', consentVersion: '3.0' });
    const guard = consent.requireConsent('ai_processing');
    const check = (clientId: string) => Promise.resolve(guard(request(asClient(clientId)), { setHeader() {} }));
    await check(withConsent);
    expect((await rejection(check(without))).code).toBe('CONSENT_REQUIRED');

    await restrict(withConsent);
    await restrict(without);
    for (const id of [withConsent, without]) {
      const e = await rejection(check(id));
      expect([e.code, e.status]).toEqual(['PROCESSING_RESTRICTED', 403]);
      expect(e.details).toEqual({ consentType: 'ai_processing' });
    }
    // the ledger is untouched: consent is still on record, only processing is refused
    expect(await consent.hasValidConsent(withConsent, 'ai_processing')).toBe(true);

    await lift(withConsent);
    await lift(without);
    await check(withConsent);
    expect((await rejection(check(without))).code).toBe('CONSENT_REQUIRED');
  });
});
