/**
 * What the orderApply saga needs beyond the order tables (ARCHITECTURE §6.4): the hub's product
 * catalog, the after-sales records (a warranty entitlement per device line) and the sync receipts
 * written back to the source region. The port is implemented in adapters/ beside each region's
 * store; the rules here are pure.
 */
import type { OrderSnapshot, RegionId, SqlValue, SyncRow } from './model.js';

export type ProductCategory = 'device' | 'accessory' | 'service';

export interface CatalogProduct {
  readonly sku: string;
  readonly name: string;
  readonly category: ProductCategory;
  /** Warranty of a device, in months; null for products without one. */
  readonly warrantyMonths: number | null;
}

/** One after-sales record: the warranty of one device line of one order version. */
export interface WarrantyEntitlement {
  readonly orderId: string;
  readonly version: number;
  readonly lineNo: number;
  readonly sku: string;
  readonly quantity: number;
  readonly sourceRegion: RegionId;
  /** ISO-8601 UTC. */
  readonly startsAt: string;
  readonly endsAt: string;
}

export type ReceiptStatus = 'applied' | 'failed' | 'stale';

/** Written in the source region: what became of one version of one of its orders. */
export interface SyncReceipt {
  readonly orderId: string;
  readonly version: number;
  readonly status: ReceiptStatus;
  /** Why it failed (or was stale); null when applied. */
  readonly reason: string | null;
  /** The hub's version of the order after the saga. */
  readonly hubVersion: number | null;
  /** The saga's instance id. */
  readonly sagaId: string;
  readonly at: string;
  /**
   * When the broker enqueued the event an applied receipt answers (the order latency is
   * `at - enqueuedAt`); absent when unknown (failed, stale, or a replayed dead letter).
   */
  readonly enqueuedAt?: string | null;
}

/** One order in the saga's tables: its origin region and its id (two regions may share an id). */
export interface OrderRef {
  readonly region: RegionId;
  readonly orderId: string;
}

/**
 * The saga's tables of one region. Every write is idempotent, so a retried step or compensation
 * leaves the same rows as one run.
 */
export interface OrderSagaStore {
  readonly region: RegionId;
  /** Creates the tables if needed. Idempotent. */
  migrate(): Promise<void>;
  /** The catalog entries of these SKUs that exist (hub). */
  lookupProducts(skus: readonly string[]): Promise<ReadonlyMap<string, CatalogProduct>>;
  /** Adds or replaces catalog entries (seeding, catalog sync). */
  upsertProducts(products: readonly CatalogProduct[]): Promise<void>;
  /**
   * Makes these the order's live entitlements, as of `version`: they replace the live records of
   * older versions, which become tombstones superseded by `version` (an empty list removes them,
   * as for a deleted order). Nothing is written when a newer version registered already (returns
   * 0); else returns how many are stored. Idempotent.
   */
  registerEntitlements(
    order: OrderRef,
    version: number,
    rows: readonly WarrantyEntitlement[],
  ): Promise<number>;
  /**
   * Compensation of {@link registerEntitlements}: tombstones the records of `version` and makes
   * the records it superseded live again, unless a newer version registered since (then nothing
   * changes). Returns how many records it tombstoned. Idempotent.
   */
  removeEntitlements(order: OrderRef, version: number): Promise<number>;
  /** The order's live entitlements, by version and line. */
  readEntitlements(order: OrderRef): Promise<readonly WarrantyEntitlement[]>;
  /**
   * The hub's order as it was before saga `sagaId` first changed it: taken with `take` and stored
   * on the first call, returned as stored on every later one (a retried step must not snapshot
   * its own write). Kept in the store, not in durable history, so big orders keep history small.
   * Snapshots older than `retainDays` before `now` are pruned on the way.
   */
  keepSnapshot(
    sagaId: string,
    take: () => Promise<OrderSnapshot>,
    now: string,
    retainDays?: number,
  ): Promise<OrderSnapshot>;
  /** The stored snapshot of a saga, or null when it never took one. */
  readSnapshot(sagaId: string): Promise<OrderSnapshot | null>;
  /** Inserts or replaces the receipt of (originRegion, orderId, version). */
  writeReceipt(originRegion: RegionId, receipt: SyncReceipt): Promise<void>;
  readReceipts(order: OrderRef): Promise<readonly SyncReceipt[]>;
  /**
   * Receipts written at or after `since` (ISO-8601), newest first, at most `limit`, with the
   * region each order originated in (the operations dashboard).
   */
  recentReceipts(
    since: string,
    limit: number,
  ): Promise<readonly (SyncReceipt & { readonly region: RegionId })[]>;
  close(): Promise<void>;
}

export type EntitlementPlan =
  | { readonly kind: 'ok'; readonly rows: readonly WarrantyEntitlement[] }
  /** A business rejection: the hub catalog does not know these SKUs. */
  | { readonly kind: 'unknown-skus'; readonly skus: readonly string[] };

function addMonths(iso: string, months: number): string {
  const d = new Date(iso);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString();
}

const asNumber = (v: SqlValue | undefined, fallback: number): number =>
  typeof v === 'number' && Number.isFinite(v) ? v : fallback;

/**
 * Plans the entitlements of an order version from its live lines and the hub catalog: one per
 * device line, starting when the order changed. Every SKU must be known to the catalog, devices or
 * not; deleted orders and deleted lines entitle nothing.
 */
export function planEntitlements(
  input: {
    readonly orderId: string;
    readonly version: number;
    readonly sourceRegion: RegionId;
    readonly startsAt: string;
    readonly lines: readonly SyncRow[];
  },
  catalog: ReadonlyMap<string, CatalogProduct>,
): EntitlementPlan {
  const live = input.lines.filter((l) => !l.isDeleted);
  const unknown = [...new Set(live.map((l) => String(l.values.sku)).filter((s) => !catalog.has(s)))].sort();
  if (unknown.length > 0) return { kind: 'unknown-skus', skus: unknown };
  const rows: WarrantyEntitlement[] = [];
  for (const line of live) {
    const product = catalog.get(String(line.values.sku)) as CatalogProduct;
    if (product.category !== 'device' || product.warrantyMonths === null) continue;
    rows.push({
      orderId: input.orderId,
      version: input.version,
      lineNo: asNumber(line.values.line_no, 0),
      sku: product.sku,
      quantity: asNumber(line.values.quantity, 1),
      sourceRegion: input.sourceRegion,
      startsAt: input.startsAt,
      endsAt: addMonths(input.startsAt, product.warrantyMonths),
    });
  }
  return { kind: 'ok', rows };
}
