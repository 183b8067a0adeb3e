import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteRegionStore } from '../../adapters/sqliteRegionStore.js';
import { priceMapping } from '../support/syncFixtures.js';

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
