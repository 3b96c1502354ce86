import { sql, type Kysely } from 'kysely';
import { SwanError, type EventPublisher, type ExportContributor } from '@swan/core';
import type { PiiService } from '@swan/pii';

/**
 * One package's part of the data-subject export: the table that tells whether the package is
 * installed in a database, and how to get its contributor through the package's public API.
 */
export interface ExportPart {
  package: string;
  /** A table the package's migrations create: present ⇔ the package is installed. */
  table: string;
  load(context: { db: Kysely<any>; pii: PiiService }): Promise<ExportContributor>;
}

/** `swan export` only reads: a publish would mean a bug, so it is refused. */
const readOnly: EventPublisher = {
  publish: async () => {
    throw new SwanError({ code: 'INTERNAL', message: 'swan export does not publish events' });
  },
};

/**
 * The parts other packages add to the data-subject export, in the order the example server
 * installs them (consents, master prompts, subscriptions, check-ins). `GET
 * /api/clients/:clientId/export` collects the same contributors, so `swan export` prints the same
 * document. Each package is loaded only when its table exists.
 *
 * @example
 * ```ts
 * const contributors = await installedExportContributors(db, pii);
 * const doc = await pii.exportClientData(clientId, SYSTEM_ACTOR, contributors);
 * ```
 */
export const exportParts: readonly ExportPart[] = [
  {
    package: 'consent',
    table: 'client_consents',
    load: async ({ db, pii }) => (await import('@swan/consent')).createConsent({ db, sealer: pii.sealer }).exportContributor(),
  },
  {
    package: 'schema',
    table: 'client_master_prompts',
    load: async () => (await import('@swan/schema')).masterPromptExportContributor,
  },
  {
    package: 'billing',
    table: 'client_subscriptions',
    load: async ({ db }) => {
      const billing = await import('@swan/billing');
      // the contributor only reads client_subscriptions: no Stripe call is made, so no key is needed
      return billing.createBilling({
        db,
        stripe: billing.createStripeClient({ secretKey: 'sk_test_swan_cli_export' }),
        webhookSecret: 'whsec_swan_cli_export',
        tiers: billing.tiersFromEnv({}),
        portalReturnUrl: 'http://localhost/',
      }).exportContributor;
    },
  },
  {
    package: 'checkins',
    table: 'checkin_schedules',
    load: async ({ db, pii }) =>
      (await import('@swan/checkins')).createCheckins({ db, events: readOnly, pii, twilio: null, from: null, authToken: null }).exportContributor,
  },
];

/**
 * The contributors of every package of {@link exportParts} installed in `db`.
 *
 * @example
 * ```ts
 * const contributors = await installedExportContributors(db, pii);
 * ```
 */
export async function installedExportContributors(db: Kysely<any>, pii: PiiService, parts: readonly ExportPart[] = exportParts): Promise<ExportContributor[]> {
  const { rows } = await sql<{ name: string }>`
    select t.name from unnest(${parts.map((p) => p.table)}::text[]) as t(name) where to_regclass(t.name) is not null`.execute(db);
  const present = new Set(rows.map((r) => r.name));
  const out: ExportContributor[] = [];
  for (const part of parts) if (present.has(part.table)) out.push(await part.load({ db, pii }));
  return out;
}
