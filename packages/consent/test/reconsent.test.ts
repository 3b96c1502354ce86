import { describe, expect, it } from 'vitest';
import type { SwanError } from '@swan/core';
import { testEngines, type TestDatabase } from '@swan/test-utils';
import type { ConsentService } from '../src/index.js';
import { admin, asClient, createClient, request, withConsentDatabase } from './setup.js';

const DAY = 86_400_000;
const utcDate = (d: Date) => d.toISOString().slice(0, 10);

async function guardError(service: ConsentService, clientId: string): Promise<SwanError | undefined> {
  try {
    await service.requireConsent('ai_processing')(request(asClient(clientId)), { setHeader() {} });
    return undefined;
  } catch (e) {
    return e as SwanError;
  }
}

// Each case needs its own database: versions are global and immutable.
describe.each(testEngines())('re-consent on $name', (engine) => {
  describe('3.0 → 3.1 without requires_re_consent', () => {
    let t: TestDatabase;
    let consent: ConsentService;
    withConsentDatabase(engine, (db, service) => void ((t = db), (consent = service)));

    it('keeps 3.0 consent valid, before and after 3.1 takes effect', async () => {
      const clientId = await createClient(t.admin);
      await consent.grantConsent(asClient(clientId), { clientId, consentType: 'ai_processing', consentVersion: '3.0' });
      await consent.publishVersion(admin, { version: '3.1', effectiveDate: utcDate(new Date()), fullText: 'v3.1 clarifications', requiresReConsent: false });
      expect(await consent.hasValidConsent(clientId, 'ai_processing')).toBe(true);
      expect(await consent.consentStatus(clientId, 'ai_processing')).toEqual({ status: 'valid', consentedVersion: '3.0', requiredVersion: '3.0', currentVersion: null });
      expect(await guardError(consent, clientId)).toBeUndefined();
    });
  });

  describe('3.0 → 3.1 with requires_re_consent', () => {
    let t: TestDatabase;
    let consent: ConsentService;
    const effective = new Date(Date.now() + 2 * DAY);
    const effectiveDay = utcDate(effective);
    const startOfEffective = new Date(`${effectiveDay}T00:00:00Z`);
    withConsentDatabase(engine, async (db, service) => {
      t = db;
      consent = service;
      await consent.publishVersion(admin, { version: '3.1', effectiveDate: effectiveDay, fullText: 'v3.1 new processors', requiresReConsent: true });
    });

    it('invalidates 3.0 consent from the effective date on, not an instant before', async () => {
      const clientId = await createClient(t.admin);
      await consent.grantConsent(asClient(clientId), { clientId, consentType: 'ai_processing', consentVersion: '3.0' });
      const before = new Date(startOfEffective.getTime() - 1);
      expect(await consent.hasValidConsent(clientId, 'ai_processing', { at: before })).toBe(true);
      expect(await consent.hasValidConsent(clientId, 'ai_processing', { at: startOfEffective })).toBe(false);
      expect(await consent.consentStatus(clientId, 'ai_processing', { at: startOfEffective }))
        .toEqual({ status: 'reconsent', consentedVersion: '3.0', requiredVersion: '3.1', currentVersion: '3.1' });
      // today 3.1 is not effective yet: the guard lets the request through
      expect(await guardError(consent, clientId)).toBeUndefined();
    });

    it('the guard asks for re-consent with the version to show once 3.1 is effective, and 3.1 consent clears it', async () => {
      const clientId = await createClient(t.admin);
      await consent.grantConsent(asClient(clientId), { clientId, consentType: 'ai_processing', consentVersion: '3.0' });
      // a version effective today that requires re-consent
      await consent.publishVersion(admin, { version: '3.0.1', effectiveDate: utcDate(new Date()), fullText: 'v3.0.1 urgent change', requiresReConsent: true });
      const e = await guardError(consent, clientId);
      expect([e?.code, e?.status]).toEqual(['RECONSENT_REQUIRED', 403]);
      expect(e?.details).toEqual({ consentType: 'ai_processing', version: '3.0.1', consentedVersion: '3.0', requiredVersion: '3.0.1' });
      expect(await consent.hasValidConsent(clientId, 'ai_processing')).toBe(false);

      await consent.grantConsent(asClient(clientId), { clientId, consentType: 'ai_processing', consentVersion: '3.0.1' });
      expect(await guardError(consent, clientId)).toBeUndefined();
      // consent given in advance on 3.1 stays valid when 3.1 takes effect
      await consent.grantConsent(asClient(clientId), { clientId, consentType: 'ai_processing', consentVersion: '3.1' });
      expect(await consent.hasValidConsent(clientId, 'ai_processing', { at: startOfEffective })).toBe(true);
      // "newer" is by effective date, then version number: 3.0.1 consent is outdated once 3.1 applies
      await consent.grantConsent(asClient(clientId), { clientId, consentType: 'ai_processing', consentVersion: '3.0.1' });
      expect((await consent.consentStatus(clientId, 'ai_processing', { at: startOfEffective })).status).toBe('reconsent');
    });
  });
});
