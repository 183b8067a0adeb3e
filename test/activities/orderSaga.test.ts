/**
 * The order saga's steps and compensations over real SQLite region files and the default topology:
 * residency toward the hub, idempotent steps, exact compensation, receipts and audit.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { OrderRuntime } from '../../activities/orderRuntime.js';
import {
  createRegisterAfterSales,
  createRemoveAfterSales,
  createRestoreHubOrder,
  createUpsertHubOrder,
  createWriteReceipt,
} from '../../activities/orderSaga.js';
import { SqliteOrderSagaStore } from '../../adapters/sqliteOrderSaga.js';
import { openSqliteRegionStore } from '../../adapters/sqliteRegionStore.js';
import type { SqliteRegionStore } from '../../adapters/sqliteRegionStore.js';
import { DEFAULT_TOPOLOGY } from '../../config/defaultTopology.js';
import { topologyProblems } from '../../config/topologySchema.js';
import { DEMO_CATALOG, orderHistory } from '../../scripts/orderGenerator.js';
import { orderAggregateOf, orderFlowRules } from '../../sync/orderEvent.js';
import { isPseudonym } from '../../sync/residency.js';
import type { Topology } from '../../sync/topology.js';
import { conflictPolicyFor, tableMappingFor } from '../../sync/topology.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const NOW = new Date('2026-03-01T12:00:00.000Z');

describe('order saga activities', () => {
  let dir: string;
  let deps: Pick<
    OrderRuntime,
    'topology' | 'pseudonymKey' | 'flow' | 'hub' | 'rules' | 'store' | 'sagaStore' | 'now'
  >;
  const stores = new Map<string, SqliteRegionStore>();
  const sagas = new Map<string, SqliteOrderSagaStore>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'order-saga-'));
    const topology = topologyProblems(structuredClone(DEFAULT_TOPOLOGY)).topology as Topology;
    const { flow, hub, rules } = orderFlowRules(topology);
    for (const r of ['cn', 'sea', 'eu']) {
      const s = openSqliteRegionStore({ region: r, file: join(dir, `${r}.sqlite`) });
      await s.migrate(flow.tables.map((t) => tableMappingFor(t, r)));
      stores.set(r, s);
      const saga = new SqliteOrderSagaStore({ region: r, file: join(dir, `${r}.sqlite`) });
      await saga.migrate();
      sagas.set(r, saga);
    }
    await sagas.get('cn')!.upsertProducts(DEMO_CATALOG);
    deps = {
      topology,
      pseudonymKey: KEY,
      flow,
      hub,
      rules,
      store: async (r) => stores.get(r)!,
      sagaStore: async (r) => sagas.get(r)!,
      now: () => NOW,
    };
  });
  after(async () => {
    for (const s of [...stores.values(), ...sagas.values()]) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('upserts an EU order into the hub with its PII dropped or pseudonymized, audited once', async () => {
    const [v1] = orderHistory('eu', 'eu-1', 1, { seed: 1, start: NOW.getTime() });
    const out = await createUpsertHubOrder(deps)({ sagaId: 'order-eu-eu-1-v1', event: v1! });
    assert.deepEqual(out, { kind: 'applied', previousVersion: null, before: null });
    const again = await createUpsertHubOrder(deps)({ sagaId: 'order-eu-eu-1-v1', event: v1! });
    assert.deepEqual(
      again,
      { kind: 'unchanged', previousVersion: 1, before: null },
      'a retried step writes nothing and keeps the first snapshot',
    );
    const hub = await stores.get('cn')!.readOrder(deps.rules.tables, { region: 'eu', orderId: 'eu-1' });
    assert.ok(hub !== null);
    assert.equal('customer_name' in hub.header.values ? hub.header.values.customer_name : null, null);
    assert.equal(hub.header.values.shipping_address ?? null, null);
    assert.ok(isPseudonym(hub.header.values.customer_email ?? null));
    assert.notEqual(hub.header.values.customer_email, v1!.order.customer_email);
    const audit = await stores.get('cn')!.readAudit('order-eu-eu-1-v1');
    assert.deepEqual(
      audit.map((a) => [a.source, a.target, a.written > 0, a.effect]),
      [['eu', 'cn', true, 'upsert']],
      'the upsert is audited once, not once per retry',
    );
    assert.match(audit[0]!.policy, /hmac=customer_email,customer_id,customer_phone/);
  });

  it('keeps an older version out of the hub (stale)', async () => {
    const [v1, v2] = orderHistory('sea', 'sea-1', 2, { seed: 2, start: NOW.getTime() });
    assert.equal((await createUpsertHubOrder(deps)({ sagaId: 's2', event: v2! })).kind, 'applied');
    assert.deepEqual(await createUpsertHubOrder(deps)({ sagaId: 's1', event: v1! }), {
      kind: 'stale',
      previousVersion: 2,
      before: 2,
    });
  });

  it('registers one entitlement per device line, rejects unknown SKUs, and compensates exactly', async () => {
    const [v1, v2] = orderHistory('sea', 'sea-2', 2, { seed: 3, start: NOW.getTime() });
    const upsert = createUpsertHubOrder(deps);
    const hubStore = stores.get('cn')!;
    const snapshot = (orderId: string) =>
      hubStore.snapshotOrder(deps.rules.tables, { region: 'sea', orderId });
    await upsert({ sagaId: 'order-sea-sea-2-v1', event: v1! });
    const reg = await createRegisterAfterSales(deps)({ sagaId: 'order-sea-sea-2-v1', event: v1! });
    const devices = v1!.lines.filter((l) => DEMO_CATALOG.find((p) => p.sku === l.sku)?.category === 'device');
    assert.deepEqual(reg, { kind: 'registered', entitlements: devices.length });

    // v2 with an SKU the hub does not know: upsert succeeds, after-sales rejects, restore puts v1 back.
    const bad = { ...v2!, lines: [...v2!.lines, { line_no: 99, sku: 'GHOST-1', quantity: 1 }] };
    const before = await snapshot('sea-2');
    assert.deepEqual(await upsert({ sagaId: 'order-sea-sea-2-v2', event: bad }), {
      kind: 'applied',
      previousVersion: 1,
      before: 1,
    });
    // Retried after a crash: the kept snapshot is the one from before the first attempt.
    assert.equal((await upsert({ sagaId: 'order-sea-sea-2-v2', event: bad })).before, 1);
    assert.deepEqual(await sagas.get('cn')!.readSnapshot('order-sea-sea-2-v2'), before);
    const rejected = await createRegisterAfterSales(deps)({ sagaId: 'order-sea-sea-2-v2', event: bad });
    assert.deepEqual(rejected, {
      kind: 'rejected',
      reason: 'unknown-sku',
      detail: 'the hub catalog does not know GHOST-1',
    });
    const restore = createRestoreHubOrder(deps);
    const undo = { sagaId: 'order-sea-sea-2-v2', sourceRegion: 'sea', orderId: 'sea-2', version: 2 };
    assert.deepEqual(await restore(undo), { kind: 'restored' });
    assert.deepEqual(await restore(undo), { kind: 'restored' });
    const after = await snapshot('sea-2');
    assert.deepEqual(
      after.aggregate?.header,
      before.aggregate?.header,
      'the hub header is exactly as before',
    );
    assert.deepEqual(
      after.aggregate?.lines.filter((l) => !l.isDeleted),
      before.aggregate?.lines.filter((l) => !l.isDeleted),
      'the same live lines as before (what v2 added is a tombstone)',
    );
    // A saga that never snapshotted has nothing to restore.
    assert.deepEqual(
      await restore({ sagaId: 'order-sea-never-v1', sourceRegion: 'sea', orderId: 'never', version: 1 }),
      {
        kind: 'restored',
      },
    );
    assert.deepEqual(await snapshot('sea-2'), after);
    const remove = createRemoveAfterSales(deps);
    assert.deepEqual(await remove({ sourceRegion: 'sea', orderId: 'sea-2', version: 1 }), {
      kind: 'removed',
      count: devices.length,
    });
    assert.deepEqual(await remove({ sourceRegion: 'sea', orderId: 'sea-2', version: 1 }), {
      kind: 'removed',
      count: 0,
    });
  });

  it('a batch write that lands between the apply and its compensation survives the compensation', async () => {
    const [v1, v2, v3] = orderHistory('sea', 'sea-b', 3, { seed: 11, start: NOW.getTime() });
    const upsert = createUpsertHubOrder(deps);
    const hub = stores.get('cn')!;
    const order = { region: 'sea', orderId: 'sea-b' };
    await upsert({ sagaId: 'order-sea-sea-b-v1', event: v1! });
    await createRegisterAfterSales(deps)({ sagaId: 'order-sea-sea-b-v1', event: v1! });
    // Saga v2 applies, then the nightly batch brings v3 from the spoke before v2 is compensated.
    assert.equal((await upsert({ sagaId: 'order-sea-sea-b-v2', event: v2! })).kind, 'applied');
    await createRegisterAfterSales(deps)({ sagaId: 'order-sea-sea-b-v2', event: v2! });
    const batch = orderAggregateOf(v3!, deps.rules);
    const page = (table: typeof deps.rules.tables.header, rows: typeof batch.lines) =>
      hub.applyPage({
        table,
        rows,
        policy: conflictPolicyFor(deps.topology, deps.flow),
        guard: { forbiddenColumns: [], pseudonymizedColumns: [] },
        checkpoint: {
          flow: 'orders',
          source: 'sea',
          target: 'cn',
          table: table.canonical,
          cursor: { change: '1', key: [] },
          runId: 'orders-incremental',
          updatedAt: NOW.toISOString(),
        },
        audit: {
          flow: 'orders',
          source: 'sea',
          target: 'cn',
          runId: 'orders-incremental',
          table: table.canonical,
          policy: 'nightly',
          at: NOW.toISOString(),
        },
      });
    await page(deps.rules.tables.lines, batch.lines);
    await page(deps.rules.tables.header, [batch.header]);
    const written = await hub.readOrder(deps.rules.tables, order);
    assert.equal(written?.header.values.version, 3);

    const undo = { sagaId: 'order-sea-sea-b-v2', sourceRegion: 'sea', orderId: 'sea-b', version: 2 };
    assert.deepEqual(await createRestoreHubOrder(deps)(undo), { kind: 'superseded', currentVersion: 3 });
    assert.deepEqual(await hub.readOrder(deps.rules.tables, order), written, 'the batch write survives');
    const audit = await hub.readAudit('order-sea-sea-b-v2');
    assert.deepEqual(
      audit.map((a) => a.effect),
      ['upsert', 'restore'],
    );
    assert.match(audit[1]!.policy, /superseded \(the hub holds v3\), kept/);
    // The after-sales compensation of v2 puts v1's entitlements back, the order's are not lost.
    await createRemoveAfterSales(deps)(undo);
    const live = await sagas.get('cn')!.readEntitlements(order);
    assert.ok(live.every((e) => e.version === 1));
  });

  it('writes receipts in the source region and audits the crossing there', async () => {
    const write = createWriteReceipt(deps);
    const receipt = {
      orderId: 'sea-9',
      version: 3,
      status: 'failed' as const,
      reason: 'unknown-sku: GHOST-1',
      hubVersion: 2,
      sagaId: 'order-sea-sea-9-v3',
      at: NOW.toISOString(),
    };
    assert.deepEqual(await write({ sourceRegion: 'sea', receipt }), { kind: 'written' });
    assert.deepEqual(await write({ sourceRegion: 'sea', receipt }), { kind: 'written' });
    assert.deepEqual(await sagas.get('sea')!.readReceipts({ region: 'sea', orderId: 'sea-9' }), [receipt]);
    assert.deepEqual(await sagas.get('cn')!.readReceipts({ region: 'sea', orderId: 'sea-9' }), []);
    const audit = await stores.get('sea')!.readAudit('order-sea-sea-9-v3');
    assert.equal(audit.length, 1, 'the receipt is audited once however often the step runs');
    assert.deepEqual(
      [audit[0]!.source, audit[0]!.target, audit[0]!.table],
      ['cn', 'sea', 'order_sync_receipt'],
    );
  });
});
