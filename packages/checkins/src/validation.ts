import { errors, isUuid } from '@swan/core';
import { CHECKIN_KINDS } from './context.js';
import { isTimeZone, LOCAL_TIME } from './timezone.js';
import type { CheckInKind, DailyScheduleInput } from './types.js';

export const invalid = (message: string, problems: { path: string; message: string }[]) =>
  errors.validation(message, { problems });

const ISO_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)$/i;

/**
 * Validates a check-in request (`{ clientId, kind, scheduledFor, timezone }`); throws
 * `VALIDATION_FAILED` listing every problem.
 *
 * @example
 * ```ts
 * parseCheckInInput({ clientId, kind: 'morning', scheduledFor: '2025-11-05T15:00:00Z', timezone: 'America/Los_Angeles' });
 * ```
 */
export function parseCheckInInput(input: unknown): { clientId: string; kind: CheckInKind; scheduledFor: Date; timezone: string } {
  const v = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const problems: { path: string; message: string }[] = [];
  if (!isUuid(v.clientId)) problems.push({ path: 'clientId', message: 'must be a UUID' });
  if (!CHECKIN_KINDS.includes(v.kind as CheckInKind)) problems.push({ path: 'kind', message: 'must be "morning" or "evening"' });
  const at = v.scheduledFor instanceof Date ? v.scheduledFor
    : typeof v.scheduledFor === 'string' && ISO_INSTANT.test(v.scheduledFor) ? new Date(v.scheduledFor) : null;
  if (!at || Number.isNaN(at.getTime())) problems.push({ path: 'scheduledFor', message: 'must be an ISO 8601 date-time with a time-zone offset or Z' });
  if (!isTimeZone(v.timezone)) problems.push({ path: 'timezone', message: 'must be an IANA time zone, e.g. America/Los_Angeles' });
  if (problems.length) throw invalid('Invalid check-in', problems);
  return { clientId: (v.clientId as string).toLowerCase(), kind: v.kind as CheckInKind, scheduledFor: at!, timezone: v.timezone as string };
}

/** Validates a daily schedule; throws `VALIDATION_FAILED` listing every problem. */
export function checkDailySchedule(input: DailyScheduleInput): void {
  const problems: { path: string; message: string }[] = [];
  if (!isUuid(input?.clientId)) problems.push({ path: 'clientId', message: 'must be a UUID' });
  if (!CHECKIN_KINDS.includes(input?.kind)) problems.push({ path: 'kind', message: 'must be "morning" or "evening"' });
  if (typeof input?.localTime !== 'string' || !LOCAL_TIME.test(input.localTime)) problems.push({ path: 'localTime', message: 'must be HH:MM (24-hour)' });
  if (!isTimeZone(input?.timezone)) problems.push({ path: 'timezone', message: 'must be an IANA time zone' });
  if (problems.length) throw invalid('Invalid daily check-in schedule', problems);
}
