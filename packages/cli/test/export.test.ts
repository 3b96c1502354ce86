import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { withActor } from '@swan/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBilling, createStripeClient, tiersFromEnv } from '@swan/billing';
import { createCheckins } from '@swan/checkins';
import { createConsent, seedConsentVersion30 } from '@swan/consent';
import { createOutbox, createScheduleStore } from '@swan/outbox';
import { LocalKeyProvider, createPii } from '@swan/pii';
import { SYSTEM_ACTOR } from '@swan/core';
import { createMasterPromptService, masterPromptExportContributor, type MasterPrompt } from '@swan/schema';
import { swan, targets, using, type Target } from './harness.js';

/** A valid client master prompt v3: the schema package's sample prompt. */
const SAMPLE_PROMPTS = new URL('../../schema/test/fixtures/master-prompts.json', import.meta.url);
const prompt = (): MasterPrompt => (JSON.parse(readFileSync(SAMPLE_PROMPTS, 'utf8')) as { valid: MasterPrompt }).valid;

/** The sections of the HTTP export (`GET /api/clients/:clientId/export`) with every package installed. */
const SECTIONS = ['exportedAt', 'clientId', 'alias', 'createdAt', 'deletedAt', 'pii', 'training', 'accessLog', 'restrictions', 'consents', 'masterPrompts', 'subscriptions', 'checkins'];

