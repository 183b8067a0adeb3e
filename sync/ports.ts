/**
 * Ports: the I/O the sync core needs, implemented in adapters/ (SQLite, SQL Server, blob).
 *
 * Activities are factories over these interfaces; nothing here names a driver. All methods
 * work in canonical names: each store translates to its region's physical names through the
 * {@link TableMapping} it is given.
 *
 * Failures: stores throw `SyncError` (sync/errors.ts) for faults, with `retryable` telling the
 * caller whether a retry can help. Expected business outcomes (lost conflicts, a refused page,
 * a stale order version) are returned as values, never thrown.
 */
import type {
  AuditEntry,
  ChangeCursor,
  ChangeRow,
  Checkpoint,
  ConflictPolicy,
  KeyTuple,
  LinkId,
  OrderAggregate,
  OriginFilter,
  OrderSnapshot,
  RegionId,
  ResidencyGuard,
  SqlValue,
  SyncRow,
  TableMapping,
} from './model.js';

/** Input of {@link RegionStore.readChanges}. */
export interface ReadChangesRequest {
  readonly table: TableMapping;
  /** Exclusive lower bound; `null` reads from the beginning. */
  readonly after: ChangeCursor | null;
  /**
   * Inclusive upper bound on the change counter (decimal string), usually a
   * {@link RegionStore.highWaterMark} taken when the run started, so a run ends even while the
   * source keeps changing. Omitted: no bound.
   */
  readonly upTo?: string;
  /** Maximum rows to return (the flow's page size), >= 1. */
  readonly limit: number;
}

/** Output of {@link RegionStore.readChanges}. */
export interface ChangePage {
  /** Rows in strictly increasing (change, key) order, every one after `after`. */
  readonly rows: readonly ChangeRow[];
  /** Cursor of the last row returned, or the request's `after` when the page is empty. */
  readonly nextCursor: ChangeCursor | null;
  /** False only when the stream (up to `upTo`) is exhausted. */
  readonly hasMore: boolean;
}

/** Input of {@link RegionStore.countChanges}: the bounds of {@link ReadChangesRequest}. */
export interface CountChangesRequest {
  readonly table: TableMapping;
  /** Exclusive lower bound; `null` counts from the beginning. */
  readonly after: ChangeCursor | null;
  /** Inclusive upper bound on the change counter; omitted: no bound. */
  readonly upTo?: string;
  /** Only changes whose `origin_region` passes (e.g. what a link sends, sync/routing.ts). */
  readonly origins: OriginFilter;
  /**
   * Changes looked at, >= 1: the first `limit` changes after the cursor in order, of any origin
   * (so the cost is bounded however few pass the filter).
   */
  readonly limit: number;
}

/** Output of {@link RegionStore.countChanges}. */
export interface ChangeCount {
  /** Changes among the first `limit` that pass the origin filter. */
  readonly count: number;
  /** More than `limit` changes lie within the bounds: `count` is a lower bound. */
  readonly capped: boolean;
}

/** Input of {@link RegionStore.applyPage}. */
export interface ApplyPageRequest {
  readonly table: TableMapping;
  /** Canonical rows, already through the link's residency policy. */
  readonly rows: readonly SyncRow[];
  readonly policy: ConflictPolicy;
  /** Re-checked before anything is written; a violating page is refused whole. */
  readonly guard: ResidencyGuard;
  /** Stored in the same transaction as the rows. */
  readonly checkpoint: Checkpoint;
  /** Recorded in the same transaction as the rows (`rows`/`written` are filled in by the store). */
  readonly audit: Omit<AuditEntry, 'rows' | 'written'>;
}

/** Output of {@link RegionStore.applyPage}: a value for every business outcome. */
export type ApplyPageResult =
  | {
      readonly kind: 'applied';
      /** Rows that did not exist in the target. */
      readonly inserted: number;
      /** Rows whose incoming version won over the target's. */
      readonly updated: number;
      /** Rows identical to the target's (e.g. the page was applied before). */
      readonly unchanged: number;
      /** Rows whose incoming version lost to the target's under the conflict policy. */
      readonly lostConflicts: number;
    }
  | {
      /** Nothing was written and the checkpoint did not move. */
      readonly kind: 'rejected';
      readonly reason: 'residency-violation';
      readonly detail: string;
    };

