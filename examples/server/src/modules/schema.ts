import { migrations as piiMigrations } from '@swan/pii';
import { createMasterPromptService, masterPromptExportContributor, masterPromptRoutes, MASTER_PROMPT_STORED, migrations as schemaMigrations } from '@swan/schema';
import { onboardingRoutes } from '../pages/onboarding.js';
import type { ServerModule } from './types.js';

/**
 * Master prompts of the example server: `POST`/`GET /api/clients/:clientId/master-prompt`
 * (validated against schema v3, versioned, under the `general` rate limit when installed), the
 * public `GET /onboarding` form with its precompiled browser validator, `masterPrompts` in the
 * data-subject export, `master_prompt_stored` events through the outbox when installed, and the
 * service as `ctx.services.schema`.
 */
export const schemaModule: ServerModule = {
  name: 'schema',
  migrations: [piiMigrations, schemaMigrations],
  setup(ctx) {
    // The outbox accepts only known event types; ours is not built in (see the outbox module).
    const outbox = ctx.services.outbox as { register?(type: string): void; eventTypes?(): string[] } | undefined;
    if (outbox?.register && !outbox.eventTypes?.().includes(MASTER_PROMPT_STORED)) outbox.register(MASTER_PROMPT_STORED);
    const service = createMasterPromptService({ db: ctx.db, ...(ctx.events ? { events: ctx.events } : {}) });
    ctx.exportContributors.push(masterPromptExportContributor);
    ctx.services.schema = service;
    const general = ctx.rateLimit?.('general');
    return { routes: [...masterPromptRoutes({ service, ...(general ? { guards: [general] } : {}) }), ...onboardingRoutes()] };
  },
};
