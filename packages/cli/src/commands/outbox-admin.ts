import { createOutbox } from '@swan/outbox';
import { EXIT, UsageError, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';

/** `swan outbox stats`: counts by status and type, oldest pending age, dead letters (JSON). */
export const outboxStatsCommand: Command = {
  name: 'outbox stats',
  summary: 'Outbox counts by status and type, oldest pending age and dead letters (JSON)',
  options: databaseOptions,
  output: 'The counts as JSON on stdout. Exit 0 done, 1 failed, 2 wrong usage.',
  examples: ['swan outbox stats --database-url postgres://swan_app@db/swan'],
  async run({ values, io }) {
    const stats = await withDatabase(values, io.env, (db) => createOutbox({ db }).stats());
    io.stdout(`${JSON.stringify(stats, null, 2)}\n`);
    return EXIT.ok;
  },
};

/** `swan outbox dead [--limit N] [--event-type T]`: dead-lettered events, newest first (JSON). */
export const outboxDeadCommand: Command = {
  name: 'outbox dead',
  summary: 'List dead-lettered outbox events, newest first (JSON)',
  options: {
    ...databaseOptions,
    limit: { type: 'string', value: 'n', description: 'How many to list, 1 to 1000', default: '100' },
    'event-type': { type: 'string', value: 'type', description: 'Only events of this type', defaultText: 'every type' },
  },
  output: 'A JSON array of dead events (eventId, eventType, attempts, lastError, …) on stdout. Exit 0 done, 1 failed, 2 wrong usage.',
  examples: ['swan outbox dead --limit 20 --event-type client_erased --database-url postgres://swan_app@db/swan'],
  async run({ values, io }) {
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be an integer from 1 to 1000');
    const eventType = values['event-type'] as string | undefined;
    const dead = await withDatabase(values, io.env, (db) => createOutbox({ db }).dead({ limit, ...(eventType ? { eventType } : {}) }));
    io.stdout(`${JSON.stringify(dead, null, 2)}\n`);
    return EXIT.ok;
  },
};

/** `swan outbox redrive <eventId…>`: dead events back to pending (attempts reset); exit 1 if one was not dead. */
export const outboxRedriveCommand: Command = {
  name: 'outbox redrive',
  summary: 'Send dead-lettered outbox events back to pending; exit code 1 if an id was not dead',
  args: '<eventId> [eventId…]',
  options: databaseOptions,
  positionals: true,
  output: '{"redriven":[…],"notDead":[…]} on stdout. Exit 0 when every id was dead and is pending again, 1 otherwise, 2 wrong usage.',
  examples: ['swan outbox redrive 0b7c…-… 5d1e…-… --database-url postgres://swan_app@db/swan'],
  async run({ values, positionals, io }) {
    if (positionals.length === 0) throw new UsageError('Give at least one event id');
    const redriven = await withDatabase(values, io.env, (db) => createOutbox({ db }).redrive(positionals));
    const missing = positionals.filter((id) => !redriven.includes(id.toLowerCase()));
    io.stdout(`${JSON.stringify({ redriven, notDead: missing })}\n`);
    return missing.length ? EXIT.failed : EXIT.ok;
  },
};
