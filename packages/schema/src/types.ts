import type { FromSchema } from 'json-schema-to-ts';
import type { masterPromptSchema } from './generated/schema.js';

/**
 * A client master prompt v3, derived from `schemas/client-master-prompt-v3.schema.json`
 * (via json-schema-to-ts, so it cannot drift from the schema).
 *
 * @example
 * ```ts
 * import type { MasterPrompt } from '@swan/schema';
 * const age: number = prompt.client_profile.basic_info.age;
 * ```
 */
export type MasterPrompt = FromSchema<typeof masterPromptSchema>;

/** The `client_profile` part of a {@link MasterPrompt}. */
export type ClientProfile = MasterPrompt['client_profile'];
/** The `meta` part of a {@link MasterPrompt}. */
export type MasterPromptMeta = MasterPrompt['meta'];
/** One `meta.change_log` entry. */
export type ChangeLogEntry = NonNullable<MasterPromptMeta['change_log']>[number];
