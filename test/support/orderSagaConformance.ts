/**
 * Order-saga port conformance suite (sync/orderSaga.ts): what every region's saga tables must do,
 * checked only through the port, so the SQLite and SQL Server adapters are held to the same
 * behaviour. Run against SQLite always and against SQL Server when MSSQL_TEST_CONNECTION is set.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SyncError } from '../../sync/errors.js';
import type { OrderSnapshot } from '../../sync/model.js';
import type {
  CatalogProduct,
  OrderSagaStore,
  SyncReceipt,
  WarrantyEntitlement,
} from '../../sync/orderSaga.js';
import { order } from './syncFixtures.js';

export interface OrderSagaUnderTest {
  /** Opens a fresh store with no saga tables yet (the suite migrates). */
  open(region: string): Promise<OrderSagaStore>;
  /** Drops whatever the run created. */
  cleanup(): Promise<void>;
}

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** Values that must travel as data, never as SQL. */
export const HOSTILE_VALUES = [
  "o'; DROP TABLE warranty_entitlement; --",
  'x]; DELETE FROM order_sync_receipt; --',
  '注文-ü-✓',
] as const;

function entitlement(
  orderId: string,
  version: number,
  lineNo: number,
  sku = 'PHONE-X1',
  sourceRegion = 'sea',
): WarrantyEntitlement {
  return {
    orderId,
    version,
    lineNo,
    sku,
    quantity: lineNo + 1,
    sourceRegion,
    startsAt: iso(T0),
    endsAt: iso(T0 + 730 * DAY),
  };
}

function snapshotOf(orderId: string, version: number): OrderSnapshot {
  const o = order(orderId, version, 2);
  return {
    region: 'sea',
    orderId,
    aggregate: {
      header: { ...o.header, values: { ...o.header.values, customer_name: 'Zoë 山田', vip: true } },
      lines: o.lines,
    },
  };
}

const sea = (orderId: string) => ({ region: 'sea', orderId });

const receipt = (over: Partial<SyncReceipt> = {}): SyncReceipt => ({
  orderId: 'sea-1',
  version: 1,
  status: 'applied',
  reason: null,
  hubVersion: 1,
  sagaId: 'order-sea-sea-1-v1',
  at: iso(T0),
  ...over,
});

