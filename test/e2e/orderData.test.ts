/**
 * Order data end to end on devhost (issue 12 points 1, 3 and 6): orders keyed by origin region and
 * order id, a compensation that keeps a newer batch write, and the monthly full compare after a
 * generated load that writes each order to its spoke database before publishing it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SqliteRegionStore } from '../../adapters/sqliteRegionStore';
import { orderHistory } from '../../scripts/orderGenerator';
import type { SentEvent } from '../../scripts/orderLoad';
import { devhostSink, runLoad } from '../../scripts/orderLoad';
import { spokeOutbox } from '../../scripts/spokeOutbox';
import { conflictPolicyFor } from '../../sync/topology';
import type { OrderEvent } from '../../sync/orderEvent';
import { orderFlowRules } from '../../sync/orderEvent';
import type { OrderApp } from './support/orderHarness';
import { messageOf, startOrderApp } from './support/orderHarness';

const T0 = Date.parse('2026-03-01T08:00:00.000Z');

interface Row {
  [column: string]: unknown;
}

function hubOrder(app: OrderApp, region: string, orderId: string): { header: Row | undefined; lines: Row[] } {
  const hub = app.db('cn');
  return {
    header: hub
      .prepare('SELECT * FROM sales_order WHERE home_region = ? AND order_id = ?')
      .get(region, orderId) as Row | undefined,
    lines: hub
      .prepare('SELECT * FROM sales_order_line WHERE home_region = ? AND order_id = ? ORDER BY line_no')
      .all(region, orderId) as Row[],
  };
}

const live = (lines: Row[]) =>
  lines.filter((l) => l.is_deleted === 0).map((l) => [l.line_no, l.sku, l.quantity]);

/** A full snapshot of an order with `n` lines at `version`. */
function snapshot(region: string, orderId: string, version: number, n: number): OrderEvent {
  const [base] = orderHistory(region, orderId, 1, { seed: version, start: T0 });
  const lines = Array.from({ length: n }, (_, i) => ({
    line_no: i + 1,
    sku: 'PHONE-X1',
    quantity: i + 1,
    unit_price: 699,
    line_amount: 699 * (i + 1),
  }));
  return {
    ...base!,
    version,
    changedAt: new Date(T0 + version * 1000).toISOString(),
    order: { ...base!.order, total_amount: lines.reduce((s, l) => s + l.line_amount, 0) },
    lines,
  };
}

