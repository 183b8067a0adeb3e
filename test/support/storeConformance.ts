/**
 * RegionStore conformance suite: what every regional store must do, checked only through the
 * port. Run against SQLite always and against SQL Server when MSSQL_TEST_CONNECTION is set.
 */
import assert from 'node:assert/strict';
import { describe, it, after, before } from 'node:test';
import { SyncError } from '../../sync/errors.js';
import { OPEN_GUARD } from '../../sync/model.js';
import type {
  Checkpoint,
  ChangeCursor,
  ChangeRow,
  OriginFilter,
  SyncRow,
  TableMapping,
} from '../../sync/model.js';
import type { ApplyPageRequest, RegionStore } from '../../sync/ports.js';
import { compareCursor } from '../../sync/cursor.js';
import { originPasses } from '../../sync/routing.js';
import { isoAt, order, orderTables, policy, priceMapping, priceRow, ISO0 } from './syncFixtures.js';

export interface StoreUnderTest {
  /** Opens a fresh, empty store for `region` (tables are created by migrate). */
  open(region: string): Promise<RegionStore>;
  /** Physical name for a canonical table, unique to this run (SQL Server shares one database). */
  tableName(canonical: string): string;
  /** Drops whatever the run created. */
  cleanup(): Promise<void>;
}

export function pageRequest(
  table: TableMapping,
  rows: readonly SyncRow[],
  cursor: ChangeCursor,
  runId = 'run-1',
  source = 'cn',
  target = 'sea',
): ApplyPageRequest {
  const checkpoint: Checkpoint = {
    flow: 'pricing',
    source,
    target,
    table: table.canonical,
    cursor,
    runId,
    updatedAt: ISO0,
  };
  return {
    table,
    rows,
    policy: policy('last-writer-wins'),
    guard: OPEN_GUARD,
    checkpoint,
    audit: {
      flow: 'pricing',
      source,
      target,
      runId,
      table: table.canonical,
      policy: 'last-writer-wins; open',
      at: ISO0,
    },
  };
}

const keyOf = (r: SyncRow) => `${String(r.values.sku)}|${String(r.values.currency)}`;

async function readAll(store: RegionStore, table: TableMapping, limit: number, upTo?: string) {
  const seen: { key: string; change: string; row: ChangeRow }[] = [];
  let after: ChangeCursor | null = null;
  for (;;) {
    const page = await store.readChanges({ table, after, limit, ...(upTo === undefined ? {} : { upTo }) });
    for (const r of page.rows) seen.push({ key: keyOf(r), change: r.cursor.change, row: r });
    after = page.nextCursor;
    if (!page.hasMore) break;
  }
  return seen;
}