export function orderSagaConformance(name: string, sut: () => OrderSagaUnderTest): void {
  describe(`OrderSagaStore conformance: ${name}`, () => {
    let env: OrderSagaUnderTest;
    const opened: OrderSagaStore[] = [];
    const open = async (region = 'cn') => {
      const s = await env.open(region);
      opened.push(s);
      await s.migrate();
      return s;
    };
    before(() => {
      env = sut();
    });
    after(async () => {
      for (const s of opened) await s.close();
      await env.cleanup();
    });

    it('migrate is idempotent, also when two run at once', async () => {
      const s = await open();
      await s.migrate();
      await Promise.all([s.migrate(), s.migrate()]);
      assert.equal(s.region, 'cn');
      assert.equal((await s.lookupProducts(['PHONE-X1'])).size, 0);
      assert.deepEqual(await s.readEntitlements(sea('none')), []);
      assert.deepEqual(await s.readReceipts(sea('none')), []);
      assert.equal(await s.readSnapshot('none'), null);
    });

    it('catalog: upserts replace, lookups return only known SKUs, a repeated SKU counts last', async () => {
      const s = await open();
      assert.equal((await s.lookupProducts([])).size, 0);
      const phone: CatalogProduct = {
        sku: 'PHONE-X1',
        name: 'Phone X1',
        category: 'device',
        warrantyMonths: 24,
      };
      const charger: CatalogProduct = {
        sku: 'CHARGER-65W',
        name: 'Charger 65 W',
        category: 'accessory',
        warrantyMonths: null,
      };
      await s.upsertProducts([phone, charger]);
      await s.upsertProducts([phone, charger]); // idempotent
      const found = await s.lookupProducts(['PHONE-X1', 'UNKNOWN', 'PHONE-X1', 'CHARGER-65W']);
      assert.deepEqual(
        [...found.entries()].sort(([a], [b]) => a.localeCompare(b)),
        [
          ['CHARGER-65W', charger],
          ['PHONE-X1', phone],
        ],
      );
      await s.upsertProducts([
        { ...phone, name: 'first' },
        { ...phone, name: 'Phone X1 (2026) — 山田', warrantyMonths: 36 },
      ]);
      assert.deepEqual((await s.lookupProducts(['PHONE-X1'])).get('PHONE-X1'), {
        ...phone,
        name: 'Phone X1 (2026) — 山田',
        warrantyMonths: 36,
      });
      await s.upsertProducts([]);
      assert.equal((await s.lookupProducts(['PHONE-X1', 'CHARGER-65W'])).size, 2);
    });

    it('catalog: SKUs are case-sensitive, and hostile SKUs are plain data', async () => {
      const s = await open();
      const hostile = HOSTILE_VALUES.map((sku) => ({
        sku,
        name: sku,
        category: 'service' as const,
        warrantyMonths: null,
      }));
      await s.upsertProducts([
        { sku: 'case-x1', name: 'lower', category: 'accessory', warrantyMonths: null },
        ...hostile,
      ]);
      assert.equal((await s.lookupProducts(['CASE-X1'])).size, 0, 'no case-insensitive match');
      assert.equal((await s.lookupProducts(['x'.repeat(5000)])).size, 0, 'a very long SKU is just unknown');
      assert.equal((await s.lookupProducts(['case-x1'])).get('case-x1')?.name, 'lower');
      const found = await s.lookupProducts([...HOSTILE_VALUES]);
      assert.deepEqual(
        HOSTILE_VALUES.map((v) => found.get(v)?.name),
        [...HOSTILE_VALUES],
      );
    });

    it('catalog: an invalid category is a constraint error and the whole upsert changes nothing', async () => {
      const s = await open();
      await assert.rejects(
        s.upsertProducts([
          { sku: 'NEW-1', name: 'new', category: 'device', warrantyMonths: 12 },
          { sku: 'BAD-1', name: 'bad', category: 'gadget' as 'device', warrantyMonths: 12 },
        ]),
        (e: unknown) => e instanceof SyncError && e.code === 'constraint' && !e.retryable,
      );
      assert.equal((await s.lookupProducts(['NEW-1', 'BAD-1'])).size, 0);
    });

    it('entitlements: a newer version replaces the older ones (tombstoned, not accumulated), idempotently', async () => {
      const s = await open();
      const v1 = [entitlement('sea-1', 1, 2), entitlement('sea-1', 1, 1, 'WATCH-W3')];
      assert.equal(await s.registerEntitlements(sea('sea-1'), 1, v1), 2);
      assert.equal(await s.registerEntitlements(sea('sea-1'), 1, v1), 2, 'a retried step');
      assert.deepEqual(await s.readEntitlements(sea('sea-1')), [v1[1], v1[0]]);
      const v1b = [entitlement('sea-1', 1, 5, 'TABLET-T8')];
      assert.equal(await s.registerEntitlements(sea('sea-1'), 1, v1b), 1, 'the same version registered anew');
      assert.deepEqual(await s.readEntitlements(sea('sea-1')), v1b);

      const v2 = [entitlement('sea-1', 2, 3)];
      assert.equal(await s.registerEntitlements(sea('sea-1'), 2, v2), 1);
      assert.deepEqual(await s.readEntitlements(sea('sea-1')), v2, 'v1 replaced, not accumulated');
      assert.equal(await s.registerEntitlements(sea('sea-1'), 2, v2), 1, 'a retried step');
      assert.equal(await s.registerEntitlements(sea('sea-1'), 1, v1), 0, 'an older version writes nothing');
      assert.deepEqual(await s.readEntitlements(sea('sea-1')), v2);

      // The same order id from another region is another order.
      const eu1 = [entitlement('sea-1', 7, 1, 'BUDS-B2', 'eu')];
      await s.registerEntitlements({ region: 'eu', orderId: 'sea-1' }, 7, eu1);
      assert.deepEqual(await s.readEntitlements({ region: 'eu', orderId: 'sea-1' }), eu1);
      assert.deepEqual(await s.readEntitlements(sea('sea-1')), v2);

      // A deleted order (no entitlements) removes the live ones.
      assert.equal(await s.registerEntitlements(sea('sea-1'), 3, []), 0);
      assert.deepEqual(await s.readEntitlements(sea('sea-1')), []);
      assert.deepEqual(await s.readEntitlements({ region: 'eu', orderId: 'sea-1' }), eu1);
    });

    it('entitlements: removing a version (compensation) revives what it replaced, unless a newer version came since', async () => {
      const s = await open();
      const v1 = [entitlement('sea-c', 1, 1)];
      const v2 = [entitlement('sea-c', 2, 1), entitlement('sea-c', 2, 2)];
      await s.registerEntitlements(sea('sea-c'), 1, v1);
      await s.registerEntitlements(sea('sea-c'), 2, v2);
      assert.equal(await s.removeEntitlements(sea('sea-c'), 2), 2);
      assert.equal(await s.removeEntitlements(sea('sea-c'), 2), 0, 'a retried compensation');
      assert.deepEqual(await s.readEntitlements(sea('sea-c')), v1, 'v1 is live again');
      assert.equal(await s.removeEntitlements(sea('nope'), 1), 0);

      // v3 registered, then a late compensation of v2 must not touch v3 nor revive v1.
      const v3 = [entitlement('sea-c', 3, 4)];
      await s.registerEntitlements(sea('sea-c'), 2, v2);
      await s.registerEntitlements(sea('sea-c'), 3, v3);
      assert.equal(await s.removeEntitlements(sea('sea-c'), 2), 0);
      assert.deepEqual(await s.readEntitlements(sea('sea-c')), v3);
      // A compensated delete (v4 registered nothing) brings v3's back.
      await s.registerEntitlements(sea('sea-c'), 4, []);
      assert.deepEqual(await s.readEntitlements(sea('sea-c')), []);
      assert.equal(await s.removeEntitlements(sea('sea-c'), 4), 0);
      assert.deepEqual(await s.readEntitlements(sea('sea-c')), v3);
    });

    it('entitlements: two registrations of one version at once leave one set; hostile ids and big versions round-trip', async () => {
      const s = await open();
      const rows = [entitlement('race', 7, 1), entitlement('race', 7, 2)];
      await Promise.all([1, 2, 3].map(() => s.registerEntitlements(sea('race'), 7, rows)));
      assert.deepEqual(await s.readEntitlements(sea('race')), rows);
      const big = Number.MAX_SAFE_INTEGER;
      const eu = (orderId: string) => ({ region: 'eu', orderId });
      for (const id of HOSTILE_VALUES) {
        const r = [{ ...entitlement(id, big, 1), sourceRegion: 'eu' }];
        await s.registerEntitlements(eu(id), big, r);
        assert.deepEqual(await s.readEntitlements(eu(id)), r);
      }
      assert.equal(await s.removeEntitlements(eu(HOSTILE_VALUES[0]), big), 1);
      assert.deepEqual(await s.readEntitlements(eu(HOSTILE_VALUES[1])), [
        { ...entitlement(HOSTILE_VALUES[1], big, 1), sourceRegion: 'eu' },
      ]);
    });

    it('snapshot: taken once per saga id; a retry gets the first snapshot back without taking another', async () => {
      const s = await open();
      assert.equal(await s.readSnapshot('saga-1'), null);
      let takes = 0;
      const first = snapshotOf('sea-1', 3);
      const kept = await s.keepSnapshot(
        'saga-1',
        async () => {
          takes++;
          return first;
        },
        iso(T0),
      );
      assert.deepEqual(kept, first);
      const again = await s.keepSnapshot(
        'saga-1',
        async () => {
          takes++;
          return snapshotOf('sea-1', 4);
        },
        iso(T0 + 1000),
      );
      assert.deepEqual(again, first);
      assert.equal(takes, 1);
      assert.deepEqual(await s.readSnapshot('saga-1'), first);

      const none: OrderSnapshot = { region: 'sea', orderId: 'sea-new', aggregate: null };
      assert.deepEqual(await s.keepSnapshot('saga-2', async () => none, iso(T0)), none);
      assert.deepEqual(await s.readSnapshot('saga-2'), none);
      assert.deepEqual(await s.keepSnapshot(HOSTILE_VALUES[0], async () => none, iso(T0)), none);
      assert.equal(await s.readSnapshot('SAGA-1'), null, 'saga ids are case-sensitive');
    });

    it('snapshot: concurrent first calls of one saga all return the same snapshot', async () => {
      const s = await open();
      const results = await Promise.all(
        [1, 2, 3, 4].map((v) => s.keepSnapshot('saga-race', async () => snapshotOf('sea-r', v), iso(T0))),
      );
      const stored = await s.readSnapshot('saga-race');
      assert.ok(stored !== null);
      for (const r of results) assert.deepEqual(r, stored);
    });

    it('snapshot: ones older than the retention before now are pruned on the way', async () => {
      const s = await open();
      const snap = (id: string) => async () => ({ orderId: id, aggregate: null });
      await s.keepSnapshot('old', snap('a'), iso(T0));
      await s.keepSnapshot('mid', snap('b'), iso(T0 + 3 * DAY));
      await s.keepSnapshot('kept-long', snap('c'), iso(T0 + 8 * DAY), 30);
      assert.notEqual(await s.readSnapshot('old'), null, 'retainDays 30 keeps an 8-day-old snapshot');
      await s.keepSnapshot('new', snap('d'), iso(T0 + 8 * DAY));
      assert.equal(await s.readSnapshot('old'), null, 'older than 7 days: pruned');
      assert.deepEqual(await s.readSnapshot('mid'), { orderId: 'b', aggregate: null });
      assert.deepEqual(await s.readSnapshot('new'), { orderId: 'd', aggregate: null });
    });

    it('receipts: one per order version and origin region, replaced on rewrite, read in version order', async () => {
      const regionStore = await open('sea');
      const applied = receipt({ version: 2, hubVersion: 2, sagaId: 'order-sea-sea-1-v2' });
      await regionStore.writeReceipt('sea', applied);
      await regionStore.writeReceipt('sea', applied);
      const failed = receipt({
        status: 'failed',
        reason: `unknown-sku: the hub catalog does not know ${HOSTILE_VALUES.join(', ')}`,
        hubVersion: null,
      });
      await regionStore.writeReceipt('sea', failed);
      assert.deepEqual(await regionStore.readReceipts(sea('sea-1')), [failed, applied]);
      const stale = { ...failed, status: 'stale' as const, reason: 'hub has version 9', hubVersion: 9 };
      await regionStore.writeReceipt('sea', stale);
      assert.deepEqual(await regionStore.readReceipts(sea('sea-1')), [stale, applied]);
      assert.deepEqual(await regionStore.readReceipts(sea('sea-2')), []);
      const other = receipt({ sagaId: 'order-eu-sea-1-v1' });
      await regionStore.writeReceipt('eu', other);
      assert.deepEqual(await regionStore.readReceipts({ region: 'eu', orderId: 'sea-1' }), [other]);
      assert.deepEqual(await regionStore.readReceipts(sea('sea-1')), [stale, applied]);
      const big = receipt({
        orderId: HOSTILE_VALUES[2],
        version: Number.MAX_SAFE_INTEGER,
        hubVersion: 2 ** 40,
      });
      await regionStore.writeReceipt('sea', big);
      assert.deepEqual(await regionStore.readReceipts(sea(HOSTILE_VALUES[2])), [big]);
    });

    it('receipts: the enqueue time of an applied event is kept, and recent receipts come newest first', async () => {
      const regionStore = await open('latam');
      const at = (s: number) => new Date(Date.UTC(2026, 11, 4, 12, 0, s)).toISOString();
      const older = receipt({ orderId: 'r-1', version: 1, at: at(1), enqueuedAt: at(0) });
      const newer = receipt({ orderId: 'r-2', version: 1, at: at(5), enqueuedAt: at(4) });
      const failed = receipt({
        orderId: 'r-3',
        version: 1,
        status: 'failed',
        reason: 'unknown-sku',
        at: at(3),
      });
      const gone = receipt({ orderId: 'r-0', version: 1, at: at(-60) });
      for (const r of [older, failed, newer, gone]) await regionStore.writeReceipt('latam', r);
      const inLatam = (r: SyncReceipt) => ({ ...r, region: 'latam' });
      assert.deepEqual(await regionStore.recentReceipts(at(0), 10), [newer, failed, older].map(inLatam));
      assert.deepEqual(await regionStore.recentReceipts(at(0), 2), [newer, failed].map(inLatam));
      assert.deepEqual(await regionStore.readReceipts({ region: 'latam', orderId: 'r-2' }), [newer]);
    });

    it('a closed store refuses work with a non-retryable error; close is idempotent', async () => {
      const s = await env.open('cn');
      await s.migrate();
      await s.close();
      await s.close();
      const closed = (e: unknown) => e instanceof SyncError && !e.retryable;
      await assert.rejects(s.lookupProducts(['PHONE-X1']), closed);
      await assert.rejects(s.readReceipts(sea('sea-1')), closed);
      await assert.rejects(s.writeReceipt('sea', receipt()), closed);
    });
  });
}
