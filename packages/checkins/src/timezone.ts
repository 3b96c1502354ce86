// Wall-clock time in an IANA zone → UTC, with the platform's own time-zone data (Intl).

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    if (formatters.size > 500) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * True for a time zone Intl knows (IANA names such as `America/Los_Angeles`, and `UTC`).
 *
 * @example
 * ```ts
 * isTimeZone('Europe/Berlin'); // true
 * isTimeZone('Mars/Olympus');  // false
 * ```
 */
export function isTimeZone(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) return false;
  try {
    formatter(value);
    return true;
  } catch {
    return false;
  }
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

function localParts(instant: number, timeZone: string): LocalParts & { second: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

/** The zone's UTC offset at an instant, in ms (local = UTC + offset). */
function offsetAt(instant: number, timeZone: string): number {
  const p = localParts(instant, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (instant - (((instant % 1000) + 1000) % 1000));
}

const DAY = 86_400_000;

/**
 * The UTC instant of a local wall-clock time in `timeZone`. A time skipped by a daylight-saving
 * jump (02:30 on a spring-forward night) moves forward by the jump (03:30); a time that occurs
 * twice (01:30 on a fall-back night) resolves to its first occurrence.
 *
 * @example
 * ```ts
 * zonedTimeToUtc({ year: 2025, month: 3, day: 9, hour: 7, minute: 0 }, 'America/Los_Angeles');
 * // 2025-03-09T14:00:00.000Z (PDT, UTC-7)
 * ```
 */
export function zonedTimeToUtc(local: LocalParts, timeZone: string): Date {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  const before = wall - offsetAt(wall - DAY, timeZone);
  const after = wall - offsetAt(wall + DAY, timeZone);
  const valid = [before, after].filter((t) => offsetAt(t, timeZone) === wall - t);
  // both valid: ambiguous (fall back) → the earlier; none: a gap (spring forward) → shifted forward
  return new Date(valid.length ? Math.min(...valid) : before);
}

/**
 * A daily local time: `HH:MM`, 24-hour.
 *
 * @example
 * ```ts
 * LOCAL_TIME.test('07:00'); // true
 * ```
 */
export const LOCAL_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/**
 * The first occurrence of the daily local time `HH:MM` in `timeZone` strictly after `after`.
 *
 * @example
 * ```ts
 * nextDailyOccurrence('07:00', 'America/Los_Angeles', new Date('2025-11-01T15:00:00Z'));
 * // 2025-11-02T15:00:00.000Z — 07:00 PST, the morning after the fall-back change
 * ```
 */
export function nextDailyOccurrence(localTime: string, timeZone: string, after: Date): Date {
  const m = LOCAL_TIME.exec(localTime);
  if (!m) throw new RangeError('localTime must be HH:MM (24-hour)');
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  const today = localParts(after.getTime(), timeZone);
  for (let i = 0; i < 3; i++) {
    // calendar arithmetic on the local date (Date.UTC normalizes day overflow)
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day + i));
    const t = zonedTimeToUtc({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour, minute }, timeZone);
    if (t.getTime() > after.getTime()) return t;
  }
  throw new RangeError('No next occurrence found'); // unreachable for real zones
}