export function regionStoreConformance(name: string, sut: () => StoreUnderTest): void {
  describe(`RegionStore conformance: ${name}`, () => {
    let env: StoreUnderTest;
    const opened: RegionStore[] = [];
    const open = async (region: string) => {
      const s = await env.open(region);
      opened.push(s);
      return s;
    };
    before(() => {
      env = sut();
    });
    after(async () => {
      for (const s of opened) await s.close();
      await env.cleanup();
    });

    it('pages thousands of rows written in one timestamp without skipping or repeating any', async () => {
      const store = await open('sea');
      const table = priceMapping(env.tableName('price_same_ts'));
      await store.migrate([table]);
      const rows = Array.from({ length: 3000 }, (_, i) => priceRow(i)); // all share modifiedAt ISO0
      await store.applyPage(pageRequest(table, rows, { change: '0', key: [] }));
      for (const limit of [1000, 97, 1]) {
        if (limit === 1) {
          // Page size 1 is the harshest; a prefix of the stream is enough to check it.
          let after: ChangeCursor | null = null;
          for (let i = 0; i < 50; i++) {
            const page = await store.readChanges({ table, after, limit });
            assert.equal(page.rows.length, 1);
            assert.ok(compareCursor(after, page.nextCursor) < 0);
            after = page.nextCursor;
          }
          continue;
        }
        const seen = await readAll(store, table, limit);
        assert.equal(seen.length, 3000, `page size ${limit}`);
        assert.equal(new Set(seen.map((s) => s.key)).size, 3000, `page size ${limit}: duplicates`);
        for (let i = 1; i < seen.length; i++) {
          assert.ok(
            BigInt((seen[i] as { change: string }).change) >=
              BigInt((seen[i - 1] as { change: string }).change),
          );
        }
      }
    });

    it('delivers the final version of every row when writes interleave with paging', async () => {
      const store = await open('sea');
      const table = priceMapping(env.tableName('price_concurrent'));
      await store.migrate([table]);
      await store.applyPage(
        pageRequest(
          table,
          Array.from({ length: 600 }, (_, i) => priceRow(i)),
          { change: '0', key: [] },
        ),
      );
      const delivered = new Map<string, SyncRow>();
      const pairs = new Set<string>();
      let after: ChangeCursor | null = null;
      let round = 0;
      for (;;) {
        const page = await store.readChanges({ table, after, limit: 50 });
        for (const r of page.rows) {
          const pair = `${keyOf(r)}@${r.cursor.change}`;
          assert.ok(!pairs.has(pair), `read twice: ${pair}`);
          pairs.add(pair);
          delivered.set(keyOf(r), r);
        }
        after = page.nextCursor;
        // A writer between pages: updates rows behind and ahead of the cursor, inserts new ones.
        round++;
        if (round <= 10) {
          const updates = [round * 7, 590 - round * 13, 1000 + round].map((i) =>
            priceRow(i, { modifiedAt: isoAt(round * 1000), price: round }),
          );
          await store.applyPage(
            pageRequest(table, updates, { change: '0', key: [] }, `w${round}`, 'eu', 'sea'),
          );
        }
        if (!page.hasMore) break;
      }
      const final = await store.readRows({ table, afterKey: null, limit: 100_000 });
      assert.equal(final.length, 610);
      for (const row of final) {
        const got = delivered.get(keyOf(row));
        assert.ok(got !== undefined, `never delivered: ${keyOf(row)}`);
        assert.deepEqual(got.values, row.values, `stale final version for ${keyOf(row)}`);
      }
    });

    it('bounds a run by the high-water mark taken at its start', async () => {
      const store = await open('sea');
      const table = priceMapping(env.tableName('price_hwm'));
      await store.migrate([table]);
      assert.equal(await store.highWaterMark(table), '0');
      await store.applyPage(
        pageRequest(
          table,
          Array.from({ length: 40 }, (_, i) => priceRow(i)),
          { change: '0', key: [] },
        ),
      );
      const hwm = await store.highWaterMark(table);
      await store.applyPage(pageRequest(table, [priceRow(500)], { change: '0', key: [] }));
      const seen = await readAll(store, table, 7, hwm);
      assert.equal(seen.length, 40);
      assert.ok(!seen.some((s) => s.key.startsWith('SKU-000500')));
    });

    it('counts, among the first `limit` changes a read would return, those of the given origins; capped when more wait', async () => {
      const store = await open('cn');
      const table = priceMapping(env.tableName('price_count'));
      await store.migrate([table]);
      const origins = ['cn', 'sea', 'cn', 'eu', 'latam'];
      const rows = Array.from({ length: 300 }, (_, i) => priceRow(i, { originRegion: origins[i % 5] }));
      await store.applyPage(pageRequest(table, rows, { change: '0', key: [] }, 'run-1', 'x', 'cn'));
      const hwm = await store.highWaterMark(table);
      await store.applyPage(
        pageRequest(table, [priceRow(900)], { change: '0', key: [] }, 'run-2', 'x', 'cn'),
      );
      const all = await readAll(store, table, 1000, hwm);
      const cursor = (all[119] as (typeof all)[number]).row.cursor; // after it: rows 120..299
      const filters: OriginFilter[] = [
        { in: ['cn'] },
        { in: ['sea', 'eu'] },
        { in: [] },
        { notIn: ['sea'] },
        { notIn: ['cn', 'latam'] },
        { notIn: [] },
      ];
      for (const origins of filters) {
        for (const after of [null, cursor]) {
          const inBounds = all.filter((s) => compareCursor(after, s.row.cursor) < 0);
          // The first `limit` changes are looked at, whatever their origin; capped when more wait.
          for (const limit of [1000, inBounds.length, inBounds.length - 1, 7, 1]) {
            const expected = inBounds
              .slice(0, limit)
              .filter((s) => originPasses(origins, s.row.originRegion)).length;
            assert.deepEqual(
              await store.countChanges({ table, after, upTo: hwm, origins, limit }),
              { count: expected, capped: inBounds.length > limit },
              `${JSON.stringify(origins)} after ${JSON.stringify(after)}, limit ${limit}`,
            );
          }
        }
      }
      // Without upTo the row written after the high-water mark counts too.
      assert.deepEqual(
        await store.countChanges({ table, after: cursor, origins: { in: ['cn'] }, limit: 1000 }),
        {
          count: all.filter((s, i) => i >= 120 && s.row.originRegion === 'cn').length + 1,
          capped: false,
        },
      );
      for (const limit of [0, 1.5]) {
        await assert.rejects(
          store.countChanges({ table, after: null, origins: { notIn: [] }, limit }),
          (e: unknown) => e instanceof SyncError && e.code === 'invalid-config',
        );
      }
    });

    it('applies a page idempotently and stores the checkpoint and audit with it', async () => {
      const store = await open('sea');
      const table = priceMapping(env.tableName('price_idem'));
      await store.migrate([table]);
      const rows = Array.from({ length: 25 }, (_, i) => priceRow(i, { modifiedAt: isoAt(i) }));
      const cursor = { change: '123', key: ['SKU-000024', 'USD'] };
      const first = await store.applyPage(pageRequest(table, rows, cursor, 'run-a'));
      assert.deepEqual(first, { kind: 'applied', inserted: 25, updated: 0, unchanged: 0, lostConflicts: 0 });
      const hwm = await store.highWaterMark(table);
      const before = await store.readRows({ table, afterKey: null, limit: 1000 });
      const second = await store.applyPage(pageRequest(table, rows, cursor, 'run-a'));
      assert.deepEqual(second, { kind: 'applied', inserted: 0, updated: 0, unchanged: 25, lostConflicts: 0 });
      assert.equal(await store.highWaterMark(table), hwm, 'a re-applied page must not produce new changes');
      assert.deepEqual(await store.readRows({ table, afterKey: null, limit: 1000 }), before);
      const cp = await store.getCheckpoint({ flow: 'pricing', source: 'cn', target: 'sea' }, 'price_list');
      assert.deepEqual(cp?.cursor, cursor);
      assert.equal(cp?.runId, 'run-a');
      const audit = await store.readAudit('run-a');
      assert.equal(audit.length, 2);
      assert.deepEqual(
        audit.map((a) => [a.rows, a.written, a.source, a.target]),
        [
          [25, 25, 'cn', 'sea'],
          [25, 0, 'cn', 'sea'],
        ],
      );
    });

    it('keeps the newer version under last-writer-wins and counts the lost conflict', async () => {
      const store = await open('sea');
      const table = priceMapping(env.tableName('price_lww'));
      await store.migrate([table]);
      await store.applyPage(
        pageRequest(table, [priceRow(1, { modifiedAt: isoAt(5000), price: 2, originRegion: 'sea' })], {
          change: '1',
          key: [],
        }),
      );
      const res = await store.applyPage(
        pageRequest(table, [priceRow(1, { modifiedAt: isoAt(1000), price: 1 })], { change: '2', key: [] }),
      );
      assert.equal(res.kind === 'applied' && res.lostConflicts, 1);
      const res2 = await store.applyPage(
        pageRequest(table, [priceRow(1, { modifiedAt: isoAt(9000), price: 3 })], { change: '3', key: [] }),
      );
      assert.equal(res2.kind === 'applied' && res2.updated, 1);
      const [row] = await store.readRows({ table, afterKey: null, limit: 10 });
      assert.equal(row?.values.list_price, 3);
      assert.equal(row?.originRegion, 'cn');
      assert.equal(row?.modifiedAt, isoAt(9000));
    });

    it('refuses a whole page that still carries a forbidden or raw pseudonymized column, moving nothing', async () => {
      const store = await open('cn');
      const table: TableMapping = {
        canonical: 'sales_order',
        table: env.tableName('order_guard'),
        keyColumns: ['order_id'],
        columns: { order_id: 'order_id', customer_email: 'customer_email', customer_name: 'customer_name' },
      };
      await store.migrate([table]);
      const guard = { forbiddenColumns: ['customer_name'], pseudonymizedColumns: ['customer_email'] };
      const ok: SyncRow = {
        values: { order_id: 'eu-1', customer_email: `p1:${'a'.repeat(64)}` },
        modifiedAt: ISO0,
        originRegion: 'eu',
        isDeleted: false,
      };
      const leaks: SyncRow[] = [
        { ...ok, values: { ...ok.values, order_id: 'eu-2', customer_name: 'Anna Schmidt' } },
        { ...ok, values: { ...ok.values, order_id: 'eu-3', customer_email: 'anna@example.de' } },
      ];
      for (const leak of leaks) {
        const res = await store.applyPage({
          ...pageRequest(table, [ok, leak], { change: '9', key: [] }, 'leak', 'eu', 'cn'),
          guard,
        });
        assert.equal(res.kind, 'rejected');
      }
      assert.deepEqual(await store.readRows({ table, afterKey: null, limit: 10 }), []);
      assert.equal(
        await store.getCheckpoint({ flow: 'pricing', source: 'eu', target: 'cn' }, 'sales_order'),
        null,
      );
      const good = await store.applyPage({
        ...pageRequest(table, [ok], { change: '9', key: [] }, 'ok', 'eu', 'cn'),
        guard,
      });
      assert.equal(good.kind, 'applied');
      const [stored] = await store.readRows({ table, afterKey: null, limit: 10 });
      assert.equal(stored?.values.customer_name, null);
    });

    it('maps region-specific table and column names to canonical ones', async () => {
      const store = await open('latam');
      const table = priceMapping(env.tableName('ListaPrecios'), {
        sku: 'CodigoArticulo',
        currency: 'Moneda',
        list_price: 'PrecioLista',
        price_book: 'Libro',
      });
      await store.migrate([table]);
      await store.applyPage(pageRequest(table, [priceRow(7)], { change: '0', key: [] }));
      const page = await store.readChanges({ table, after: null, limit: 10 });
      assert.deepEqual(page.rows[0]?.values, priceRow(7).values);
      assert.deepEqual(page.rows[0]?.cursor.key, ['SKU-000007', 'EUR']);
    });

    it('reads rows in key order with a key cursor (reconciliation scans)', async () => {
      const store = await open('eu');
      const table = priceMapping(env.tableName('price_scan'));
      await store.migrate([table]);
      await store.applyPage(
        pageRequest(
          table,
          Array.from({ length: 123 }, (_, i) => priceRow(122 - i)),
          { change: '0', key: [] },
        ),
      );
      const keys: string[] = [];
      let afterKey: readonly (string | number | boolean | null)[] | null = null;
      for (;;) {
        const rows = await store.readRows({ table, afterKey, limit: 10 });
        if (rows.length === 0) break;
        keys.push(...rows.map(keyOf));
        const last = rows[rows.length - 1] as SyncRow;
        afterKey = [last.values.sku ?? null, last.values.currency ?? null];
      }
      assert.equal(keys.length, 123);
      assert.equal(new Set(keys).size, 123);
    });

    it('replaces an order aggregate under its version guard and restores a snapshot with tombstones', async () => {
      const store = await open('cn');
      const tables = orderTables(env.tableName('o_'));
      const sea = (orderId: string) => ({ region: 'sea', orderId });
      await store.migrate([tables.header, tables.lines]);
      assert.deepEqual(await store.replaceOrder(tables, order('sea-1', 1, 3), OPEN_GUARD), {
        kind: 'applied',
        previousVersion: null,
      });
      const snap = await store.snapshotOrder(tables, sea('sea-1'));
      assert.equal(snap.aggregate?.lines.length, 3);
      assert.equal(snap.region, 'sea');
      assert.deepEqual(await store.replaceOrder(tables, order('sea-1', 2, 4), OPEN_GUARD), {
        kind: 'applied',
        previousVersion: 1,
      });
      assert.deepEqual(await store.replaceOrder(tables, order('sea-1', 3, 2), OPEN_GUARD), {
        kind: 'applied',
        previousVersion: 2,
      });
      const v3 = await store.readOrder(tables, sea('sea-1'));
      const lineState = (o: typeof v3) => o?.lines.map((l) => [l.values.line_no, l.isDeleted]);
      assert.deepEqual(lineState(v3), [
        [1, false],
        [2, false],
        [3, true],
        [4, true],
      ]);
      assert.equal((await store.replaceOrder(tables, order('sea-1', 1, 5), OPEN_GUARD)).kind, 'stale');
      assert.equal((await store.replaceOrder(tables, order('sea-1', 3, 2), OPEN_GUARD)).kind, 'unchanged');
      // Restoring v1 on behalf of a saga that wrote v2: the hub holds v3 now, which stays.
      assert.deepEqual(await store.restoreOrder(tables, snap, 2), { kind: 'superseded', currentVersion: 3 });
      assert.deepEqual(await store.readOrder(tables, sea('sea-1')), v3);
      // On behalf of the saga that wrote v3: v1 is back, line 4 (absent in v1) is a tombstone.
      assert.deepEqual(await store.restoreOrder(tables, snap, 3), { kind: 'restored' });
      assert.deepEqual(await store.restoreOrder(tables, snap, 3), { kind: 'restored' }, 'idempotent');
      const restored = await store.readOrder(tables, sea('sea-1'));
      assert.deepEqual(restored?.header, snap.aggregate?.header);
      assert.deepEqual(restored?.lines.slice(0, 3), snap.aggregate?.lines);
      assert.deepEqual(lineState(restored), [
        [1, false],
        [2, false],
        [3, false],
        [4, true],
      ]);

      // An order that was absent becomes a version-less tombstone (never a hard delete), and any
      // version applies after it.
      const absent = await store.snapshotOrder(tables, sea('sea-2'));
      assert.equal(absent.aggregate, null);
      await store.replaceOrder(tables, order('sea-2', 4, 2), OPEN_GUARD);
      assert.deepEqual(await store.restoreOrder(tables, absent, 4), { kind: 'restored' });
      assert.deepEqual(await store.restoreOrder(tables, absent, 4), { kind: 'restored' });
      const tomb = await store.readOrder(tables, sea('sea-2'));
      assert.equal(tomb?.header.isDeleted, true);
      assert.equal(tomb?.header.values.version, null);
      assert.deepEqual(lineState(tomb), [
        [1, true],
        [2, true],
      ]);
      assert.equal((await store.replaceOrder(tables, order('sea-2', 4, 1), OPEN_GUARD)).kind, 'applied');

      const leak = order('eu-9', 1, 1, 'eu');
      const res = await store.replaceOrder(
        tables,
        {
          ...leak,
          header: { ...leak.header, values: { ...leak.header.values, customer_email: 'x@example.de' } },
        },
        { forbiddenColumns: [], pseudonymizedColumns: ['customer_email'] },
      );
      assert.equal(res.kind, 'rejected');
      assert.equal(await store.readOrder(tables, { region: 'eu', orderId: 'eu-9' }), null);
    });

    it('keeps the same order id from two regions side by side (keyed by origin region and order id)', async () => {
      const store = await open('cn');
      const tables = orderTables(env.tableName('o2_'));
      await store.migrate([tables.header, tables.lines]);
      const seaOrder = order('o2-3', 5, 5, 'sea');
      const euOrder = order('o2-3', 98, 2, 'eu');
      assert.equal((await store.replaceOrder(tables, seaOrder, OPEN_GUARD)).kind, 'applied');
      assert.deepEqual(await store.replaceOrder(tables, euOrder, OPEN_GUARD), {
        kind: 'applied',
        previousVersion: null,
      });
      const sea = await store.readOrder(tables, { region: 'sea', orderId: 'o2-3' });
      const eu = await store.readOrder(tables, { region: 'eu', orderId: 'o2-3' });
      assert.deepEqual(sea, seaOrder, 'the sea order is untouched: v5, five live lines');
      assert.deepEqual(eu, euOrder);
      // An older sea version is stale against sea's own order only.
      assert.equal((await store.replaceOrder(tables, order('o2-3', 4, 1, 'sea'), OPEN_GUARD)).kind, 'stale');
      assert.equal(
        (await store.replaceOrder(tables, order('o2-3', 6, 1, 'sea'), OPEN_GUARD)).kind,
        'applied',
      );
      assert.deepEqual(await store.readOrder(tables, { region: 'eu', orderId: 'o2-3' }), euOrder);
    });

    it('refuses hostile table and column names before any SQL runs', async () => {
      const store = await open('sea');
      const victim = priceMapping(env.tableName('price_victim'));
      await store.migrate([victim]);
      await store.applyPage(pageRequest(victim, [priceRow(1)], { change: '0', key: [] }));
      const hostile: TableMapping[] = [
        priceMapping(`${victim.table}; DROP TABLE ${victim.table}; --`),
        priceMapping(`x" (a); DROP TABLE "${victim.table}`),
        priceMapping('x] ; DROP TABLE [y'),
        priceMapping(victim.table, {
          sku: 'sku',
          currency: 'currency',
          list_price: 'list_price"); DROP TABLE x; --',
          price_book: 'price_book',
        }),
        priceMapping(victim.table, {
          sku: 'sku',
          currency: 'currency',
          list_price: 'a]]; DROP TABLE x; --',
          price_book: 'price_book',
        }),
      ];
      for (const table of hostile) {
        await assert.rejects(
          store.migrate([table]),
          (e: unknown) => e instanceof SyncError && e.code === 'invalid-config',
        );
        await assert.rejects(
          store.readChanges({ table, after: null, limit: 5 }),
          (e: unknown) => e instanceof SyncError && e.code === 'invalid-config',
        );
        await assert.rejects(
          store.applyPage(pageRequest(table, [priceRow(2)], { change: '0', key: [] })),
          (e: unknown) => e instanceof SyncError,
        );
      }
      const rows = await store.readRows({ table: victim, afterKey: null, limit: 10 });
      assert.equal(rows.length, 1, 'the victim table is intact');
    });

    it('stores hostile values verbatim (values are always bound parameters)', async () => {
      const store = await open('sea');
      const table = priceMapping(env.tableName('price_values'));
      await store.migrate([table]);
      const nasty = [
        "'; DROP TABLE price_values; --",
        '"]; DELETE FROM x; --',
        'Robert\u0000Tables',
        '字段 ü ✓',
      ];
      const rows = nasty.map((s, i) => ({
        ...priceRow(i),
        values: { ...priceRow(i).values, price_book: s },
      }));
      await store.applyPage(pageRequest(table, rows, { change: '0', key: [] }));
      const back = await store.readRows({ table, afterKey: null, limit: 10 });
      assert.deepEqual(back.map((r) => r.values.price_book).sort(), [...nasty].sort());
    });
  });
}
