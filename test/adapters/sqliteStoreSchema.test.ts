import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteRegionStore } from '../../adapters/sqliteRegionStore.js';
import { pageRequest } from '../support/storeConformance.js';
import { priceMapping, priceRow } from '../support/syncFixtures.js';

function indexes(store: SqliteRegionStore, table: string): string[] {
  return (
    store.database.prepare('SELECT name FROM pragma_index_list(?) ORDER BY name').all(table) as {
      name: string;
    }[]
  ).map((r) => r.name);
}

describe('SQLite sync schema: one unique index on the key', () => {
  it('a table the store creates keeps its primary key as the only key index', async () => {
    const store = new SqliteRegionStore({ region: 'sea', file: ':memory:' });
    await store.migrate([priceMapping()]);
    await store.migrate([priceMapping()]); // idempotent
    assert.deepEqual(indexes(store, 'price_list'), ['sqlite_autoindex_price_list_1', 'sync_cs_price_list']);
    await store.close();
  });

  it('an existing table without a unique key index gets one; a redundant one from before is dropped', async () => {
    const store = new SqliteRegionStore({ region: 'sea', file: ':memory:' });
    const db = store.database;
    db.exec('CREATE TABLE crm_prices (sku TEXT, currency TEXT, list_price REAL, price_book TEXT)');
    db.exec("INSERT INTO crm_prices VALUES ('A', 'USD', 1.5, 'b')");
    await store.migrate([priceMapping('crm_prices')]);
    assert.ok(indexes(store, 'crm_prices').includes('sync_uk_crm_prices'));
    // A CRM table with its own key plus the index an earlier version added: the copy goes.
    db.exec(
      'CREATE TABLE keyed (sku TEXT, currency TEXT, list_price REAL, price_book TEXT, PRIMARY KEY (currency, sku))',
    );
    db.exec('CREATE UNIQUE INDEX sync_uk_keyed ON keyed (sku, currency)');
    await store.migrate([priceMapping('keyed')]);
    assert.ok(!indexes(store, 'keyed').includes('sync_uk_keyed'));
    // A NOCASE key index cannot serve the upsert's conflict target: ours is kept.
    db.exec('CREATE TABLE nocase (sku TEXT, currency TEXT, list_price REAL, price_book TEXT)');
    db.exec('CREATE UNIQUE INDEX crm_nocase ON nocase (sku COLLATE NOCASE, currency)');
    await store.migrate([priceMapping('nocase')]);
    assert.ok(indexes(store, 'nocase').includes('sync_uk_nocase'));
    await store.close();
  });
});

describe('SQLite change tracking around a large page', () => {
  const triggerSql = (store: SqliteRegionStore): string[] =>
    store.database
      .prepare(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'price_list' ORDER BY name",
      )
      .pluck()
      .all() as string[];
  const changeOf = (store: SqliteRegionStore, sku: string): number =>
    store.database.prepare('SELECT change_seq FROM price_list WHERE sku = ?').pluck().get(sku) as number;
  const large = Array.from({ length: 1500 }, (_, i) => priceRow(i));

  it('the triggers the page suspends come back unchanged and still track other writers', async () => {
    const store = new SqliteRegionStore({ region: 'sea', file: ':memory:' });
    await store.migrate([priceMapping()]);
    const before = triggerSql(store);
    assert.equal(before.length, 2);
    await store.applyPage(pageRequest(priceMapping(), large, { change: '1500', key: ['SKU-001499', 'EUR'] }));
    assert.deepEqual(triggerSql(store), before);
    const top = store.database.prepare('SELECT max(change_seq) FROM price_list').pluck().get() as number;
    assert.equal(top, 1500);
    // A CRM insert that leaves change_seq alone, and a CRM update of a synced row, are tracked.
    store.database.exec(
      "INSERT INTO price_list (sku, currency, list_price, price_book, modified_at, origin_region) VALUES ('CRM-1', 'USD', 1, 'b', '2026-01-01T00:00:00.000Z', 'sea')",
    );
    assert.equal(changeOf(store, 'CRM-1'), 1501);
    store.database.exec("UPDATE price_list SET list_price = 2 WHERE sku = 'SKU-000000'");
    assert.equal(changeOf(store, 'SKU-000000'), 1502);
    await store.close();
  });

  it('a page that fails midway leaves the triggers in place, and nothing of the page', async () => {
    const store = new SqliteRegionStore({ region: 'sea', file: ':memory:' });
    await store.migrate([priceMapping()]);
    const before = triggerSql(store);
    // modified_at is NOT NULL: row 1200 fails inside the transaction, after the suspension.
    const broken = large.map((r, i) => (i === 1200 ? { ...r, modifiedAt: null as unknown as string } : r));
    await assert.rejects(
      store.applyPage(pageRequest(priceMapping(), broken, { change: '1', key: ['x', 'y'] })),
    );
    assert.deepEqual(triggerSql(store), before);
    assert.equal(store.database.prepare('SELECT count(*) FROM price_list').pluck().get(), 0);
    assert.equal(
      await store.getCheckpoint({ flow: 'pricing', source: 'cn', target: 'sea' }, 'price_list'),
      null,
    );
    store.database.exec(
      "INSERT INTO price_list (sku, currency, list_price, price_book, modified_at, origin_region) VALUES ('CRM-1', 'USD', 1, 'b', '2026-01-01T00:00:00.000Z', 'sea')",
    );
    assert.equal(changeOf(store, 'CRM-1'), 1);
    await store.close();
  });

  it('a small page leaves the schema alone (no schema change for saga-sized writes)', async () => {
    const store = new SqliteRegionStore({ region: 'sea', file: ':memory:' });
    await store.migrate([priceMapping()]);
    const version = () => store.database.pragma('schema_version', { simple: true }) as number;
    const v0 = version();
    await store.applyPage(pageRequest(priceMapping(), large.slice(0, 10), { change: '10', key: ['x', 'y'] }));
    assert.equal(version(), v0);
    await store.applyPage(pageRequest(priceMapping(), large, { change: '1510', key: ['x', 'y'] }));
    assert.ok(version() > v0, 'a large page suspends the triggers');
    await store.close();
  });
});