/** Input of {@link RegionStore.readRows}: keyset over the key alone (reconciliation scans). */
export interface ReadRowsRequest {
  readonly table: TableMapping;
  /** Exclusive lower bound on the key in the store's own key order; `null` from the start. */
  readonly afterKey: KeyTuple | null;
  readonly limit: number;
}

/**
 * The two tables of the order aggregate and the columns that tie them together. An order is
 * identified by its origin region and its id together: two regions may use the same order id, and
 * one region's order must never overwrite another's.
 */
export interface OrderTables {
  /** sales_order; its key is exactly (regionColumn, orderColumn), in that order. */
  readonly header: TableMapping;
  /** sales_order_line; its key starts with (regionColumn, orderColumn). */
  readonly lines: TableMapping;
  /** Canonical column of the header holding the order version (monotonic per order). */
  readonly versionColumn: string;
  /**
   * Canonical column naming the order's origin region (the flow's `homeRegionColumn`): set from
   * the region that created the order and never changed, unlike the `origin_region` sync column,
   * which names the last writer of a row.
   */
  readonly regionColumn: string;
  /** Canonical column of the order id. */
  readonly orderColumn: string;
}

/** One order: its origin region and its id. */
export interface OrderKey {
  readonly region: RegionId;
  readonly orderId: SqlValue;
}

/** The key tuple of an order's header (and the key prefix of its lines), in key order. */
export function orderKeyValues(tables: OrderTables, key: OrderKey): SqlValue[] {
  return tables.header.keyColumns.map((c) =>
    c === tables.regionColumn ? key.region : c === tables.orderColumn ? key.orderId : null,
  );
}

/** The order a header or line row belongs to. */
export function orderKeyOf(tables: OrderTables, row: SyncRow): OrderKey {
  return {
    region: String(row.values[tables.regionColumn] ?? ''),
    orderId: row.values[tables.orderColumn] ?? null,
  };
}

/** Output of {@link RegionStore.restoreOrder}. */
export type RestoreOrderResult =
  /** The order is back as the snapshot held it (or a tombstone where it was absent). */
  | { readonly kind: 'restored' }
  /**
   * The region no longer holds the version the saga wrote (a newer write landed since, e.g. a
   * nightly batch page): nothing written, the newer data stays.
   */
  | { readonly kind: 'superseded'; readonly currentVersion: number | null };

/** Output of {@link RegionStore.replaceOrder}. */
export type ReplaceOrderResult =
  | { readonly kind: 'applied'; readonly previousVersion: number | null }
  /** The region already holds this version: nothing written (idempotent retry). */
  | { readonly kind: 'unchanged'; readonly previousVersion: number }
  /** The region holds a newer version: nothing written. */
  | { readonly kind: 'stale'; readonly previousVersion: number }
  | { readonly kind: 'rejected'; readonly reason: 'residency-violation'; readonly detail: string };

/**
 * One region's database, as the sync needs it. One instance per region; safe to share between
 * concurrent activities of one process.
 */
export interface RegionStore {
  readonly region: RegionId;

  /**
   * Creates or upgrades the sync schema (sync columns, change-cursor machinery, `sync_checkpoint`,
   * `sync_audit`) for these tables. Idempotent. Business tables that do not exist are created
   * with the mapped columns (the embedded default); existing ones only gain sync columns.
   */
  migrate(tables: readonly TableMapping[]): Promise<void>;

  /**
   * The highest change value committed and visible now (decimal string, `'0'` when empty).
   * Every change at or below it is readable; none above it existed when it was taken.
   */
  highWaterMark(table: TableMapping): Promise<string>;

  /** Reads up to `limit` changes after the cursor in (change, key) order. Never uses OFFSET. */
  readChanges(request: ReadChangesRequest): Promise<ChangePage>;

