/**
 * The monthly full compare of the orders flow keeps each order whole (issue 12 point 6): header and
 * lines are repaired together, so a repair never leaves a live header without its lines, nor lines
 * that do not belong to the header standing beside them. Real SQLite region files, demo data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCompareLink, createRepairRange } from '../../activities/reconcile';
import type { SyncRuntime } from '../../activities/runtime';
import type { SqliteRegionStore } from '../../adapters/sqliteRegionStore';
import { orderFlowRules } from '../../sync/orderEvent';
import type { SeededRuntime } from '../support/localApp';
import { startSeededRuntime } from '../support/localApp';

const SEED = {
  hubPrices: 2,
  spokePrices: 1,
  promotions: 1,
  ordersPerSpoke: 6,
  base: '2026-01-01T00:00:00.000Z',
};

describe('orders full compare and repair', () => {
  let seeded: SeededRuntime;
  let runtime: SyncRuntime;
  before(async () => {
    seeded = await startSeededRuntime('order-reconcile-', SEED);
    runtime = seeded.runtime;
  });
  after(async () => {
    await seeded?.close();
  });

  const db = async (region: string) => ((await runtime.store(region)) as SqliteRegionStore).database;

  /** The whole compare of one link, table by table, as reconcileLink runs it. */
  async function reconcile(source: string, runId: string) {
    const link = { flow: 'orders', source, target: 'cn' };
    const totals = { missing: 0, extra: 0, differing: 0, repaired: 0, refused: 0 };
    for (const table of ['sales_order', 'sales_order_line']) {
      const compared = await createCompareLink(runtime)({ link, table, ranges: 8 });
      for (const range of compared.differing) {
        const r = await createRepairRange(runtime)({ link, table, range, runId, dryRun: false });
        totals.missing += r.missing;
        totals.extra += r.extra;
        totals.differing += r.differing;
        totals.repaired += r.repaired;
        totals.refused += r.refused;
      }
    }
    return totals;
  }

  /** Live headers of the hub with no live line, and live lines whose header is not live. */
  async function brokenOrders(): Promise<{ headless: unknown[]; lineless: unknown[] }> {
    const hub = await db('cn');
    return {
      lineless: hub
        .prepare(
          `SELECT h.home_region, h.order_id FROM sales_order h WHERE h.is_deleted = 0 AND NOT EXISTS
             (SELECT 1 FROM sales_order_line l WHERE l.home_region = h.home_region AND l.order_id = h.order_id
                AND l.is_deleted = 0)`,
        )
        .all(),
      headless: hub
        .prepare(
          `SELECT DISTINCT l.home_region, l.order_id FROM sales_order_line l WHERE l.is_deleted = 0 AND NOT EXISTS
             (SELECT 1 FROM sales_order h WHERE h.home_region = l.home_region AND h.order_id = l.order_id
                AND h.is_deleted = 0)`,
        )
        .all(),
    };
  }

  it('brings the spokes orders to the hub whole, then an order gone from the EU spoke goes with all its lines', async () => {
    for (const region of ['sea', 'eu', 'latam']) {
      const out = await reconcile(region, `full-1-${region}`);
      assert.equal(out.refused, 0, `${region}: nothing refused`);
    }
    const hub = await db('cn');
    assert.equal(hub.prepare('SELECT count(*) FROM sales_order WHERE is_deleted = 0').pluck().get(), 18);
    assert.deepEqual(await brokenOrders(), { headless: [], lineless: [] });

    // An EU order disappears from the spoke (hard-deleted by its CRM): the hub's copy, which lacks
    // the EU customer's name and address, must still become a tombstone with its lines.
    const eu = await db('eu');
    eu.prepare("DELETE FROM sales_order_line WHERE order_id = 'eu-00002'").run();
    eu.prepare("DELETE FROM sales_order WHERE order_id = 'eu-00002'").run();
    const out = await reconcile('eu', 'full-2-eu');
    assert.equal(out.refused, 0, 'the tombstones pass the residency guard');
    const gone = hub
      .prepare("SELECT is_deleted FROM sales_order WHERE home_region = 'eu' AND order_id = 'eu-00002'")
      .pluck()
      .get();
    assert.equal(gone, 1);
    assert.deepEqual(await brokenOrders(), { headless: [], lineless: [] });
  });

  it('keeps a newer hub order whole (header and every line) when the spoke still holds an older version', async () => {
    const { rules } = orderFlowRules(runtime.topology);
    const hubStore = await runtime.store('cn');
    const sea = { region: 'sea', orderId: 'sea-00003' };
    const current = await hubStore.readOrder(rules.tables, sea);
    assert.ok(current !== null);
    // A realtime apply brought v2 with a third line; the spoke's v1 is older.
    const at = '2026-06-01T00:00:00.000Z';
    const v2 = {
      header: { ...current.header, values: { ...current.header.values, version: 2 }, modifiedAt: at },
      lines: [
        ...current.lines.map((l) => ({ ...l, modifiedAt: at })),
        {
          ...(current.lines[0] as (typeof current.lines)[number]),
          values: { ...current.lines[0]!.values, line_no: 3 },
          modifiedAt: at,
        },
      ],
    };
    assert.equal(
      (await hubStore.replaceOrder(rules.tables, v2, { forbiddenColumns: [], pseudonymizedColumns: [] }))
        .kind,
      'applied',
    );
    await reconcile('sea', 'full-3-sea');
    const after = await hubStore.readOrder(rules.tables, sea);
    assert.equal(after?.header.values.version, 2);
    assert.deepEqual(
      after?.lines.map((l) => [l.values.line_no, l.isDeleted]),
      [
        [1, false],
        [2, false],
        [3, false],
      ],
      'the newer order keeps all its lines',
    );
    assert.deepEqual(await brokenOrders(), { headless: [], lineless: [] });
  });
});
