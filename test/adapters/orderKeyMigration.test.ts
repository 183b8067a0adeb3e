/**
 * Orders keyed by (origin region, order id), issue 12 point 1: a SQLite region database created by
 * the schema before that change (sales_order keyed by order_id, lines by (order_id, line_no),
 * entitlements and receipts by order id, sync_audit without effects) is migrated in place with its
 * data, after which two regions' orders with the same id live side by side.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteOrderSagaStore } from '../../adapters/sqliteOrderSaga.js';
import { SqliteRegionStore } from '../../adapters/sqliteRegionStore.js';
import { OPEN_GUARD } from '../../sync/model.js';
import { order, orderTables } from '../support/syncFixtures.js';

/** What the schema of the previous build created (business tables, sync tables, saga tables). */
const OLD_SCHEMA = `
  CREATE TABLE sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  INSERT INTO sync_meta (key, value) VALUES ('schema_version', '1');
  CREATE TABLE sync_change_counter (table_name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  CREATE TABLE sync_checkpoint (flow TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,
    table_name TEXT NOT NULL, cursor_change TEXT NOT NULL, cursor_key TEXT NOT NULL, run_id TEXT NOT NULL,
    updated_at TEXT NOT NULL, PRIMARY KEY (flow, source, target, table_name));
  CREATE TABLE sync_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, flow TEXT NOT NULL,
    source TEXT NOT NULL, target TEXT NOT NULL, table_name TEXT NOT NULL, rows INTEGER NOT NULL,
    written INTEGER NOT NULL, policy TEXT NOT NULL, at TEXT NOT NULL);
  CREATE INDEX sync_audit_run ON sync_audit (run_id, id);
  CREATE TABLE sales_order ("order_id", "home_region", "version", "customer_email", "total_amount", "status",
    modified_at TEXT NOT NULL, origin_region TEXT NOT NULL, is_deleted INTEGER NOT NULL DEFAULT 0,
    change_seq INTEGER, PRIMARY KEY ("order_id"));
  CREATE INDEX sync_cs_sales_order ON sales_order (change_seq, "order_id");
  CREATE TABLE sales_order_line ("order_id", "line_no", "home_region", "sku", "quantity",
    modified_at TEXT NOT NULL, origin_region TEXT NOT NULL, is_deleted INTEGER NOT NULL DEFAULT 0,
    change_seq INTEGER, PRIMARY KEY ("order_id", "line_no"));
  CREATE TABLE warranty_entitlement (order_id TEXT NOT NULL, version INTEGER NOT NULL, line_no INTEGER NOT NULL,
    sku TEXT NOT NULL, quantity INTEGER NOT NULL, source_region TEXT NOT NULL, starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL, PRIMARY KEY (order_id, version, line_no));
  CREATE TABLE order_saga_snapshot (saga_id TEXT PRIMARY KEY, snapshot TEXT NOT NULL, saved_at TEXT NOT NULL);
  CREATE TABLE order_sync_receipt (order_id TEXT NOT NULL, version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('applied', 'failed', 'stale')), reason TEXT, hub_version INTEGER,
    saga_id TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (order_id, version));`;

const AT = '2026-03-01T08:00:00.000Z';

function oldDatabase(file: string): void {
  const db = new BetterSqlite3(file);
  db.exec(OLD_SCHEMA);
  const header = db.prepare(`INSERT INTO sales_order VALUES (?, ?, ?, NULL, ?, 'open', ?, ?, 0, ?)`);
  const line = db.prepare(`INSERT INTO sales_order_line VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)`);
  // The hub holds sea order o2-3 v5 with 5 lines (and one latam order).
  header.run('o2-3', 'sea', 5, 50, AT, 'sea', 1);
  for (let i = 1; i <= 5; i++) line.run('o2-3', i, 'sea', `SKU-${i - 1}`, 5 + i - 1, AT, 'sea', i);
  header.run('la-1', 'latam', 2, 10, AT, 'latam', 2);
  line.run('la-1', 1, 'latam', 'SKU-0', 2, AT, 'latam', 6);
  const ent = db.prepare(`INSERT INTO warranty_entitlement VALUES (?, ?, ?, 'PHONE-X1', 1, 'sea', ?, ?)`);
  // Accumulated by the old build: three versions of one order.
  for (const v of [3, 4, 5]) ent.run('o2-3', v, 1, AT, '2028-03-01T08:00:00.000Z');
  db.prepare(
    `INSERT INTO order_sync_receipt VALUES ('o2-3', 5, 'applied', NULL, 5, 'order-sea-o2-3-v5', ?)`,
  ).run(AT);
  db.prepare(
    `INSERT INTO sync_audit (run_id, flow, source, target, table_name, rows, written, policy, at)
     VALUES ('order-sea-o2-3-v5', 'orders', 'sea', 'cn', 'sales_order', 6, 6, 'old', ?)`,
  ).run(AT);
  db.close();
}

