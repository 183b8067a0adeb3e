/**
 * The pure rules of writing and undoing one order in a region (RegionStore.replaceOrder and
 * restoreOrder), shared by the SQLite and SQL Server stores so both decide alike:
 *
 * - nothing is hard-deleted: a removed line, and an order put back to "absent", become tombstones,
 *   so the change replicates like any other and a reader never sees a row vanish;
 * - the compensation of a saga restores only while the region still holds the version the saga
 *   wrote: a newer write that landed in between (a nightly batch page, a later saga) is kept.
 */
import { keyOf } from './cursor.js';
import type { OrderAggregate, OrderSnapshot, SqlValue, SyncRow } from './model.js';
import type { OrderKey, OrderTables, RestoreOrderResult } from './ports.js';

/**
 * The version a region holds of an order, or null when it holds none: no header, or the
 * version-less tombstone a compensation leaves where the order was absent (any version may
 * apply after it).
 */
export function heldVersion(tables: OrderTables, current: OrderAggregate | null): number | null {
  if (current === null) return null;
  const v = current.header.values[tables.versionColumn];
  if (v === null || v === undefined) return null;
  return Number(v);
}

const lineId = (row: SyncRow, keyColumns: readonly string[]) => JSON.stringify(keyOf(row.values, keyColumns));

/**
 * Tombstones of the live lines of `current` that `keep` no longer has, stamped with the writer's
 * time and origin (`by`), so the removal replicates.
 */
export function lineTombstones(
  current: OrderAggregate | null,
  keep: readonly SyncRow[],
  keyColumns: readonly string[],
  by: Pick<SyncRow, 'modifiedAt' | 'originRegion'>,
): SyncRow[] {
  const kept = new Set(keep.map((l) => lineId(l, keyColumns)));
  return (current?.lines ?? [])
    .filter((old) => !old.isDeleted && !kept.has(lineId(old, keyColumns)))
    .map((old) => ({ ...old, isDeleted: true, modifiedAt: by.modifiedAt, originRegion: by.originRegion }));
}

/** The order a snapshot describes (older snapshots carry the region in the header only). */
export function snapshotKey(snapshot: OrderSnapshot, fallbackRegion?: string): OrderKey {
  return { region: snapshot.region ?? fallbackRegion ?? '', orderId: snapshot.orderId };
}

export type RestorePlan =
  | { readonly kind: 'done'; readonly result: RestoreOrderResult }
  | { readonly kind: 'write'; readonly header: SyncRow; readonly lines: readonly SyncRow[] };

/**
 * What restoring `snapshot` over `current` writes, given that the saga wrote `wroteVersion`:
 * nothing when the region already holds the snapshot's version (restored before, or the saga
 * never changed the order) or when it holds any other version than the saga's (superseded);
 * else the snapshot's header and lines, and tombstones for what the snapshot lacks.
 */
export function planRestore(
  tables: OrderTables,
  snapshot: OrderSnapshot,
  current: OrderAggregate | null,
  wroteVersion: number,
  lineKeyColumns: readonly string[],
): RestorePlan {
  const held = heldVersion(tables, current);
  const before = heldVersion(tables, snapshot.aggregate);
  if (held === before && (current === null || before !== null || current.header.isDeleted))
    return { kind: 'done', result: { kind: 'restored' } };
  if (held !== wroteVersion || current === null)
    return { kind: 'done', result: { kind: 'superseded', currentVersion: held } };
  if (snapshot.aggregate === null) {
    // The order was absent: a tombstone without a version, and every live line a tombstone.
    const header: SyncRow = {
      ...current.header,
      values: { ...current.header.values, [tables.versionColumn]: null as SqlValue },
      isDeleted: true,
    };
    return { kind: 'write', header, lines: lineTombstones(current, [], lineKeyColumns, current.header) };
  }
  const header = snapshot.aggregate.header;
  return {
    kind: 'write',
    header,
    lines: [
      ...snapshot.aggregate.lines,
      ...lineTombstones(current, snapshot.aggregate.lines, lineKeyColumns, current.header),
    ],
  };
}
