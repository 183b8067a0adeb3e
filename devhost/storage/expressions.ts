import { randomUUID } from 'node:crypto';

/**
 * Binding expressions as the Functions host resolves them in binding settings such as a blob
 * `path` or a `queueName`:
 * - `%Setting%` is replaced by the app setting's value when the function is indexed;
 * - `{name}` is looked up (case-insensitively, with `a.b` dotted paths into objects) in the
 *   binding data of the invocation: trigger metadata, JSON payload properties, route/query values;
 * - `{rand-guid}` / `{rand-guid:N}` is a new GUID and `{DateTime}` / `{DateTime:yyyy/MM/dd}` the
 *   current UTC time, unless the binding data has a value of that name.
 */

export class BindingExpressionError extends Error {
  override readonly name = 'BindingExpressionError';
}

/** Replaces `%Name%` with the app setting, as the host does when it indexes the function. */
export function resolveAppSettings(template: string, settings: NodeJS.ProcessEnv): string {
  return template.replace(/%([^%]+)%/g, (_, name: string) => {
    const value = lookupSetting(settings, name);
    if (value === undefined) {
      throw new BindingExpressionError(`Unable to resolve app setting for property '%${name}%'.`);
    }
    return value;
  });
}

/** Case-insensitive setting lookup; `:` and `__` are the same section separator, as in .NET config. */
export function lookupSetting(settings: NodeJS.ProcessEnv, name: string): string | undefined {
  const wanted = name.replace(/:/g, '__').toLowerCase();
  if (settings[name] !== undefined) return settings[name];
  for (const [key, value] of Object.entries(settings)) {
    if (key.replace(/:/g, '__').toLowerCase() === wanted) return value;
  }
  return undefined;
}

export type BindingData = Record<string, unknown>;

/** Resolves every `{...}` in `template` against `data`. Unknown names are an error, as in the host. */
export function resolveTemplate(template: string, data: BindingData, now: Date = new Date()): string {
  return template.replace(/\{([^{}]+)\}/g, (_, expression: string) => {
    const [rawName, ...formatParts] = expression.split(':');
    const name = (rawName ?? '').trim();
    const format = formatParts.length > 0 ? formatParts.join(':') : undefined;
    const value = lookupPath(data, name);
    if (value !== undefined && value !== null) {
      const text = toPathString(value);
      if (text !== undefined) return text;
    }
    const lower = name.toLowerCase();
    if (lower === 'rand-guid') return formatGuid(randomUUID(), format);
    if (lower === 'datetime') return formatDateTime(now, format ?? 'yyyy-MM-ddTHH-mm-ssK');
    throw new BindingExpressionError(`No value for named parameter '${name}'.`);
  });
}

/** Names used in `{...}` expressions of a template (system names included). */
export function templateParameters(template: string): string[] {
  return [...template.matchAll(/\{([^{}:]+)(?::[^{}]*)?\}/g)].map((m) => m[1]!.trim());
}

function lookupPath(data: BindingData, dotted: string): unknown {
  let current: unknown = data;
  for (const part of dotted.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    const record = current as Record<string, unknown>;
    if (part in record) {
      current = record[part];
      continue;
    }
    const key = Object.keys(record).find((k) => k.toLowerCase() === part.toLowerCase());
    if (key === undefined) return undefined;
    current = record[key];
  }
  return current;
}

function toPathString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value instanceof Date) return formatDateTime(value, 'yyyy-MM-ddTHH-mm-ssK');
  return undefined;
}

/** .NET Guid formats: N (32 digits), D (hyphens, default), B ({...}), P ((...)). */
function formatGuid(guid: string, format: string | undefined): string {
  switch ((format ?? 'D').toUpperCase()) {
    case 'N':
      return guid.replace(/-/g, '');
    case 'B':
      return `{${guid}}`;
    case 'P':
      return `(${guid})`;
    default:
      return guid;
  }
}

/**
 * The .NET custom date/time format specifiers paths use (yyyy, yy, MM, M, dd, d, HH, H, hh, h,
 * mm, m, ss, s, fff/ff/f, tt, K, 'literal'), always in UTC.
 */
