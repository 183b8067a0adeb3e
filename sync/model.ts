/**
 * The row and cursor model shared by the pure sync core, the activities and the adapters.
 *
 * Everything here is plain JSON-serialisable data so it can cross activity boundaries and be
 * staged to blob storage unchanged.
 */

/** A region id from the topology, e.g. `cn`, `sea`. */
export type RegionId = string;

/** A column value as it travels between regions. Dates travel as ISO-8601 UTC strings. */
export type SqlValue = string | number | boolean | null;

/** Values of a table's key columns, in the flow's key-column order. */
export type KeyTuple = readonly SqlValue[];

/** Column values of one row keyed by canonical column name (key columns included). */
export type RowValues = Readonly<Record<string, SqlValue>>;

/**
 * One version of one row in canonical form, with its sync metadata (ARCHITECTURE §3).
 *
 * A replicated row keeps the `modifiedAt` and `originRegion` its origin gave it, which is what
 * makes conflict decisions identical in every region.
 */
export interface SyncRow {
  /** Business columns, canonical names, key columns included. Never contains sync columns. */
  readonly values: RowValues;
  /** When the row last changed in its origin region: ISO-8601 UTC with milliseconds. */
  readonly modifiedAt: string;
  /** The region whose user or system made this change. */
  readonly originRegion: RegionId;
  /** Soft delete: deletes travel as tombstone rows. */
  readonly isDeleted: boolean;
}

/**
 * Position in a source table's change stream: keyset over (change cursor, key).
 *
 * `change` is the store's change counter as a non-negative decimal integer string (SQLite
 * `change_seq`; SQL Server `rowversion` read as BIGINT). `key` breaks ties between rows sharing
 * one change value, so neither a skipped nor a repeated row is possible even when the change
 * cursor is not unique (e.g. many rows written in one timestamp).
 */
export interface ChangeCursor {
  readonly change: string;
  readonly key: KeyTuple;
}

/** A row read from a source's change stream together with its position in that stream. */
export interface ChangeRow extends SyncRow {
  readonly cursor: ChangeCursor;
}

/** Names of the three conflict policies (ARCHITECTURE §4). */
export type ConflictPolicyName = 'last-writer-wins' | 'hub-wins' | 'origin-wins';

/**
 * A conflict policy resolved against the topology, everything the decision needs and nothing
 * region-specific, so every region takes the same decision for the same two versions.
 */
export interface ConflictPolicy {
  readonly name: ConflictPolicyName;
  /** Region priority; higher wins a tie. Regions missing here rank lowest (0). */
  readonly priorities: Readonly<Record<RegionId, number>>;
  /** The hub region id (used by `hub-wins`). */
  readonly hubRegion: RegionId;
  /**
   * Canonical column naming the row's home region (used by `origin-wins`: a version written by
   * the row's own home region beats any version written elsewhere).
   */
  readonly homeRegionColumn?: string;
}

/** Identity of one directed link of one flow. */
export interface LinkId {
  readonly flow: string;
  readonly source: RegionId;
  readonly target: RegionId;
}

/**
 * Which origin regions a link sends, as a store can test it on the `origin_region` column:
 * exactly these, or any but these (an empty `in` sends nothing).
 */
export type OriginFilter = { readonly in: readonly RegionId[] } | { readonly notIn: readonly RegionId[] };

/**
 * How one canonical table is stored in one region. The adapters build all SQL from this; every
 * name in it has been validated by config against the identifier allow-list.
 */
export interface TableMapping {
  /** Canonical table name, e.g. `price_list`. */
  readonly canonical: string;
  /** Physical table name in this region, optionally schema-qualified as `schema.table`. */
  readonly table: string;
  /** Canonical key column names, in key order. */
  readonly keyColumns: readonly string[];
  /** Every synchronised business column: canonical name -> physical name. Includes key columns. */
  readonly columns: Readonly<Record<string, string>>;
}

/** A residency guard applied at load: what must never arrive in the target. */
export interface ResidencyGuard {
  /** Canonical columns that must be absent from every row loaded over this link. */
  readonly forbiddenColumns: readonly string[];
  /** Canonical columns whose values must be pseudonyms (or null), never raw values. */
  readonly pseudonymizedColumns: readonly string[];
}

/** The residency guard that allows everything (links with no residency policy). */
export const OPEN_GUARD: ResidencyGuard = Object.freeze({ forbiddenColumns: [], pseudonymizedColumns: [] });

/** Stored in the target, in the same transaction as the page it describes. */
export interface Checkpoint extends LinkId {
  readonly table: string;
  readonly cursor: ChangeCursor;
  readonly runId: string;
  /** ISO-8601 UTC, supplied by the caller (adapters do not read the clock for data). */
  readonly updatedAt: string;
}

/** One border crossing: what crossed from which region to which, when, under which policy. */
export interface AuditEntry extends LinkId {
  readonly runId: string;
  readonly table: string;
  /** Rows that arrived at the target (written or not). */
  readonly rows: number;
  /** Rows actually written. */
  readonly written: number;
  /** Short description of conflict + residency policy applied, e.g. `lww; drop=email; hmac=phone`. */
  readonly policy: string;
  /** ISO-8601 UTC. */
  readonly at: string;
  /**
   * The one effect this record audits within its run (e.g. `upsert` of a saga): a run records an
   * effect once, however often the step that has it is retried. Absent for batch pages.
   */
  readonly effect?: string;
}

/** A header row and its lines (sales_order + sales_order_line). */
export interface OrderAggregate {
  readonly header: SyncRow;
  readonly lines: readonly SyncRow[];
}

/** What a region held for one order before a saga changed it; `aggregate` null = absent. */
export interface OrderSnapshot {
  /** The order's origin region (absent in snapshots kept before orders were keyed by region). */
  readonly region?: RegionId;
  readonly orderId: SqlValue;
  readonly aggregate: OrderAggregate | null;
}

/**
 * A range of the key-hash space `[lo, hi)` with `0 <= lo < hi <= 2^32`.
 *
 * Reconciliation ranges are ranges of a hash of the key, not of raw key values: two engines
 * order strings differently (SQL Server collations vs SQLite binary), so a range of raw keys
 * would not hold the same rows on both sides.
 */
export interface KeyRange {
  readonly lo: number;
  readonly hi: number;
}

/** Count and order-independent checksum of the rows of one key range on one side. */
export interface RangeSummary {
  readonly range: KeyRange;
  readonly count: number;
  /** Sum modulo 2^64 of the rows' 64-bit digests, as 16 hex digits. */
  readonly checksum: string;
}
