import { createOutbox } from '@swan/outbox';
import { EXIT, UsageError, type Command } from '../command.js';
import { databaseOptions, withDatabase } from '../database.js';

/** `swan outbox stats`: counts by status and type, oldest pending age, dead letters (JSON). */
export const outboxStatsCommand: Command = {
  name: 'outbox stats',
  summary: 'Outbox counts by status and type, oldest pending age and dead letters (JSON)',
  options: databaseOptions,
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
  options: { ...databaseOptions, limit: { type: 'string', default: '100' }, 'event-type': { type: 'string' } },
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
  options: databaseOptions,
  positionals: true,
  usage: 'Usage: swan outbox redrive <eventId> [eventId…]',
  async run({ values, positionals, io }) {
    if (positionals.length === 0) throw new UsageError('Give at least one event id');
    const redriven = await withDatabase(values, io.env, (db) => createOutbox({ db }).redrive(positionals));
    const missing = positionals.filter((id) => !redriven.includes(id.toLowerCase()));
    io.stdout(`${JSON.stringify({ redriven, notDead: missing })}\n`);
    return missing.length ? EXIT.failed : EXIT.ok;
  },
};
