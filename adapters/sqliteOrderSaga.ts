/**
 * SQLite implementation of the order saga's tables (sync/orderSaga.ts) in one region's database
 * file, beside the tables of {@link SqliteRegionStore}: `product_catalog` (read in the hub),
 * `warranty_entitlement` (after-sales records, hub) and `order_sync_receipt` (source regions).
 *
 * It opens its own connection to the region's file (WAL, busy timeout), so the RegionStore port
 * stays as it is; every statement is a short synchronous transaction.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { SyncError } from '../sync/errors.js';
import type { OrderSnapshot, RegionId } from '../sync/model.js';
import type {
  CatalogProduct,
  OrderRef,
  OrderSagaStore,
  ProductCategory,
  ReceiptStatus,
  SyncReceipt,
  WarrantyEntitlement,
} from '../sync/orderSaga.js';
import { translateSqliteError } from './sqliteRegionStore.js';

/**
 * Ordered migrations of the saga tables; append only. The applied count is kept in `sync_meta`
 * (`order_saga_schema_version`), beside the region store's own version.
 */
const MIGRATIONS: readonly ((region: RegionId) => string)[] = [
  () => `
  CREATE TABLE IF NOT EXISTS product_catalog (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('device', 'accessory', 'service')),
    warranty_months INTEGER
  );
  CREATE TABLE IF NOT EXISTS warranty_entitlement (
    order_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    source_region TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    PRIMARY KEY (order_id, version, line_no)
  );
  CREATE TABLE IF NOT EXISTS order_saga_snapshot (
    saga_id TEXT PRIMARY KEY,
    snapshot TEXT NOT NULL,
    saved_at TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS order_saga_snapshot_saved ON order_saga_snapshot (saved_at);
  CREATE TABLE IF NOT EXISTS order_sync_receipt (
    order_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('applied', 'failed', 'stale')),
    reason TEXT,
    hub_version INTEGER,
    saga_id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (order_id, version)
  );`,
  // Orders are keyed by (origin region, order id). Entitlements: one live set per order (older
  // versions' rows become tombstones superseded by the newer version, so a compensation can
  // revive them); rows accumulated by older builds are tombstoned here, superseded by the newest.
  // Receipts live in the order's origin region, so existing ones take this region.
  (region) => `
  CREATE TABLE warranty_entitlement_rekey (
    source_region TEXT NOT NULL,
    order_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0,
    superseded_by INTEGER,
    PRIMARY KEY (source_region, order_id, version, line_no)
  );
  INSERT INTO warranty_entitlement_rekey
    (source_region, order_id, version, line_no, sku, quantity, starts_at, ends_at, is_deleted, superseded_by)
  SELECT w.source_region, w.order_id, w.version, w.line_no, w.sku, w.quantity, w.starts_at, w.ends_at,
         w.version < n.newest, CASE WHEN w.version < n.newest THEN n.newest END
  FROM warranty_entitlement AS w
  JOIN (SELECT source_region, order_id, max(version) AS newest FROM warranty_entitlement
        GROUP BY source_region, order_id) AS n
    ON n.source_region = w.source_region AND n.order_id = w.order_id;
  DROP TABLE warranty_entitlement;
  ALTER TABLE warranty_entitlement_rekey RENAME TO warranty_entitlement;
  CREATE TABLE order_sync_receipt_rekey (
    origin_region TEXT NOT NULL,
    order_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('applied', 'failed', 'stale')),
    reason TEXT,
    hub_version INTEGER,
    saga_id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (origin_region, order_id, version)
  );
  INSERT INTO order_sync_receipt_rekey
    (origin_region, order_id, version, status, reason, hub_version, saga_id, at)
  SELECT '${region}', order_id, version, status, reason, hub_version, saga_id, at FROM order_sync_receipt;
  DROP TABLE order_sync_receipt;
  ALTER TABLE order_sync_receipt_rekey RENAME TO order_sync_receipt;`,
  // The broker's enqueue time of an applied event (order latency), and receipts listed by time.
  () => `
  ALTER TABLE order_sync_receipt ADD COLUMN enqueued_at TEXT;
  CREATE INDEX order_sync_receipt_at ON order_sync_receipt (at);`,
];

