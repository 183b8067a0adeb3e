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
  OrderSagaStore,
  ProductCategory,
  ReceiptStatus,
  SyncReceipt,
  WarrantyEntitlement,
} from '../sync/orderSaga.js';
import { translateSqliteError } from './sqliteRegionStore.js';

const SCHEMA = `
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
  );`;

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
    this.run('migrate order saga tables', () => this.db.exec(SCHEMA));
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
    orderId: string,
    version: number,
    rows: readonly WarrantyEntitlement[],
  ): Promise<number> {
    return this.run('registerEntitlements', () => {
      const del = this.db.prepare('DELETE FROM warranty_entitlement WHERE order_id = ? AND version = ?');
      const ins = this.db.prepare(
        `INSERT INTO warranty_entitlement (order_id, version, line_no, sku, quantity, source_region, starts_at, ends_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      this.db
        .transaction(() => {
          del.run(orderId, version);
          for (const r of rows)
            ins.run(r.orderId, r.version, r.lineNo, r.sku, r.quantity, r.sourceRegion, r.startsAt, r.endsAt);
        })
        .immediate();
      return rows.length;
    });
  }

  async removeEntitlements(orderId: string, version: number): Promise<number> {
    return this.run(
      'removeEntitlements',
      () =>
        this.db
          .prepare('DELETE FROM warranty_entitlement WHERE order_id = ? AND version = ?')
          .run(orderId, version).changes,
    );
  }

  async readEntitlements(orderId: string): Promise<readonly WarrantyEntitlement[]> {
    return this.run('readEntitlements', () =>
      (
        this.db
          .prepare(
            `SELECT order_id, version, line_no, sku, quantity, source_region, starts_at, ends_at
             FROM warranty_entitlement WHERE order_id = ? ORDER BY version, line_no`,
          )
          .all(orderId) as {
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

  async writeReceipt(receipt: SyncReceipt): Promise<void> {
    this.run('writeReceipt', () => {
      this.db
        .prepare(
          `INSERT INTO order_sync_receipt (order_id, version, status, reason, hub_version, saga_id, at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(order_id, version) DO UPDATE SET status = excluded.status, reason = excluded.reason,
             hub_version = excluded.hub_version, saga_id = excluded.saga_id, at = excluded.at`,
        )
        .run(
          receipt.orderId,
          receipt.version,
          receipt.status,
          receipt.reason,
          receipt.hubVersion,
          receipt.sagaId,
          receipt.at,
        );
    });
  }

  async readReceipts(orderId: string): Promise<readonly SyncReceipt[]> {
    return this.run('readReceipts', () =>
      (
        this.db
          .prepare(
            `SELECT order_id, version, status, reason, hub_version, saga_id, at
             FROM order_sync_receipt WHERE order_id = ? ORDER BY version`,
          )
          .all(orderId) as {
          order_id: string;
          version: number;
          status: ReceiptStatus;
          reason: string | null;
          hub_version: number | null;
          saga_id: string;
          at: string;
        }[]
      ).map((r) => ({
        orderId: r.order_id,
        version: r.version,
        status: r.status,
        reason: r.reason,
        hubVersion: r.hub_version,
        sagaId: r.saga_id,
        at: r.at,
      })),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
