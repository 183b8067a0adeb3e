/**
 * What "every target matches its source under the flow's policies" means for the embedded
 * default, computed from the regional SQLite files themselves.
 */
import assert from 'node:assert/strict';
import type { SyncApp } from './batchHarness';

export const REGIONS = ['cn', 'sea', 'eu', 'latam'] as const;
export const SPOKES = ['sea', 'eu', 'latam'] as const;

/** A row without its region-local change counter: what replication must reproduce. */
export function replicated(row: Record<string, unknown>): Record<string, unknown> {
  const { change_seq: _seq, ...rest } = row;
  return rest;
}

export function snapshot(app: SyncApp, region: string, table: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const [k, v] of app.rows(region, table)) out.set(k, replicated(v));
  return out;
}

/** pricing is bidirectional with forwarding: every region holds the same price book. */
export function assertPricingConverged(app: SyncApp): void {
  const hub = snapshot(app, 'cn', 'price_list');
  assert.ok(hub.size > 0);
  for (const spoke of SPOKES) {
    const s = snapshot(app, spoke, 'price_list');
    assert.equal(s.size, hub.size, `${spoke} holds ${s.size} prices, the hub ${hub.size}`);
    assert.deepEqual(s, hub, `${spoke} price_list differs from the hub's`);
  }
  // Every spoke's own prices reached the hub (and, forwarded, the other spokes).
  for (const spoke of SPOKES) {
    const own = [...hub.values()].filter((r) => r.origin_region === spoke);
    assert.ok(own.length > 0, `no price of ${spoke} in the hub`);
  }
}

/** promotions go hub -> spokes, only global ones and the spoke's own. */
export function assertPromotionsConverged(app: SyncApp): void {
  const hub = snapshot(app, 'cn', 'promotion');
  for (const spoke of SPOKES) {
    const expected = new Map(
      [...hub].filter(([, r]) => r.region_scope === 'global' || r.region_scope === spoke),
    );
    const actual = new Map([...snapshot(app, spoke, 'promotion')].filter(([, r]) => r.is_deleted === 0));
    assert.ok(expected.size > 0);
    assert.deepEqual(
      actual,
      new Map([...expected].filter(([, r]) => r.is_deleted === 0)),
      `${spoke} promotions`,
    );
  }
}

const PSEUDONYM = /^p1:[0-9a-f]{64}$/;

/** orders go spokes -> hub; EU customer identity is dropped or pseudonymized on the way. */
export function assertOrdersConverged(app: SyncApp): void {
  const hubOrders = snapshot(app, 'cn', 'sales_order');
  const hubLines = snapshot(app, 'cn', 'sales_order_line');
  for (const spoke of SPOKES) {
    const orders = snapshot(app, spoke, 'sales_order');
    assert.ok(orders.size > 0);
    for (const [key, o] of orders) {
      const h = hubOrders.get(key);
      assert.ok(h !== undefined, `order ${key} of ${spoke} missing in the hub`);
      if (spoke === 'eu') {
        assert.equal(h.customer_name, null);
        assert.equal(h.shipping_address, null);
        for (const c of ['customer_id', 'customer_email', 'customer_phone'])
          assert.match(String(h[c]), PSEUDONYM, `${c} of ${key} is not a pseudonym in the hub`);
        const open: Record<string, unknown> = {
          ...h,
          customer_name: o.customer_name,
          shipping_address: o.shipping_address,
        };
        for (const c of ['customer_id', 'customer_email', 'customer_phone']) open[c] = o[c];
        assert.deepEqual(open, o);
      } else assert.deepEqual(h, o, `order ${key} differs in the hub`);
    }
    for (const [key, l] of snapshot(app, spoke, 'sales_order_line'))
      assert.deepEqual(hubLines.get(key), l, `order line ${key} of ${spoke}`);
  }
}
