/**
 * Keyset cursors over (change cursor, key). Paging by `(change, key) > (cursor.change, cursor.key)`
 * in that order never skips and never repeats a row, however many rows share one change value,
 * and never uses OFFSET (which shifts under concurrent writes).
 */
import type { ChangeCursor, ChangeRow, KeyTuple, SqlValue } from './model.js';

const DECIMAL = /^(0|[1-9]\d*)$/;

/** True for a valid change value: a non-negative decimal integer without leading zeros. */
export function isChangeValue(value: string): boolean {
  return DECIMAL.test(value);
}

/** Orders two change values numerically (they may exceed 2^53: rowversion is 64-bit). */
export function compareChange(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const TYPE_RANK = { object: 0, boolean: 1, number: 2, string: 3 } as const;

/**
 * A total order on key values: null < boolean < number < string; strings by UTF-16 code units
 * (SQLite's BINARY collation for the ASCII keys config allows in practice). Stores order keys
 * themselves; this order is for pure checks and tests.
 */
export function compareSqlValue(a: SqlValue, b: SqlValue): number {
  const ta = TYPE_RANK[typeof a as keyof typeof TYPE_RANK];
  const tb = TYPE_RANK[typeof b as keyof typeof TYPE_RANK];
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a === null || b === null || a === b) return 0;
  return (a as number | string) < (b as number | string) ? -1 : 1;
}

export function compareKeys(a: KeyTuple, b: KeyTuple): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareSqlValue(a[i] as SqlValue, b[i] as SqlValue);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Orders cursors; `null` (the beginning) is before every cursor. */
export function compareCursor(a: ChangeCursor | null, b: ChangeCursor | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  return compareChange(a.change, b.change) || compareKeys(a.key, b.key);
}

/** The cursor after a page: the last row's position, or `after` for an empty page. */
export function nextCursor(rows: readonly ChangeRow[], after: ChangeCursor | null): ChangeCursor | null {
  const last = rows[rows.length - 1];
  return last === undefined ? after : last.cursor;
}

/**
 * Checks a page a store returned: strictly increasing positions, all after `after`, none above
 * `upTo`. Returns what is wrong, or null. Activities call this before trusting a page.
 */
export function pageOrderProblem(
  rows: readonly ChangeRow[],
  after: ChangeCursor | null,
  upTo?: string,
): string | null {
  let prev = after;
  for (let i = 0; i < rows.length; i++) {
    const cursor = (rows[i] as ChangeRow).cursor;
    if (!isChangeValue(cursor.change)) return `row ${i}: invalid change value '${cursor.change}'`;
    if (compareCursor(prev, cursor) >= 0) return `row ${i}: cursor not after the previous one`;
    if (upTo !== undefined && compareChange(cursor.change, upTo) > 0)
      return `row ${i}: change above upTo ${upTo}`;
    prev = cursor;
  }
  return null;
}

/** The key tuple of a row's values in key-column order (missing columns read as null). */
export function keyOf(values: Readonly<Record<string, SqlValue>>, keyColumns: readonly string[]): SqlValue[] {
  return keyColumns.map((c) => values[c] ?? null);
}