describe('order data end to end', { timeout: 300_000 }, () => {
  let app: OrderApp;
  before(async () => {
    app = await startOrderApp();
  });
  after(async () => {
    await app?.close();
  });

  it('two regions sending the same order id: both orders are kept, each with its own lines', async () => {
    const sea = [1, 2, 3, 4, 5].map((v) => snapshot('sea', 'o2-3', v, v));
    await app.send(sea.map(messageOf));
    await app.waitFor(
      'sea o2-3 v5',
      () => app.state('sea', 'o2-3'),
      (s) => s?.lastAppliedVersion === 5 && s.running === null,
    );
    const seaBefore = hubOrder(app, 'sea', 'o2-3');
    assert.equal(seaBefore.header?.version, 5);
    assert.equal(live(seaBefore.lines).length, 5);

    const eu = snapshot('eu', 'o2-3', 98, 2);
    await app.send([messageOf(eu)]);
    await app.waitFor(
      'eu o2-3 v98',
      () => app.state('eu', 'o2-3'),
      (s) => s?.lastAppliedVersion === 98 && s.running === null,
    );
    assert.deepEqual(hubOrder(app, 'sea', 'o2-3'), seaBefore, 'the sea order is untouched');
    const euHub = hubOrder(app, 'eu', 'o2-3');
    assert.equal(euHub.header?.version, 98);
    assert.equal(euHub.header?.origin_region, 'eu');
    assert.equal(euHub.header?.customer_name, null, 'EU residency still applies');
    assert.deepEqual(
      live(euHub.lines),
      eu.lines.map((l) => [l.line_no, l.sku, l.quantity]),
    );
    // Receipts in each origin region, entitlements per order.
    const receipt = (region: string) =>
      app
        .db(region)
        .prepare(
          "SELECT version, status FROM order_sync_receipt WHERE origin_region = ? AND order_id = 'o2-3' ORDER BY version DESC LIMIT 1",
        )
        .get(region) as Row;
    assert.deepEqual({ ...receipt('sea') }, { version: 5, status: 'applied' });
    assert.deepEqual({ ...receipt('eu') }, { version: 98, status: 'applied' });
    const entitlements = app
      .db('cn')
      .prepare(
        "SELECT source_region, version, count(*) AS n FROM warranty_entitlement WHERE order_id = 'o2-3' AND is_deleted = 0 GROUP BY source_region, version ORDER BY source_region",
      )
      .all()
      .map((r) => ({ ...(r as Row) }));
    assert.deepEqual(entitlements, [
      { source_region: 'eu', version: 98, n: 2 },
      { source_region: 'sea', version: 5, n: 5 },
    ]);
  });

  it('a batch write between the saga apply and its compensation survives the compensation', async () => {
    const { flow, rules } = orderFlowRules(app.config.topology);
    const hubFile = app.config.stores.cn;
    if (hubFile?.kind !== 'sqlite') throw new Error('the hub is SQLite here');
    const seaFile = app.config.stores.sea;
    if (seaFile?.kind !== 'sqlite') throw new Error('sea is SQLite here');
    // The nightly batch's writer into the hub: the store's own guarded page apply.
    const batch = new SqliteRegionStore({ region: 'cn', file: hubFile.file });
    const spoke = new SqliteRegionStore({ region: 'sea', file: seaFile.file });
    const crm = spokeOutbox(app.config);
    try {
      let caught = false;
      // The window is the saga's own step time: try orders until the test's write lands in it (under
      // a full, parallel test run six tries all missed it once).
      for (let attempt = 0; attempt < 12 && !caught; attempt++) {
        const orderId = `gap-${attempt}`;
        const [v1, v2, v3] = orderHistory('sea', orderId, 3, { seed: 300 + attempt, start: T0 });
        await app.send([messageOf(v1!)]);
        await app.waitFor(
          `${orderId} v1`,
          () => app.state('sea', orderId),
          (s) => s?.lastAppliedVersion === 1 && s.running === null,
        );
        // v2 carries a SKU the hub does not know: its upsert applies, after-sales rejects, and the
        // saga compensates. The batch brings v3 (the spoke's newer copy) in between.
        const bad = {
          ...v2!,
          lines: [
            ...v2!.lines,
            { line_no: 90, sku: 'GHOST-404', quantity: 1, unit_price: 1, line_amount: 1 },
          ],
        };
        // The spoke CRM holds v3 already; its v3 event is not published yet.
        await crm.write([v1!, bad, v3!]);
        const spokeOrder = await spoke.readOrder(rules.tables, { region: 'sea', orderId });
        assert.equal(spokeOrder?.header.values.version, 3);
        await app.send([messageOf(bad)]);
        const db = batch.database;
        const version = db
          .prepare("SELECT version FROM sales_order WHERE home_region = 'sea' AND order_id = ?")
          .pluck();
        // Watch the hub closely (the window is a few milliseconds): v2 applied, or the saga over.
        let seen = 1;
        const deadline = Date.now() + 30_000;
        for (let n = 0; seen === 1 && Date.now() < deadline; n++) {
          seen = version.get(orderId) as number;
          if (n % 500 === 499) {
            if ((await app.state('sea', orderId))?.settledVersion === 2) break;
          } else await new Promise((r) => setImmediate(r));
        }
        if (seen !== 2) continue; // compensated before the write could land; try again
        // Hold the hub's write lock from here: the compensation waits for it.
        db.exec('BEGIN IMMEDIATE');
        try {
          if (version.get(orderId) !== 2) continue;
          // The batch page carries the spoke's rows of the order: its v3 header and every line.
          const page = spokeOrder;
          const apply = (table: typeof rules.tables.header, rows: typeof page.lines) =>
            batch.applyPage({
              table,
              rows,
              policy: conflictPolicyFor(app.config.topology, flow),
              guard: { forbiddenColumns: [], pseudonymizedColumns: [] },
              checkpoint: {
                flow: 'orders',
                source: 'sea',
                target: 'cn',
                // Its own checkpoint row: the link's real cursor stays where it is.
                table: `${table.canonical}:test`,
                cursor: { change: '1', key: [] },
                runId: 'orders-incremental-test',
                updatedAt: new Date().toISOString(),
              },
              audit: {
                flow: 'orders',
                source: 'sea',
                target: 'cn',
                runId: 'orders-incremental-test',
                table: table.canonical,
                policy: 'nightly',
                at: new Date().toISOString(),
              },
            });
          await apply(rules.tables.lines, page.lines);
          await apply(rules.tables.header, [page.header]);
          db.exec('COMMIT');
          caught = true;
        } finally {
          if (db.inTransaction) db.exec('ROLLBACK');
        }
        const state = await app.waitFor(
          `${orderId} v2 settled`,
          () => app.state('sea', orderId),
          (s) => s?.settledVersion === 2 && s.running === null,
        );
        assert.equal(state!.lastAppliedVersion, 1, 'v2 failed');
        const hub = hubOrder(app, 'sea', orderId);
        assert.equal(hub.header?.version, 3, 'the batch write survives the compensation');
        assert.equal(hub.header?.is_deleted, v3!.op === 'delete' ? 1 : 0);
        assert.deepEqual(
          live(hub.lines),
          v3!.lines.map((l) => [l.line_no, l.sku, l.quantity]),
        );
        const audit = app
          .db('cn')
          .prepare("SELECT effect, policy FROM sync_audit WHERE run_id = ? AND effect = 'restore'")
          .all(`order-sea-${orderId}-v2`) as Row[];
        assert.equal(audit.length, 1, 'the compensation is audited once');
        assert.match(String(audit[0]!.policy), /superseded \(the hub holds v3\), kept/);
      }
      assert.ok(caught, 'the batch write landed between the apply and the compensation');
    } finally {
      await crm.close();
      await spoke.close();
      await batch.close();
    }
  });

  it('after an `npm run orders`-style load the monthly full compare tombstones no live order and leaves no header without lines', async () => {
    const outbox = spokeOutbox(app.config);
    let sent: SentEvent[];
    try {
      sent = await runLoad(
        {
          rate: 30,
          seconds: 4,
          orders: 40,
          shuffle: true,
          duplicates: true,
          regions: ['sea', 'eu', 'latam'],
          seed: 12,
          prefix: 'load-',
        },
        devhostSink(app.host.origin),
        undefined,
        outbox,
      );
    } finally {
      await outbox.close();
    }
    const last = new Map<string, SentEvent>();
    for (const e of sent) {
      const k = `${e.region}/${e.orderId}`;
      if ((last.get(k)?.version ?? 0) < e.version) last.set(k, e);
    }
    for (const e of last.values())
      await app.waitFor(
        `${e.region}/${e.orderId} v${e.version}`,
        () => app.state(e.region, e.orderId),
        (s) => s?.settledVersion === e.version && s.running === null,
        120_000,
      );

    const started = await app.http('POST', 'sync/orders', JSON.stringify({ mode: 'full' }));
    assert.equal(started.status, 202, JSON.stringify(started.json));
    const statusPath = new URL((started.json as { statusQueryGetUri: string }).statusQueryGetUri);
    const run = await app.waitFor(
      'the full compare',
      async () =>
        (await (await fetch(`${app.host.origin}${statusPath.pathname}${statusPath.search}`)).json()) as {
          runtimeStatus: string;
          output: unknown;
        },
      (s) => ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus),
      180_000,
    );
    assert.equal(run.runtimeStatus, 'Completed', JSON.stringify(run.output));

    const hub = app.db('cn');
    // Every generated order the spoke holds live is live in the hub, with the same live lines.
    for (const e of last.values()) {
      const spoke = app.db(e.region);
      const header = spoke
        .prepare('SELECT version, is_deleted FROM sales_order WHERE home_region = ? AND order_id = ?')
        .get(e.region, e.orderId) as Row;
      const h = hubOrder(app, e.region, e.orderId);
      assert.equal(h.header?.version, header.version, `${e.region}/${e.orderId}`);
      assert.equal(
        h.header?.is_deleted,
        header.is_deleted,
        `${e.region}/${e.orderId} not tombstoned by the compare`,
      );
      const spokeLines = spoke
        .prepare('SELECT * FROM sales_order_line WHERE home_region = ? AND order_id = ? ORDER BY line_no')
        .all(e.region, e.orderId) as Row[];
      assert.deepEqual(live(h.lines), live(spokeLines), `${e.region}/${e.orderId} lines`);
    }
    const lineless = hub
      .prepare(
        `SELECT h.home_region, h.order_id FROM sales_order h WHERE h.is_deleted = 0 AND NOT EXISTS
           (SELECT 1 FROM sales_order_line l WHERE l.home_region = h.home_region AND l.order_id = h.order_id
              AND l.is_deleted = 0)`,
      )
      .all();
    assert.deepEqual(lineless, [], 'no live header without lines');
  });
});