  /**
   * Counts the changes {@link readChanges} would return for the same bounds whose origin passes
   * the filter, up to `limit`, without reading the rows.
   */
  countChanges(request: CountChangesRequest): Promise<ChangeCount>;

  /**
   * Upserts a page under the conflict policy and stores the checkpoint and the audit record, all in
   * one transaction. Idempotent: applying the same page twice changes nothing the second time
   * (identical versions are not rewritten, so no new change value is produced either).
   */
  applyPage(request: ApplyPageRequest): Promise<ApplyPageResult>;

  /** The last checkpoint stored for this link and table, or null. */
  getCheckpoint(link: LinkId, table: string): Promise<Checkpoint | null>;

  /** Rows in the store's key order after `afterKey` (tombstones included). */
  readRows(request: ReadRowsRequest): Promise<readonly SyncRow[]>;

  /** Reads header and (non-deleted and deleted) lines of one order; null when absent. */
  readOrder(tables: OrderTables, key: OrderKey): Promise<OrderAggregate | null>;

  /**
   * Replaces one order (header + lines) in one transaction, guarded by the header's version:
   * an older or equal version writes nothing. Lines absent from the new aggregate become
   * tombstones so the deletion replicates.
   */
  replaceOrder(
    tables: OrderTables,
    order: OrderAggregate,
    guard: ResidencyGuard,
  ): Promise<ReplaceOrderResult>;

  /** Captures what compensation needs to undo a {@link replaceOrder}. */
  snapshotOrder(tables: OrderTables, key: OrderKey): Promise<OrderSnapshot>;

  /**
   * Compensation of a {@link replaceOrder} that wrote version `wroteVersion`: only while the
   * region still holds that version, puts the order back as in the snapshot, in one transaction.
   * Nothing is hard-deleted: lines the snapshot lacks, and the header of an order that was absent,
   * become tombstones (an absent order's tombstone carries no version, so any version may apply
   * later). Every restored row gets a new change value, so the undo replicates. Idempotent.
   */
  restoreOrder(
    tables: OrderTables,
    snapshot: OrderSnapshot,
    wroteVersion: number,
  ): Promise<RestoreOrderResult>;

  /** Records a border crossing outside a page (e.g. an order apply or a repair). */
  recordAudit(entry: AuditEntry): Promise<void>;

  /** Audit records for a run, oldest first. */
  readAudit(runId: string): Promise<readonly AuditEntry[]>;

  /** Releases connections / file handles. Idempotent. */
  close(): Promise<void>;
}

/** Where one staged page belongs. */
export interface PageRef extends LinkId {
  readonly runId: string;
  readonly table: string;
  /** 0-based page number within the link and run. */
  readonly page: number;
}

/** What {@link BlobStaging.writePage} returns: only small values, so durable history stays small. */
export interface StagedPage {
  /** Blob name, to pass to {@link BlobStaging.readPage}. */
  readonly blob: string;
  readonly rows: number;
  /** Compressed size in bytes. */
  readonly bytes: number;
}

/**
 * Blob staging of extracted pages between extract and apply (gzip JSON, column names once per
 * page; rows read back exactly as written, including which columns each row carries).
 * Writing the same page again overwrites it, so a retried extract is harmless.
 */
export interface BlobStaging {
  /** Creates the container if needed. Idempotent. */
  init(): Promise<void>;
  writePage(ref: PageRef, rows: readonly SyncRow[]): Promise<StagedPage>;
  readPage(blob: string): Promise<SyncRow[]>;
  /** Blob names of one run's pages, in page order within each link. */
  listRunPages(flow: string, runId: string): Promise<string[]>;
  /** Deletes one run's pages; returns how many were deleted. */
  deleteRun(flow: string, runId: string): Promise<number>;
  /** Retention: deletes every staged page last modified before `cutoff` (ISO-8601); returns the count. */
  purgeOlderThan(cutoff: string): Promise<number>;
  /** Health: the store answers now (no retries, bounded by `timeoutMs`); throws what is wrong. */
  probe(timeoutMs?: number): Promise<void>;
}
