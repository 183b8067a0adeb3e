/**
 * Conflict policies. Each policy ranks a row version by a key computed from that version alone,
 * and the higher rank wins; ties fall through to region priority, origin id and finally a content
 * digest. Because the rank is a total order that depends on nothing but the version, every region
 * keeps the same winner whatever order the versions arrive in: the replicas converge.
 *
 * - last-writer-wins: later `modifiedAt` wins; same millisecond -> higher region priority.
 * - hub-wins: a version written in the hub beats any spoke's; otherwise last-writer-wins.
 * - origin-wins: a version written by the row's home region (the `homeRegionColumn` value) beats
 *   versions written elsewhere; otherwise last-writer-wins.
 */
import { contentDigest, epochMs } from './digest.js';
import type { ConflictPolicy, SqlValue, SyncRow } from './model.js';

/** What to do with an incoming version given the target's current one. */
export type Resolution =
  /** The target has no row with this key. */
  | 'insert'
  /** The incoming version outranks the target's. */
  | 'update'
  /** Identical version (e.g. a page applied twice): write nothing. */
  | 'unchanged'
  /** The target's version outranks the incoming one: keep it. */
  | 'keep';

function policyClass(row: SyncRow, policy: ConflictPolicy): number {
  switch (policy.name) {
    case 'last-writer-wins':
      return 0;
    case 'hub-wins':
      return row.originRegion === policy.hubRegion ? 1 : 0;
    case 'origin-wins': {
      const home = policy.homeRegionColumn === undefined ? undefined : row.values[policy.homeRegionColumn];
      return home !== undefined && home !== null && home === row.originRegion ? 1 : 0;
    }
  }
}

/** Booleans compare as 0/1 and missing as null, exactly as the digest normalises them. */
function norm(v: SqlValue | undefined): string | number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

/** Cheap equality check that spares two hashes in the common idempotent case. */
function sameContent(a: SyncRow, b: SyncRow, columns: readonly string[]): boolean {
  if (a.isDeleted !== b.isDeleted) return false;
  for (const c of columns) if (norm(a.values[c]) !== norm(b.values[c])) return false;
  return true;
}

/**
 * Compares two versions of the same row under a policy: > 0 when `a` wins, < 0 when `b` wins,
 * 0 only when they are the same version (same content, tombstone, timestamp and origin).
 * `sortedColumns` is the table's canonical column list, sorted (see digest.sortedColumns).
 */
export function compareVersions(
  a: SyncRow,
  b: SyncRow,
  policy: ConflictPolicy,
  sortedColumns: readonly string[],
): number {
  const byClass = policyClass(a, policy) - policyClass(b, policy);
  if (byClass !== 0) return byClass;
  const ta = epochMs(a.modifiedAt);
  const tb = epochMs(b.modifiedAt);
  if (ta !== tb) return ta > tb ? 1 : -1;
  const pa = policy.priorities[a.originRegion] ?? 0;
  const pb = policy.priorities[b.originRegion] ?? 0;
  if (pa !== pb) return pa > pb ? 1 : -1;
  if (a.originRegion !== b.originRegion) return a.originRegion > b.originRegion ? 1 : -1;
  if (sameContent(a, b, sortedColumns)) return 0;
  const da = contentDigest(a, sortedColumns);
  const db = contentDigest(b, sortedColumns);
  return da === db ? 0 : da > db ? 1 : -1;
}

/** Decides what the target does with `incoming` given its `existing` version (or none). */
export function resolveConflict(
  existing: SyncRow | null,
  incoming: SyncRow,
  policy: ConflictPolicy,
  sortedColumns: readonly string[],
): Resolution {
  if (existing === null) return 'insert';
  const c = compareVersions(incoming, existing, policy, sortedColumns);
  return c > 0 ? 'update' : c === 0 ? 'unchanged' : 'keep';
}

/** Short label for audit records. */
export function policyLabel(policy: ConflictPolicy): string {
  return policy.name === 'origin-wins' ? `origin-wins(${policy.homeRegionColumn ?? '?'})` : policy.name;
}
