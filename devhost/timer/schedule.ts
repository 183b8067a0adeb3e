import { CronExpressionParser } from 'cron-parser';
import { parseTimeSpan } from '../settings';

export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

/** A timer trigger's schedule: when it next fires after a given instant. */
export interface Schedule {
  readonly text: string;
  readonly kind: 'cron' | 'interval';
  /** The first occurrence strictly after `after` (ms since epoch). */
  next(after: number): number;
}

/**
 * Reads a timerTrigger schedule as the Functions host does: a six-field NCRONTAB expression
 * (`{second} {minute} {hour} {day} {month} {day-of-week}`) evaluated in `timeZone` (UTC unless
 * WEBSITE_TIME_ZONE names an IANA zone), or a TimeSpan (`hh:mm:ss`) meaning "every interval".
 */
export function parseSchedule(text: string, timeZone?: string): Schedule {
  const trimmed = text.trim();
  const interval = parseTimeSpan(trimmed);
  if (interval !== undefined) {
    if (interval <= 0) throw new ScheduleError(`The TimeSpan schedule "${text}" must be longer than zero.`);
    return { text: trimmed, kind: 'interval', next: (after) => after + interval };
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 6) {
    throw new ScheduleError(
      `The schedule "${text}" has ${fields.length} fields; Azure Functions NCRONTAB needs six ` +
        `({second} {minute} {hour} {day} {month} {day-of-week}), or a TimeSpan such as "00:05:00".`,
    );
  }
  const tz = timeZone ?? 'UTC';
  try {
    // Parse once up front so a bad expression is reported when the host starts, not when it fires.
    CronExpressionParser.parse(trimmed, { currentDate: 0, tz });
  } catch (err) {
    throw new ScheduleError(
      `The schedule "${text}" is not a valid NCRONTAB expression: ${(err as Error).message}`,
    );
  }
  return {
    text: trimmed,
    kind: 'cron',
    next: (after) => CronExpressionParser.parse(trimmed, { currentDate: after, tz }).next().getTime(),
  };
}

/** Checks that `zone` is an IANA time zone the runtime knows (WEBSITE_TIME_ZONE on Linux plans). */
export function validateTimeZone(zone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    throw new ScheduleError(
      `WEBSITE_TIME_ZONE "${zone}" is not an IANA time zone (such as "Europe/Paris"); devhost cannot evaluate schedules in it.`,
    );
  }
}
