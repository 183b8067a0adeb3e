/**
 * Order sync end to end on devhost (issue 7): events through the embedded broker's session queue,
 * the orderEvents trigger, the per-order entity and the orderIngest runner with its saga, checked in the regional
 * SQLite files and over the app's HTTP API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { orderHistory, rngOf, shuffle } from '../../scripts/orderGenerator';
import { isPseudonym } from '../../sync/residency';
import type { OrderApp } from './support/orderHarness';
import { messageOf, startOrderApp } from './support/orderHarness';

const T0 = Date.parse('2026-03-01T08:00:00.000Z');

interface Row {
  [column: string]: unknown;
}

function hubOrder(
  app: OrderApp,
  orderId: string,
): { header: Row | undefined; lines: Row[]; warranties: Row[] } {
  const hub = app.db('cn');
  return {
    header: hub.prepare('SELECT * FROM sales_order WHERE order_id = ?').get(orderId) as Row | undefined,
    lines: hub
      .prepare('SELECT * FROM sales_order_line WHERE order_id = ? ORDER BY line_no')
      .all(orderId) as Row[],
    warranties: hub
      .prepare(
        'SELECT * FROM warranty_entitlement WHERE order_id = ? AND is_deleted = 0 ORDER BY version, line_no',
      )
      .all(orderId) as Row[],
  };
}

describe('order sync end to end', { timeout: 240_000 }, () => {
  let app: OrderApp;
  before(async () => {
    app = await startOrderApp({ env: { REGION_SYNC_ORDER_RUNNER_CHECK_MS: '0' } });
  });
  after(async () => {
    await app?.close();
  });

  it('shuffled, duplicated delivery ends with every order at its latest version, each applied at most once', async () => {
    const rng = rngOf(42);
    const regions = ['sea', 'eu', 'latam'];
    const orders = Array.from({ length: 12 }, (_, i) => ({
      region: regions[i % 3] as string,
      orderId: `mix-${i}`,
      versions: 2 + (i % 4),
    }));
    const events = orders.flatMap((o, i) =>
      orderHistory(o.region, o.orderId, o.versions, { seed: i, start: T0 }),
    );
    const sent = shuffle(events, rng).map(messageOf);
    const duplicates = shuffle(sent, rng).slice(0, Math.ceil(sent.length / 3));
    const first = await app.send(sent.slice(0, 20));
    const second = await app.send([...sent.slice(20), ...duplicates]);
    assert.equal(first.accepted + second.accepted, sent.length, 'the broker keeps each message id once');

    for (const o of orders) {
      const state = await app.waitFor(
        `${o.region}/${o.orderId} at v${o.versions}`,
        () => app.state(o.region, o.orderId),
        (s) => s !== null && s.lastAppliedVersion === o.versions && s.running === null,
      );
      assert.deepEqual(state!.waiting, []);
      const latest = events.find((e) => e.orderId === o.orderId && e.version === o.versions)!;
      const { header, lines } = hubOrder(app, o.orderId);
      assert.equal(header?.version, o.versions, `${o.orderId} in the hub`);
      assert.equal(header?.is_deleted, latest.op === 'delete' ? 1 : 0);
      assert.deepEqual(
        lines.filter((l) => l.is_deleted === 0).map((l) => [l.line_no, l.sku, l.quantity]),
        latest.lines.map((l) => [l.line_no, l.sku, l.quantity]),
      );
      if (o.region === 'eu') {
        assert.ok(isPseudonym(header?.customer_email as string), 'EU e-mail is pseudonymized in the hub');
        assert.equal(header?.customer_name, null, 'EU customer name never reaches the hub');
      } else assert.equal(header?.customer_email, latest.order.customer_email);
      const receipts = app
        .db(o.region)
        .prepare(
          'SELECT version, status FROM order_sync_receipt WHERE order_id = ? ORDER BY version DESC LIMIT 1',
        )
        .get(o.orderId) as Row;
      assert.deepEqual({ ...receipts }, { version: o.versions, status: 'applied' });
    }
    // Every write of an order version into the hub is audited under its saga id: at most one per version.
    const twice = app
      .db('cn')
      .prepare(
        `SELECT run_id, count(*) AS n FROM sync_audit WHERE flow = 'orders' AND written > 0 GROUP BY run_id HAVING n > 1`,
      )
      .all();
    assert.deepEqual(twice, []);
    const crossings = app
      .db('cn')
      .prepare(
        `SELECT count(DISTINCT run_id) AS n FROM sync_audit WHERE flow = 'orders' AND run_id LIKE 'order-%-mix-%'`,
      )
      .get() as { n: number };
    assert.ok(crossings.n >= orders.length, 'every applied version crossed with an audit record');
  });

  it('a failing step leaves the hub exactly as before the saga and a failure receipt in the source region', async () => {
    const [v1, v2] = orderHistory('sea', 'fail-1', 2, { seed: 5, start: T0 });
    await app.send([messageOf(v1!)]);
    await app.waitFor(
      'fail-1 v1',
      () => app.state('sea', 'fail-1'),
      (s) => s?.lastAppliedVersion === 1,
    );
    const before = hubOrder(app, 'fail-1');
    const bad = {
      ...v2!,
      lines: [...v2!.lines, { line_no: 90, sku: 'GHOST-404', quantity: 1, unit_price: 1, line_amount: 1 }],
    };
    await app.send([messageOf(bad)]);
    const state = await app.waitFor(
      'fail-1 v2 settled',
      () => app.state('sea', 'fail-1'),
      (s) => s?.settledVersion === 2,
    );
    assert.equal(state!.lastAppliedVersion, 1);
    // The restore is itself a change (new change_seq), so replication carries the undo onwards;
    // every business and sync column is as before, and the line v2 added is a tombstone (deletes
    // travel as tombstones, never as hard deletes).
    const withoutCursor = (o: ReturnType<typeof hubOrder>) => ({
      header: { ...o.header, change_seq: undefined },
      lines: o.lines.filter((l) => l.line_no !== 90).map((l) => ({ ...l, change_seq: undefined })),
      warranties: o.warranties,
    });
    const after = hubOrder(app, 'fail-1');
    assert.deepEqual(
      withoutCursor(after),
      withoutCursor(before),
      'header, lines and after-sales records as before',
    );
    assert.deepEqual(
      after.lines.filter((l) => l.line_no === 90).map((l) => [l.sku, l.is_deleted]),
      [['GHOST-404', 1]],
    );
    const receipt = app
      .db('sea')
      .prepare(
        'SELECT status, reason, hub_version FROM order_sync_receipt WHERE order_id = ? AND version = 2',
      )
      .get('fail-1') as Row;
    assert.equal(receipt.status, 'failed');
    assert.match(String(receipt.reason), /unknown-sku: the hub catalog does not know GHOST-404/);
    assert.equal(receipt.hub_version, 1);
    // The saga runs inline in the ingest orchestration that held the order's turn.
    const runner = await app.waitFor(
      'runner output',
      () =>
        fetch(`${app.host.origin}/runtime/webhooks/durabletask/instances/orderevent-sea-fail-1-v2`).then(
          (r) => r.json() as Promise<{ runtimeStatus?: string }>,
        ),
      (s: { runtimeStatus?: string }) => s.runtimeStatus === 'Completed',
    );
    const applies = (runner as { output: { applies: { version: number; compensated: string[] }[] } }).output
      .applies;
    assert.deepEqual(
      applies.map((a) => [a.version, a.compensated]),
      [[2, ['restoreHubOrder']]],
    );
  });

  it('a malformed message lands in the dead letters with its reason, and a fixed replay goes through the version guard', async () => {
    const [v1] = orderHistory('latam', 'dl-1', 1, { seed: 9, start: T0 });
    const broken = { ...v1!, version: 'one' };
    await app.send([{ body: broken, messageId: 'latam:dl-1:1', sessionId: 'latam:dl-1' }]);
    const list = await app.waitFor(
      'a dead letter',
      () => app.http('GET', 'order-deadletters'),
      (r) =>
        (r.json as { deadLetters: unknown[] }).deadLetters.some(
          (d) => (d as { messageId: string }).messageId === 'latam:dl-1:1',
        ),
    );
    const entry = (
      list.json as { deadLetters: { id: string; reason: string; issues: string[]; messageId: string }[] }
    ).deadLetters.find((d) => d.messageId === 'latam:dl-1:1')!;
    assert.equal(entry.reason, 'schema');
    assert.ok(
      entry.issues.some((i) => i.startsWith('version:')),
      entry.issues.join(' | '),
    );
    const detail = await app.http('GET', `order-deadletters/${entry.id}`);
    assert.deepEqual(JSON.parse((detail.json as { message: { body: string } }).message.body), broken);
    assert.equal(await app.state('latam', 'dl-1'), null, 'nothing reached the entity');

    // Replaying as received is refused again (and recorded); replaying the fixed event applies it.
    const again = await app.http('POST', `order-deadletters/${entry.id}/replay`);
    assert.equal(again.status, 422);
    const fixed = await app.http('POST', `order-deadletters/${entry.id}/replay`, JSON.stringify(v1));
    assert.equal(fixed.status, 202);
    await app.waitFor(
      'dl-1 applied',
      () => app.state('latam', 'dl-1'),
      (s) => s?.lastAppliedVersion === 1,
    );
    const twice = await app.http('POST', `order-deadletters/${entry.id}/replay`, JSON.stringify(v1));
    assert.equal(twice.status, 202);
    const state = await app.waitFor(
      'the second replay dropped',
      () => app.state('latam', 'dl-1'),
      (s) => ((s?.recent as { outcome: string }[]) ?? []).some((r) => r.outcome === 'duplicate'),
    );
    assert.equal((state!.counts as { applied: number }).applied, 1);
    const record = await app.http('GET', `order-deadletters/${entry.id}`);
    assert.deepEqual(
      (record.json as { replays: { outcome: string }[] }).replays.map((r) => r.outcome),
      ['invalid', 'accepted', 'accepted'],
    );
  });

  it('a SIGKILL mid-saga resumes after restart and ends correct', async () => {
    const orders = Array.from({ length: 24 }, (_, i) => ({ orderId: `kill-${i}`, versions: 3 }));
    const events = orders.flatMap((o, i) =>
      orderHistory('sea', o.orderId, o.versions, { seed: 100 + i, start: T0 }),
    );
    await app.send(events.map(messageOf));
    // Kill the host while a saga is between its hub upsert and its receipt in the source region:
    // the hub holds a version of an order whose receipt is not written yet.
    const midSaga = (): string[] => {
      try {
        return readMidSaga();
      } catch {
        return []; // the app has not created the tables (or sea's file) yet
      }
    };
    const readMidSaga = () => {
      const hub = app
        .db('cn')
        .prepare(`SELECT order_id, version FROM sales_order WHERE order_id LIKE 'kill-%'`)
        .all() as {
        order_id: string;
        version: number;
      }[];
      if (hub.length === 0) return [];
      const receipts = new Map(
        (
          app
            .db('sea')
            .prepare(
              `SELECT order_id, max(version) AS v FROM order_sync_receipt WHERE order_id LIKE 'kill-%' GROUP BY order_id`,
            )
            .all() as { order_id: string; v: number }[]
        ).map((r) => [r.order_id, r.v]),
      );
      return hub
        .filter((h) => h.version > (receipts.get(h.order_id) ?? 0))
        .map((h) => `${h.order_id}@v${h.version}`);
    };
    const interrupted = await app.waitFor(
      'a saga between upsert and receipt',
      async () => midSaga(),
      (l) => l.length > 0,
      30_000,
    );
    await app.host.kill();
    await app.restart();
    for (const o of orders) {
      await app.waitFor(
        `${o.orderId} at v${o.versions} after restart`,
        () => app.state('sea', o.orderId),
        (s) => s?.lastAppliedVersion === o.versions && s.running === null,
      );
      assert.equal(hubOrder(app, o.orderId).header?.version, o.versions);
    }
    const twice = app
      .db('cn')
      .prepare(
        `SELECT run_id FROM sync_audit WHERE run_id LIKE 'order-sea-kill-%' AND written > 0 GROUP BY run_id HAVING count(*) > 1`,
      )
      .all();
    assert.deepEqual(twice, [], 'no version written twice across the crash');
    for (const o of interrupted) {
      const [orderId, v] = o.split('@v') as [string, string];
      const receipt = app
        .db('sea')
        .prepare('SELECT status FROM order_sync_receipt WHERE order_id = ? AND version = ?')
        .get(orderId, Number(v)) as Row | undefined;
      assert.ok(receipt !== undefined, `the interrupted saga of ${o} wrote its receipt after the restart`);
    }
  });
});
