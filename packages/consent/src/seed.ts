import { sql, type Kysely } from 'kysely';
import { SYSTEM_ACTOR, withActor } from '@swan/core';
import type { PublishVersionInput } from './consent.service.js';

/**
 * Consent version 3.0 of the spec (effective 2025-11-04, requires re-consent), with the full
 * text written out from the spec's summary. Publish your lawyer-reviewed text as a new version.
 *
 * @example
 * ```ts
 * await consent.publishVersion(admin, CONSENT_VERSION_3_0);
 * ```
 */
export const CONSENT_VERSION_3_0: Readonly<Required<PublishVersionInput>> = Object.freeze({
  version: '3.0',
  effectiveDate: '2025-11-04',
  summary:
    'Consent for AI-powered personal training system including data collection, AI processing, third-party AI services (OpenAI, Google, Anthropic), wearable integration, photo analysis, and voice transcription.',
  changesFromPrevious: 'Adds third-party AI services, wearable integration, photo analysis and voice transcription; every client must consent again.',
  requiresReConsent: true,
  fullText: `CONSENT TO DATA PROCESSING — VERSION 3.0 (effective 4 November 2025)

This consent covers the AI-powered personal training service. Each part below is a separate
consent: you may give or refuse each one, and withdraw any of them at any time.

1. Data collection (data_collection). We collect the information you give us for your training:
   identity and contact details, date of birth, emergency contact, health and fitness history,
   injuries, medications, goals, measurements and session notes. Identity and contact details are
   stored encrypted and apart from your training data.

2. AI processing (ai_processing). Your training data, identified only by a pseudonym and never by
   your name or contact details, is analysed by AI systems to draft programmes, answer questions
   and summarise progress. A human trainer reviews AI suggestions that affect your programme.

3. Third-party AI services (third_party_sharing). To provide AI processing we send pseudonymised
   training data to AI providers acting as our processors: OpenAI, Google and Anthropic. They may
   not use it to train their models and must delete it under their agreements with us.

4. Wearable integration (wearable_integration). If you connect a wearable device, we import the
   activity, heart-rate, sleep and recovery data you authorise. Withdrawing this consent stops the
   import; disconnect the device in its own app to revoke its access token as well.

5. Photo analysis (photo_analysis). Progress photos you upload are analysed to estimate posture
   and body composition. Photos are stored encrypted and are never shared beyond the processors above.

6. Voice transcription (voice_transcription). Voice notes you send are transcribed to text so that
   your trainer and the AI can use them; recordings are deleted after transcription.

Your rights. You may withdraw any consent at any time in the app or by writing to us; withdrawal
takes effect immediately and does not affect processing done before it. You may ask for a copy of
your data, its correction, or its erasure. We keep a record of what you agreed to, when, and how,
including the exact text of this version, as proof of consent.`,
});

/**
 * Publishes {@link CONSENT_VERSION_3_0} unless version 3.0 exists; returns whether it inserted.
 * Runs as `SYSTEM_ACTOR` (from `@swan/core`) on the application handle.
 *
 * @example
 * ```ts
 * await migrate(db, [piiMigrations, consentMigrations]);
 * await seedConsentVersion30(db);
 * ```
 */
export async function seedConsentVersion30(db: Kysely<any>): Promise<boolean> {
  const v = CONSENT_VERSION_3_0;
  return withActor(db, SYSTEM_ACTOR, async (trx) => {
    const r = await sql`
      insert into consent_versions (version, effective_date, full_text, summary, changes_from_previous, requires_re_consent)
      values (${v.version}, ${v.effectiveDate}::date, ${v.fullText}, ${v.summary}, ${v.changesFromPrevious}, ${v.requiresReConsent})
      on conflict (version) do nothing`.execute(trx);
    return Number(r.numAffectedRows ?? 0) > 0;
  });
}
