/**
 * Deterministic digests of rows and keys, the same in every region and on every engine: values
 * are normalised (booleans as 0/1, missing columns as null) and serialised in canonical column
 * order before hashing, so a row digests the same whether it was read from SQLite or SQL Server.
 */
import { createHash } from 'node:crypto';
import type { KeyTuple, SqlValue, SyncRow } from './model.js';

function norm(v: SqlValue | undefined): string | number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

/** Canonical serialisation of business values over the given columns (sorted by name). */
function canonicalValues(
  values: Readonly<Record<string, SqlValue>>,
  sortedColumns: readonly string[],
): string {
  return JSON.stringify(sortedColumns.map((c) => norm(values[c])));
}

/** Columns sorted once per table; pass the result to the digest functions. */
export function sortedColumns(columns: readonly string[]): readonly string[] {
  return [...columns].sort();
}

/**
 * Hex SHA-256 of a version's content: business values and the tombstone flag. Two versions with
 * equal content digests hold the same data.
 */
export function contentDigest(row: SyncRow, sorted: readonly string[]): string {
  return createHash('sha256')
    .update(canonicalValues(row.values, sorted))
    .update(row.isDeleted ? '|d' : '|l')
    .digest('hex');
}

/** Epoch milliseconds of an ISO-8601 timestamp; unparsable timestamps sort first. */
export function epochMs(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/**
 * 64-bit fingerprint of everything replication must reproduce (content, tombstone, modifiedAt to
 * the millisecond, origin), as a bigint, for order-independent checksums.
 */
export function rowFingerprint(row: SyncRow, sorted: readonly string[]): bigint {
  const digest = createHash('sha256')
    .update(canonicalValues(row.values, sorted))
    .update(`|${row.isDeleted ? 1 : 0}|${epochMs(row.modifiedAt)}|${row.originRegion}`)
    .digest();
  return digest.readBigUInt64BE(0);
}

/** Unsigned 32-bit hash of a key tuple: its position in the reconciliation key-hash space. */
export function keyHash(key: KeyTuple): number {
  return createHash('sha256')
    .update(JSON.stringify(key.map((v) => norm(v))))
    .digest()
    .readUInt32BE(0);
}