describe.each(targets)('swan export on $name', ({ create }) => {
  let target: Target;
  let clientId: string;
  const masterKeys = `k1:${randomBytes(32).toString('base64')}`;
  const indexKey = randomBytes(32);
  const env = { SWAN_MASTER_KEYS: masterKeys, SWAN_INDEX_KEY: indexKey.toString('base64') };
  const dir = mkdtempSync(join(tmpdir(), 'swan-cli-export-'));

  /** The same services and contributors as a host app (and the example server) wires for the HTTP export. */
  function services(db: Parameters<typeof createOutbox>[0]['db']) {
    const pii = createPii({ db, keys: LocalKeyProvider.fromEnv(masterKeys), indexKey });
    const consent = createConsent({ db });
    const billing = createBilling({ db, stripe: createStripeClient({ secretKey: 'sk_test_unused' }), webhookSecret: 'whsec_unused', tiers: tiersFromEnv({}), portalReturnUrl: 'http://localhost/pricing' });
    const outbox = createOutbox({ db });
    const checkins = createCheckins({ db, events: outbox, schedules: createScheduleStore({ outbox }), pii, twilio: null, from: null, authToken: null });
    const contributors = [consent.exportContributor(), masterPromptExportContributor, billing.exportContributor, checkins.exportContributor];
    return { pii, consent, checkins, contributors };
  }

  beforeAll(async () => {
    target = await create();
    const migrated = await swan(['migrate', ...target.args]);
    expect(migrated.code, migrated.stderr).toBe(0);
    clientId = await using(target.openApp, async (db) => {
      const { pii, consent, checkins } = services(db);
      const { clientId } = await pii.createClient(SYSTEM_ACTOR, {
        pii: { full_name: 'Export Person', date_of_birth: '1984-05-06', email: `export.${randomBytes(4).toString('hex')}@example.com`, phone_number: '+12135550188', emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' } },
        training: { gender: 'female', height_inches: 66, weight_lbs: 150.5, training_goals: ['strength'] },
      });
      await seedConsentVersion30(db);
      await consent.grantConsent(SYSTEM_ACTOR, { clientId, consentType: 'ai_processing', consentVersion: '3.0', consentMethod: 'paper' });
      await createMasterPromptService({ db }).save(SYSTEM_ACTOR, clientId, prompt());
      await withActor(db, SYSTEM_ACTOR, (trx) => checkins.setDailySchedule(trx, { clientId, kind: 'morning', localTime: '07:30', timezone: 'America/Los_Angeles' }));
      return clientId;
    });
    // a subscription as the Stripe webhook would have stored it
    await using(target.open, (owner) => sql`
      insert into client_subscriptions (client_id, tier, status, stripe_subscription_id, stripe_customer_id, stripe_price_id,
        stripe_subscription_item_id, monthly_price_usd, billing_cycle_start, current_period_start, current_period_end, last_event_at, synced_at)
      values (${clientId}::uuid, 'tier_2', 'active', 'sub_cli', 'cus_cli', 'price_swan_tier_2', 'si_cli', 125,
        now(), now(), now() + interval '30 days', now(), now())`.execute(owner));
  });
  afterAll(async () => {
    await target.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the same complete document as the HTTP export (pii, training, consents, master prompts, subscriptions, check-ins, access log)', async () => {
    const reference = await using(target.openApp, (db) => {
      const { pii, contributors } = services(db);
      return pii.exportClientData(clientId, SYSTEM_ACTOR, contributors);
    });
    const r = await swan(['export', clientId, ...target.appArgs], env);
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json();

    expect(Object.keys(doc).sort()).toEqual([...SECTIONS].sort());
    expect(Object.keys(reference).sort()).toEqual([...SECTIONS].sort());
    for (const section of ['pii', 'training', 'consents', 'masterPrompts', 'subscriptions', 'accessLog']) {
      expect(doc[section], section).toBeTruthy();
      if (Array.isArray(doc[section])) expect(doc[section].length, section).toBeGreaterThan(0);
    }
    expect(doc.pii).toMatchObject({ full_name: 'Export Person', phone_number: '+12135550188' });
    expect(doc.consents[0]).toMatchObject({ consentType: 'ai_processing' });
    expect(doc.masterPrompts).toHaveLength(1);
    expect(doc.subscriptions[0]).toMatchObject({ stripe_subscription_id: 'sub_cli', tier: 'tier_2' });
    expect(doc.checkins.schedules).toEqual([expect.objectContaining({ kind: 'morning', timezone: 'America/Los_Angeles' })]);

    // the same document: only the export time and the access log's newest entry (this export) differ
    const plain = JSON.parse(JSON.stringify(reference));
    const { exportedAt: _a, accessLog: cliLog, ...cliRest } = doc;
    const { exportedAt: _b, accessLog: refLog, ...refRest } = plain;
    expect(cliRest).toEqual(refRest);
    expect(cliLog.slice(0, -1)).toEqual(refLog);
    expect(cliLog.at(-1)).toMatchObject({ action: 'PII_EXPORT', actor_id: SYSTEM_ACTOR.id, outcome: 'allowed' });

    // one progress step for the PII part and one per package part
    expect(r.lines()).toEqual([0, 1, 2, 3, 4, 5].map((done) => ({ event: 'progress', command: 'export', done, total: 5 })));
  });

  it('writes the document to --out with mode 600, and reports an unknown client as NOT_FOUND', async () => {
    const out = join(dir, `export-${target.name}.json`);
    const r = await swan(['export', clientId, '--out', out, ...target.appArgs], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(Object.keys(JSON.parse(readFileSync(out, 'utf8'))).sort()).toEqual([...SECTIONS].sort());

    const missing = await swan(['export', '00000000-0000-4000-8000-00000000beef', ...target.appArgs], env);
    expect(missing.code).toBe(1);
    expect(missing.lines().at(-1)).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});

describe.each(targets)('swan export with only some packages installed, on $name', ({ create }) => {
  it('includes the parts of the installed packages only', async () => {
    const target = await create();
    try {
      expect((await swan(['migrate', '--packages', 'consent', ...target.args])).code).toBe(0);
      const masterKeys = `k1:${randomBytes(32).toString('base64')}`;
      const indexKey = randomBytes(32);
      const clientId = await using(target.openApp, async (db) =>
        (await createPii({ db, keys: LocalKeyProvider.fromEnv(masterKeys), indexKey }).createClient(SYSTEM_ACTOR, {
          pii: { full_name: 'Partial Person', date_of_birth: '1984-05-06', email: 'partial@example.com', phone_number: '+12135550199', emergency_contact: { name: 'Kin', relationship: 'sibling', phone: '+12025550123' } },
          training: { gender: 'male', height_inches: 70, weight_lbs: 180, training_goals: ['endurance'] },
        })).clientId);
      const r = await swan(['export', clientId, ...target.appArgs], { SWAN_MASTER_KEYS: masterKeys, SWAN_INDEX_KEY: indexKey.toString('base64') });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json()).toHaveProperty('consents', []);
      for (const absent of ['masterPrompts', 'subscriptions', 'checkins']) expect(r.json()).not.toHaveProperty(absent);
    } finally {
      await target.dispose();
    }
  });
});
