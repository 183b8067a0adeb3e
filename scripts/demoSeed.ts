/**
 * Deterministic demo data for the embedded-default regions, written as each region's CRM would
 * write it (plain INSERTs; the sync triggers assign change values): the hub's price book and
 * promotions, each spoke's local prices and its own orders with customer PII.
 *
 * Used by `npm start` on first run (scripts/firstRun.ts), by the end-to-end tests and the bench.
 */
import type { Database } from 'better-sqlite3';
import { openSqliteRegionStore } from '../adapters/sqliteRegionStore.js';
import type { AppConfig } from '../config/loadConfig.js';
import type { SqlValue } from '../sync/model.js';
import { hubOf, tableMappingFor } from '../sync/topology.js';

export interface SeedOptions {
  /** Hub price rows (sku x currency). */
  readonly hubPrices: number;
  /** Local price rows per spoke. */
  readonly spokePrices: number;
  readonly promotions: number;
  /** Orders per spoke (2 lines each). */
  readonly ordersPerSpoke: number;
  /** modified_at of the seeded rows: `base` plus i seconds. ISO-8601 UTC. */
  readonly base: string;
}

export const DEMO_SEED: SeedOptions = {
  hubPrices: 2000,
  spokePrices: 50,
  promotions: 40,
  ordersPerSpoke: 30,
  base: '2026-01-01T00:00:00.000Z',
};

const CURRENCIES = ['CNY', 'USD', 'EUR', 'BRL'] as const;

function at(base: string, seconds: number): string {
  return new Date(Date.parse(base) + seconds * 1000).toISOString();
}

/** Inserts rows as a CRM would: business columns plus modified_at and origin_region. */
export function insertRows(
  db: Database,
  table: string,
  rows: readonly {
    values: Record<string, SqlValue>;
    modifiedAt: string;
    origin: string;
    deleted?: boolean;
  }[],
): void {
  if (rows.length === 0) return;
  const cols = Object.keys((rows[0] as { values: Record<string, SqlValue> }).values);
  const stmt = db.prepare(
    `INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(', ')}, modified_at, origin_region, is_deleted)
     VALUES (${cols.map(() => '?').join(', ')}, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (const r of rows)
      stmt.run(
        ...cols.map((c) => {
          const v = r.values[c] ?? null;
          return typeof v === 'boolean' ? (v ? 1 : 0) : v;
        }),
        r.modifiedAt,
        r.origin,
        r.deleted === true ? 1 : 0,
      );
  })();
}

/** Hub price row i: sku/currency pairs cycle through the currencies. */
export function hubPrice(i: number, base: string) {
  const sku = `SKU-${String(Math.floor(i / CURRENCIES.length)).padStart(6, '0')}`;
  const currency = CURRENCIES[i % CURRENCIES.length] as string;
  return {
    values: {
      sku,
      currency,
      list_price: Math.round((10 + (i % 997) * 1.37) * 100) / 100,
      min_qty: 1 + (i % 5),
      price_book: 'global',
      valid_from: '2026-01-01',
      valid_to: '2026-12-31',
    },
    modifiedAt: at(base, i),
    origin: 'cn',
  };
}

/**
 * Creates the regions' tables (through the store's migration) and inserts the demo rows. Meant for
 * empty databases; returns how many rows each region received.
 */
export async function seedDemo(
  config: AppConfig,
  options: SeedOptions = DEMO_SEED,
): Promise<Record<string, number>> {
  const topology = config.topology;
  const hub = hubOf(topology).id;
  const counts: Record<string, number> = {};
  for (const region of topology.regions) {
    const resolved = config.stores[region.id];
    if (resolved?.kind !== 'sqlite') continue;
    const store = openSqliteRegionStore({ region: region.id, file: resolved.file });
    try {
      const mappings = topology.flows.flatMap((f) => f.tables.map((t) => tableMappingFor(t, region.id)));
      await store.migrate(mappings);
      const db = store.database;
      let n = 0;
      if (region.id === hub) {
        const prices = Array.from({ length: options.hubPrices }, (_, i) => hubPrice(i, options.base));
        insertRows(db, 'price_list', prices);
        const scopes = ['global', ...topology.regions.filter((r) => r.role === 'spoke').map((r) => r.id)];
        const promos = Array.from({ length: options.promotions }, (_, i) => ({
          values: {
            promotion_id: `PROMO-${String(i).padStart(4, '0')}`,
            name: `Promotion ${i}`,
            sku: `SKU-${String(i).padStart(6, '0')}`,
            discount_pct: 5 + (i % 6) * 5,
            region_scope: scopes[i % scopes.length] as string,
            channel: i % 2 === 0 ? 'online' : 'retail',
            starts_at: '2026-02-01',
            ends_at: '2026-03-01',
          },
          modifiedAt: at(options.base, i),
          origin: hub,
        }));
        insertRows(db, 'promotion', promos);
        n += prices.length + promos.length;
      } else {
        const prices = Array.from({ length: options.spokePrices }, (_, i) => ({
          values: {
            sku: `${region.id.toUpperCase()}-LOCAL-${String(i).padStart(4, '0')}`,
            currency: 'USD',
            list_price: 20 + i,
            min_qty: 1,
            price_book: `local-${region.id}`,
            valid_from: '2026-01-01',
            valid_to: '2026-12-31',
          },
          modifiedAt: at(options.base, 10_000 + i),
          origin: region.id,
        }));
        insertRows(db, 'price_list', prices);
        const orders = Array.from({ length: options.ordersPerSpoke }, (_, i) => {
          const id = `${region.id}-${String(i).padStart(5, '0')}`;
          return {
            values: {
              order_id: id,
              home_region: region.id,
              version: 1,
              customer_id: `CUST-${region.id}-${i % 7}`,
              customer_name: `Customer ${region.id} ${i % 7}`,
              customer_email: `c${i % 7}@${region.id}.example`,
              customer_phone: `+${10 + topology.regions.indexOf(region)} 555 ${1000 + i}`,
              shipping_address: `${i} Main Street, ${region.displayName}`,
              currency: 'USD',
              total_amount: 30 + i,
              status: 'placed',
              ordered_at: at(options.base, 20_000 + i),
            },
            modifiedAt: at(options.base, 20_000 + i),
            origin: region.id,
          };
        });
        insertRows(db, 'sales_order', orders);
        const lines = orders.flatMap((o, i) =>
          [1, 2].map((line) => ({
            values: {
              order_id: o.values.order_id,
              line_no: line,
              home_region: region.id,
              sku: `SKU-${String(i).padStart(6, '0')}`,
              quantity: line,
              unit_price: 10 + i,
              line_amount: line * (10 + i),
            },
            modifiedAt: o.modifiedAt,
            origin: region.id,
          })),
        );
        insertRows(db, 'sales_order_line', lines);
        n += prices.length + orders.length + lines.length;
      }
      counts[region.id] = n;
    } finally {
      await store.close();
    }
  }
  return counts;
}
