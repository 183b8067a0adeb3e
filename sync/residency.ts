/**
 * Residency policy per link: rows that may not cross are held back, forbidden columns are dropped,
 * identifying columns become keyed pseudonyms. Applied at extract (before the row leaves its region)
 * and re-checked at load by {@link guardProblem} (a row still carrying a forbidden column, or a raw
 * value where a pseudonym belongs, makes the whole page refused).
 */
import { createHmac } from 'node:crypto';
import type { LinkId, ResidencyGuard, SqlValue, SyncRow } from './model.js';
import type { LinkResidency, RowPredicate } from './topology.js';

/** Version prefix of pseudonyms, so a key or scheme change is visible in the data. */
export const PSEUDONYM_PREFIX = 'p1:';
const PSEUDONYM_PATTERN = /^p1:[0-9a-f]{64}$/;

/** True when a value is a pseudonym produced by {@link pseudonymize}. */
export function isPseudonym(value: SqlValue): boolean {
  return typeof value === 'string' && PSEUDONYM_PATTERN.test(value);
}

/**
 * Keyed HMAC-SHA-256 pseudonym of a value. Stable for a given key, so the same e-mail gives the
 * same pseudonym in every row and table (joins and counts still work), and not reversible without
 * the key. The value's type is part of the input so `1` and `'1'` do not collide. Null stays null;
 * an existing pseudonym is kept as is (forwarded rows are not hashed twice).
 */
export function pseudonymize(value: SqlValue, key: Uint8Array | string): SqlValue {
  if (value === null || isPseudonym(value)) return value;
  const keyBytes = typeof key === 'string' ? Buffer.from(key, 'base64') : key;
  const typed = `${typeof value}:${String(value)}`;
  return PSEUDONYM_PREFIX + createHmac('sha256', keyBytes).update(typed, 'utf8').digest('hex');
}

function substitute(value: SqlValue, link: LinkId): SqlValue {
  if (value === '$source') return link.source;
  if (value === '$target') return link.target;
  return value;
}

/** Whether a row satisfies one predicate on the given link. */
export function matchesPredicate(
  values: Readonly<Record<string, SqlValue>>,
  p: RowPredicate,
  link: LinkId,
): boolean {
  const v = values[p.column] ?? null;
  switch (p.op) {
    case 'eq':
      return v !== null && v === substitute(p.value, link);
    case 'ne':
      return v !== null && v !== substitute(p.value, link);
    case 'in':
      return v !== null && p.values.some((x) => substitute(x, link) === v);
    case 'not-in':
      return v !== null && !p.values.some((x) => substitute(x, link) === v);
    case 'is-null':
      return v === null;
    case 'not-null':
      return v !== null;
  }
}

/** Needed only when the policy pseudonymizes; the key comes from settings. */
export interface ResidencyKeys {
  readonly pseudonymKey: Uint8Array | string | null;
}

/**
 * Applies a link's residency policy to one row: null when a predicate holds it back, else the row
 * with dropped columns removed and pseudonymized columns replaced. Throws when the policy
 * pseudonymizes and no key was configured (config refuses that at start-up).
 */
export function applyResidency(
  row: SyncRow,
  policy: LinkResidency,
  link: LinkId,
  keys: ResidencyKeys,
): SyncRow | null {
  for (const p of policy.where) if (!matchesPredicate(row.values, p, link)) return null;
  if (policy.drop.length === 0 && policy.pseudonymize.length === 0) return row;
  const values: Record<string, SqlValue> = { ...row.values };
  for (const c of policy.drop) delete values[c];
  if (policy.pseudonymize.length > 0) {
    if (keys.pseudonymKey === null)
      throw new Error('residency policy pseudonymizes but no pseudonym key is configured');
    for (const c of policy.pseudonymize)
      if (c in values) values[c] = pseudonymize(values[c] ?? null, keys.pseudonymKey);
  }
  return { ...row, values };
}

/** The load-side guard for a link's policy. */
export function guardFor(policy: LinkResidency): ResidencyGuard {
  return { forbiddenColumns: [...policy.drop], pseudonymizedColumns: [...policy.pseudonymize] };
}

/**
 * Re-check before load: a description of the first violation, or null. A forbidden column is a
 * violation even when null (its presence means the extract-side policy was not applied).
 */
export function guardProblem(rows: readonly SyncRow[], guard: ResidencyGuard): string | null {
  if (guard.forbiddenColumns.length === 0 && guard.pseudonymizedColumns.length === 0) return null;
  for (let i = 0; i < rows.length; i++) {
    const values = (rows[i] as SyncRow).values;
    for (const c of guard.forbiddenColumns) {
      if (Object.prototype.hasOwnProperty.call(values, c)) return `row ${i} carries forbidden column '${c}'`;
    }
    for (const c of guard.pseudonymizedColumns) {
      const v = values[c] ?? null;
      if (v !== null && !isPseudonym(v)) return `row ${i} carries a raw value in pseudonymized column '${c}'`;
    }
  }
  return null;
}

/** Audit label of a residency policy, e.g. `drop=a,b; hmac=c; where=1`. */
export function residencyLabel(policy: LinkResidency): string {
  const parts: string[] = [];
  if (policy.drop.length > 0) parts.push(`drop=${policy.drop.join(',')}`);
  if (policy.pseudonymize.length > 0) parts.push(`hmac=${policy.pseudonymize.join(',')}`);
  if (policy.where.length > 0) parts.push(`where=${policy.where.length}`);
  return parts.length === 0 ? 'open' : parts.join('; ');
}