export function formatDateTime(date: Date, format: string): string {
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  const tokens =
    /('[^']*'|"[^"]*"|\\.|yyyy|yy|MMMM|MMM|MM|M|dd|d|HH|H|hh|h|mm|m|ss|s|fffffff|ffffff|fffff|ffff|fff|ff|f|tt|K|z+)/g;
  const months = [
    'January',
    'February',
    'March',
    'April',
    'May',
    'June',
    'July',
    'August',
    'September',
    'October',
    'November',
    'December',
  ];
  return format.replace(tokens, (token) => {
    const hours12 = date.getUTCHours() % 12 === 0 ? 12 : date.getUTCHours() % 12;
    switch (token) {
      case 'yyyy':
        return pad(date.getUTCFullYear(), 4);
      case 'yy':
        return pad(date.getUTCFullYear() % 100, 2);
      case 'MMMM':
        return months[date.getUTCMonth()]!;
      case 'MMM':
        return months[date.getUTCMonth()]!.slice(0, 3);
      case 'MM':
        return pad(date.getUTCMonth() + 1, 2);
      case 'M':
        return String(date.getUTCMonth() + 1);
      case 'dd':
        return pad(date.getUTCDate(), 2);
      case 'd':
        return String(date.getUTCDate());
      case 'HH':
        return pad(date.getUTCHours(), 2);
      case 'H':
        return String(date.getUTCHours());
      case 'hh':
        return pad(hours12, 2);
      case 'h':
        return String(hours12);
      case 'mm':
        return pad(date.getUTCMinutes(), 2);
      case 'm':
        return String(date.getUTCMinutes());
      case 'ss':
        return pad(date.getUTCSeconds(), 2);
      case 's':
        return String(date.getUTCSeconds());
      case 'tt':
        return date.getUTCHours() < 12 ? 'AM' : 'PM';
      case 'K':
        return 'Z';
      default:
        if (token.startsWith('f'))
          return pad(date.getUTCMilliseconds(), 3).padEnd(7, '0').slice(0, token.length);
        if (token.startsWith('z')) return token.length >= 3 ? '+00:00' : token.length === 2 ? '+00' : '+0';
        if (token.startsWith('\\')) return token.slice(1);
        return token.slice(1, -1);
    }
  });
}

/**
 * A blob trigger path `container/prefix{name}.{ext}` as the host matches it: the container is
 * literal, `{x}` captures any run of characters (slashes included). Returns the captures, or
 * undefined when `blobPath` (`container/blob`) does not match.
 */
export function matchBlobPath(pattern: string, blobPath: string): Record<string, string> | undefined {
  const names: string[] = [];
  let source = '';
  let last = 0;
  for (const m of pattern.matchAll(/\{([^{}]+)\}/g)) {
    source += escapeRegExp(pattern.slice(last, m.index));
    names.push(m[1]!.trim());
    source += '(.*)';
    last = m.index + m[0].length;
  }
  source += escapeRegExp(pattern.slice(last));
  // A bare container (or container/) pattern matches every blob in it.
  const slash = pattern.indexOf('/');
  if (slash < 0 || slash === pattern.length - 1) {
    source = `${escapeRegExp(slash < 0 ? pattern : pattern.slice(0, slash))}/.+`;
  }
  const match = new RegExp(`^${source}$`).exec(blobPath);
  if (!match) return undefined;
  const captures: Record<string, string> = {};
  names.forEach((name, i) => (captures[name] = match[i + 1] ?? ''));
  return captures;
}

/** Splits `container/blob/name` at the first slash. */
export function splitBlobPath(blobPath: string): { container: string; blob: string } {
  const trimmed = blobPath.replace(/^\/+/, '');
  const slash = trimmed.indexOf('/');
  if (slash <= 0 || slash === trimmed.length - 1) {
    throw new BindingExpressionError(
      `Invalid blob path specified : '${blobPath}'. Blob identifiers must be in the format 'container/blob'.`,
    );
  }
  return { container: trimmed.slice(0, slash), blob: trimmed.slice(slash + 1) };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
