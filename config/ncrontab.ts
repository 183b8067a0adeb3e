/**
 * Validation of NCRONTAB expressions as Azure Functions timer triggers take them: six fields,
 * `{second} {minute} {hour} {day} {month} {day-of-week}`.
 *
 * Hand-written because only validation is needed at start-up (the host does the scheduling) and
 * the cron libraries at hand are dev-only dependencies here and also accept five-field forms.
 */

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names accepted in place of numbers, index + offset = value. */
  readonly names?: readonly string[];
  readonly nameOffset?: number;
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameOffset: 1 },
  { name: 'day-of-week', min: 0, max: 6, names: DAYS, nameOffset: 0 },
];

function parseValue(token: string, spec: FieldSpec): number | null {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return n >= spec.min && n <= spec.max ? n : null;
  }
  const idx = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  return idx >= 0 ? idx + (spec.nameOffset ?? 0) : null;
}

function checkField(field: string, spec: FieldSpec): string | null {
  for (const part of field.split(',')) {
    const [range, step, extra] = part.split('/');
    if (extra !== undefined || range === undefined || range === '')
      return `bad ${spec.name} field '${field}'`;
    if (step !== undefined && !(/^\d+$/.test(step) && Number(step) >= 1 && Number(step) <= spec.max + 1)) {
      return `bad step '${step}' in ${spec.name} field`;
    }
    if (range === '*') continue;
    const bounds = range.split('-');
    if (bounds.length > 2) return `bad range '${range}' in ${spec.name} field`;
    const values = bounds.map((b) => parseValue(b, spec));
    if (values.some((v) => v === null)) {
      return `'${range}' is out of range for ${spec.name} (${spec.min}-${spec.max})`;
    }
    if (values.length === 2 && (values[0] as number) > (values[1] as number)) {
      return `descending range '${range}' in ${spec.name} field`;
    }
  }
  return null;
}

/** Returns null when valid, else what is wrong. */
export function ncrontabProblem(expression: string): string | null {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    return `NCRONTAB needs 6 fields ({second} {minute} {hour} {day} {month} {day-of-week}), got ${fields.length}`;
  }
  for (let i = 0; i < 6; i++) {
    const problem = checkField(fields[i] as string, FIELDS[i] as FieldSpec);
    if (problem !== null) return problem;
  }
  return null;
}