describe('order key migration of a SQLite database created by the old schema', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'order-rekey-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('rebuilds the keys with every row kept; then a valid EU o2-3 v98 leaves the sea o2-3 v5 untouched', async () => {
    const file = path.join(dir, 'cn.sqlite');
    oldDatabase(file);
    const tables = orderTables();
    const store = new SqliteRegionStore({ region: 'cn', file });
    const saga = new SqliteOrderSagaStore({ region: 'cn', file });
    try {
      await store.migrate([tables.header, tables.lines]);
      await saga.migrate();
      await store.migrate([tables.header, tables.lines]); // idempotent
      await saga.migrate();
      const db = store.database;
      const pk = (t: string) =>
        (
          db.prepare('SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk').all(t) as {
            name: string;
          }[]
        ).map((r) => r.name);
      assert.deepEqual(pk('sales_order'), ['home_region', 'order_id']);
      assert.deepEqual(pk('sales_order_line'), ['home_region', 'order_id', 'line_no']);
      assert.deepEqual(pk('warranty_entitlement'), ['source_region', 'order_id', 'version', 'line_no']);
      assert.deepEqual(pk('order_sync_receipt'), ['origin_region', 'order_id', 'version']);

      const sea = { region: 'sea', orderId: 'o2-3' };
      const before = await store.readOrder(tables, sea);
      assert.equal(before?.header.values.version, 5);
      assert.equal(before?.lines.filter((l) => !l.isDeleted).length, 5);
      assert.equal((await store.readOrder(tables, { region: 'latam', orderId: 'la-1' }))?.lines.length, 1);
      // Change values survive the rebuild, and the triggers are back: a CRM update gets a new one.
      assert.deepEqual(
        db.prepare('SELECT change_seq FROM sales_order ORDER BY change_seq').pluck().all(),
        [1, 2],
      );
      db.prepare("UPDATE sales_order SET status = 'paid' WHERE order_id = 'la-1'").run();
      assert.ok(
        (db.prepare("SELECT change_seq FROM sales_order WHERE order_id = 'la-1'").pluck().get() as number) >
          2,
      );

      // Only the newest version's entitlements are live; older ones are tombstones, not lost.
      assert.deepEqual(
        (await saga.readEntitlements(sea)).map((e) => e.version),
        [5],
      );
      assert.equal(db.prepare('SELECT count(*) FROM warranty_entitlement').pluck().get(), 3);
      // Receipts are written in the order's origin region: existing ones take the database's region.
      assert.deepEqual(
        (await saga.readReceipts({ region: 'cn', orderId: 'o2-3' })).map((r) => [r.version, r.status]),
        [[5, 'applied']],
      );
      assert.equal((await store.readAudit('order-sea-o2-3-v5')).length, 1);

      // The repro of issue 12: a valid EU event for o2-3 v98.
      const eu = order('o2-3', 98, 2, 'eu');
      assert.deepEqual(await store.replaceOrder(tables, eu, OPEN_GUARD), {
        kind: 'applied',
        previousVersion: null,
      });
      assert.deepEqual(await store.readOrder(tables, sea), before, 'sea o2-3 v5 untouched');
      assert.deepEqual(await store.readOrder(tables, { region: 'eu', orderId: 'o2-3' }), eu);
    } finally {
      await saga.close();
      await store.close();
    }
  });

  it('refuses, with the count, rows that have no value for a column the key gains (nothing guessed or lost)', async () => {
    const file = path.join(dir, 'orphans.sqlite');
    oldDatabase(file);
    const raw = new BetterSqlite3(file);
    raw.prepare("UPDATE sales_order SET home_region = NULL WHERE order_id = 'la-1'").run();
    raw.close();
    const tables = orderTables();
    const store = new SqliteRegionStore({ region: 'cn', file });
    try {
      await assert.rejects(store.migrate([tables.header]), /1 rows of sales_order have no home_region/);
      assert.equal(store.database.prepare('SELECT count(*) FROM sales_order').pluck().get(), 2);
    } finally {
      await store.close();
    }
  });
});