export const SQLITE_ORDER_SAGA_SCHEMA_VERSION = MIGRATIONS.length;

const ENTITLEMENT_COLUMNS = 'source_region, order_id, version, line_no, sku, quantity, starts_at, ends_at';

const RECEIPT_COLUMNS = 'order_id, version, status, reason, hub_version, saga_id, at, enqueued_at';

interface ReceiptRow {
  order_id: string;
  version: number;
  status: ReceiptStatus;
  reason: string | null;
  hub_version: number | null;
  saga_id: string;
  at: string;
  enqueued_at: string | null;
}

const receiptOf = (r: ReceiptRow): SyncReceipt => ({
  orderId: r.order_id,
  version: r.version,
  status: r.status,
  reason: r.reason,
  hubVersion: r.hub_version,
  sagaId: r.saga_id,
  at: r.at,
  ...(r.enqueued_at === null ? {} : { enqueuedAt: r.enqueued_at }),
});

export interface SqliteOrderSagaOptions {
  readonly region: RegionId;
  readonly file: string;
  readonly busyTimeoutMs?: number;
}

export class SqliteOrderSagaStore implements OrderSagaStore {
  readonly region: RegionId;
  private readonly db: Database;
  private closed = false;

  constructor(options: SqliteOrderSagaOptions) {
    this.region = options.region;
    try {
      if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
      this.db = new BetterSqlite3(options.file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    } catch (e) {
      throw translateSqliteError(e, `open ${options.file}`);
    }
  }

  private run<T>(what: string, fn: () => T): T {
    if (this.closed)
      throw new SyncError('connection', `${what}: saga store of region '${this.region}' is closed`, {
        retryable: false,
      });
    try {
      return fn();
    } catch (e) {
      throw translateSqliteError(e, what);
    }
  }

  async migrate(): Promise<void> {
    // The region id becomes a literal of a migration; it passed the config pattern, checked again.
    if (!/^[a-z][a-z0-9-]*$/.test(this.region))
      throw new SyncError('invalid-config', `invalid region id ${JSON.stringify(this.region)}`);
    this.run('migrate order saga tables', () => {
      this.db.exec('CREATE TABLE IF NOT EXISTS sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      this.db
        .transaction(() => {
          const row = this.db
            .prepare("SELECT value FROM sync_meta WHERE key = 'order_saga_schema_version'")
            .get() as { value: string } | undefined;
          const current = row === undefined ? 0 : Number(row.value);
          if (!Number.isInteger(current) || current > MIGRATIONS.length)
            throw new SyncError(
              'schema',
              `order saga tables are at schema version ${String(row?.value)}, newer than this build (${MIGRATIONS.length})`,
            );
          for (let v = current; v < MIGRATIONS.length; v++)
            this.db.exec((MIGRATIONS[v] as (region: RegionId) => string)(this.region));
          this.db
            .prepare(
              `INSERT INTO sync_meta (key, value) VALUES ('order_saga_schema_version', ?)
               ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
            )
            .run(String(Math.max(current, MIGRATIONS.length)));
        })
        .immediate();
    });
  }

  async lookupProducts(skus: readonly string[]): Promise<ReadonlyMap<string, CatalogProduct>> {
    return this.run('lookupProducts', () => {
      const stmt = this.db.prepare(
        'SELECT sku, name, category, warranty_months FROM product_catalog WHERE sku = ?',
      );
      const out = new Map<string, CatalogProduct>();
      for (const sku of new Set(skus)) {
        const r = stmt.get(sku) as
          | { sku: string; name: string; category: ProductCategory; warranty_months: number | null }
          | undefined;
        if (r !== undefined)
          out.set(sku, { sku: r.sku, name: r.name, category: r.category, warrantyMonths: r.warranty_months });
      }
      return out;
    });
  }

  async upsertProducts(products: readonly CatalogProduct[]): Promise<void> {
    this.run('upsertProducts', () => {
      const stmt = this.db.prepare(
        `INSERT INTO product_catalog (sku, name, category, warranty_months) VALUES (?, ?, ?, ?)
         ON CONFLICT(sku) DO UPDATE SET name = excluded.name, category = excluded.category,
           warranty_months = excluded.warranty_months`,
      );
      this.db.transaction(() => {
        for (const p of products) stmt.run(p.sku, p.name, p.category, p.warrantyMonths);
      })();
    });
  }

  async registerEntitlements(
    order: OrderRef,
    version: number,
    rows: readonly WarrantyEntitlement[],
  ): Promise<number> {
    for (const r of rows)
      if (r.orderId !== order.orderId || r.sourceRegion !== order.region || r.version !== version)
        throw new SyncError(
          'invalid-config',
          `entitlement ${r.sourceRegion}:${r.orderId} v${r.version} is not one of ${order.region}:${order.orderId} v${version}`,
        );
    return this.run('registerEntitlements', () => {
      const newer = this.db.prepare(
        `SELECT 1 FROM warranty_entitlement WHERE source_region = ? AND order_id = ?
           AND (version > ? OR superseded_by > ?) LIMIT 1`,
      );
      const upsert = this.db.prepare(
        `INSERT INTO warranty_entitlement (${ENTITLEMENT_COLUMNS}, is_deleted, superseded_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, NULL)
         ON CONFLICT (source_region, order_id, version, line_no) DO UPDATE SET sku = excluded.sku,
           quantity = excluded.quantity, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
           is_deleted = 0, superseded_by = NULL`,
      );
      const dropOwn = this.db.prepare(
        `UPDATE warranty_entitlement SET is_deleted = 1 WHERE source_region = ? AND order_id = ? AND version = ?
           AND is_deleted = 0 AND line_no NOT IN (SELECT value FROM json_each(?))`,
      );
      const supersede = this.db.prepare(
        `UPDATE warranty_entitlement SET is_deleted = 1, superseded_by = ?
         WHERE source_region = ? AND order_id = ? AND version < ? AND is_deleted = 0`,
      );
      return this.db
        .transaction((): number => {
          // A newer version of the order registered already: it replaced this one's records.
          if (newer.get(order.region, order.orderId, version, version) !== undefined) return 0;
          for (const r of rows)
            upsert.run(
              order.region,
              order.orderId,
              version,
              r.lineNo,
              r.sku,
              r.quantity,
              r.startsAt,
              r.endsAt,
            );
          dropOwn.run(order.region, order.orderId, version, JSON.stringify(rows.map((r) => r.lineNo)));
          supersede.run(version, order.region, order.orderId, version);
          return rows.length;
        })
        .immediate();
    });
  }

  async removeEntitlements(order: OrderRef, version: number): Promise<number> {
    return this.run('removeEntitlements', () =>
      this.db
        .transaction((): number => {
          const newer = this.db
            .prepare(
              `SELECT 1 FROM warranty_entitlement WHERE source_region = ? AND order_id = ?
                 AND (version > ? OR superseded_by > ?) LIMIT 1`,
            )
            .get(order.region, order.orderId, version, version);
          // A newer version replaced these records since: they are tombstones already, and the
          // newer version's records stay.
          if (newer !== undefined) return 0;
          const removed = this.db
            .prepare(
              `UPDATE warranty_entitlement SET is_deleted = 1
               WHERE source_region = ? AND order_id = ? AND version = ? AND is_deleted = 0`,
            )
            .run(order.region, order.orderId, version).changes;
          // What this version replaced is live again.
          this.db
            .prepare(
              `UPDATE warranty_entitlement SET is_deleted = 0, superseded_by = NULL
               WHERE source_region = ? AND order_id = ? AND superseded_by = ?`,
            )
            .run(order.region, order.orderId, version);
          return removed;
        })
        .immediate(),
    );
  }

  async readEntitlements(order: OrderRef): Promise<readonly WarrantyEntitlement[]> {
    return this.run('readEntitlements', () =>
      (
        this.db
          .prepare(
            `SELECT ${ENTITLEMENT_COLUMNS} FROM warranty_entitlement
             WHERE source_region = ? AND order_id = ? AND is_deleted = 0 ORDER BY version, line_no`,
          )
          .all(order.region, order.orderId) as {
          order_id: string;
          version: number;
          line_no: number;
          sku: string;
          quantity: number;
          source_region: string;
          starts_at: string;
          ends_at: string;
        }[]
      ).map((r) => ({
        orderId: r.order_id,
        version: r.version,
        lineNo: r.line_no,
        sku: r.sku,
        quantity: r.quantity,
        sourceRegion: r.source_region,
        startsAt: r.starts_at,
        endsAt: r.ends_at,
      })),
    );
  }

  async keepSnapshot(
    sagaId: string,
    take: () => Promise<OrderSnapshot>,
    now: string,
    retainDays = 7,
  ): Promise<OrderSnapshot> {
    const kept = await this.readSnapshot(sagaId);
    if (kept !== null) return kept;
    const snapshot = await take();
    return this.run('keepSnapshot', () => {
      const cutoff = new Date(Date.parse(now) - retainDays * 86_400_000).toISOString();
      this.db.prepare('DELETE FROM order_saga_snapshot WHERE saved_at < ?').run(cutoff);
      this.db
        .prepare(
          'INSERT INTO order_saga_snapshot (saga_id, snapshot, saved_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
        )
        .run(sagaId, JSON.stringify(snapshot), now);
      const row = this.db
        .prepare('SELECT snapshot FROM order_saga_snapshot WHERE saga_id = ?')
        .get(sagaId) as {
        snapshot: string;
      };
      return JSON.parse(row.snapshot) as OrderSnapshot;
    });
  }

  async readSnapshot(sagaId: string): Promise<OrderSnapshot | null> {
    return this.run('readSnapshot', () => {
      const row = this.db
        .prepare('SELECT snapshot FROM order_saga_snapshot WHERE saga_id = ?')
        .get(sagaId) as { snapshot: string } | undefined;
      return row === undefined ? null : (JSON.parse(row.snapshot) as OrderSnapshot);
    });
  }

  async writeReceipt(originRegion: RegionId, receipt: SyncReceipt): Promise<void> {
    this.run('writeReceipt', () => {
      this.db
        .prepare(
          `INSERT INTO order_sync_receipt
             (origin_region, order_id, version, status, reason, hub_version, saga_id, at, enqueued_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(origin_region, order_id, version) DO UPDATE SET status = excluded.status,
             reason = excluded.reason, hub_version = excluded.hub_version, saga_id = excluded.saga_id,
             at = excluded.at, enqueued_at = excluded.enqueued_at`,
        )
        .run(
          originRegion,
          receipt.orderId,
          receipt.version,
          receipt.status,
          receipt.reason,
          receipt.hubVersion,
          receipt.sagaId,
          receipt.at,
          receipt.enqueuedAt ?? null,
        );
    });
  }

  async readReceipts(order: OrderRef): Promise<readonly SyncReceipt[]> {
    return this.run('readReceipts', () =>
      (
        this.db
          .prepare(
            `SELECT ${RECEIPT_COLUMNS} FROM order_sync_receipt
             WHERE origin_region = ? AND order_id = ? ORDER BY version`,
          )
          .all(order.region, order.orderId) as ReceiptRow[]
      ).map(receiptOf),
    );
  }

  async recentReceipts(
    since: string,
    limit: number,
  ): Promise<readonly (SyncReceipt & { readonly region: RegionId })[]> {
    return this.run('recentReceipts', () =>
      (
        this.db
          .prepare(
            `SELECT origin_region, ${RECEIPT_COLUMNS} FROM order_sync_receipt
             WHERE at >= ? ORDER BY at DESC, origin_region, order_id LIMIT ?`,
          )
          .all(since, Math.max(0, Math.floor(limit))) as (ReceiptRow & { origin_region: string })[]
      ).map((r) => ({ ...receiptOf(r), region: r.origin_region })),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
