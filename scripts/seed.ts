/**
 * Deterministic demo data: `npm run seed -- --rows N [--seed S] [--data-dir DIR]`.
 * Writes price lists (SKUs x currencies), promotions and orders with lines and customer PII into
 * each region's SQLite file of the embedded-default topology (`.data/regions/*.sqlite`).
 * Same seed and rows, same data: a small seeded PRNG drives every choice, timestamps derive from
 * a fixed epoch, and rows go through the stores' ordinary applyPage path.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_TOPOLOGY } from '../config/defaultTopology.js';
import { topologyProblems } from '../config/topologySchema.js';
import { SqliteRegionStore } from '../adapters/sqliteRegionStore.js';
import type { SqlValue, SyncRow, TableMapping } from '../sync/model.js';
import { OPEN_GUARD } from '../sync/model.js';
import type { Topology } from '../sync/topology.js';
import { conflictPolicyFor, flowOf, tableMappingFor } from '../sync/topology.js';

/** mulberry32: tiny, fast, good enough for demo data, and fully determined by its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EPOCH = Date.parse('2026-01-01T00:00:00.000Z');
const CURRENCIES: Record<string, string> = { cn: 'CNY', sea: 'SGD', eu: 'EUR', latam: 'BRL' };
const FX: Record<string, number> = { CNY: 7.2, USD: 1, SGD: 1.35, EUR: 0.92, BRL: 5.1 };
const CATEGORIES = ['LAP', 'PHN', 'TAB', 'MON', 'KBD', 'HDP', 'CAM', 'WCH'];
const PEOPLE: Record<
  string,
  { first: string[]; last: string[]; city: string[]; phone: string; mail: string }
> = {
  cn: {
    first: ['Wei', 'Fang', 'Lei', 'Jing'],
    last: ['Wang', 'Li', 'Zhang', 'Liu'],
    city: ['Shanghai', 'Shenzhen'],
    phone: '+86 138',
    mail: 'example.cn',
  },
  sea: {
    first: ['Siti', 'Arjun', 'Mei Ling', 'Nguyen'],
    last: ['Tan', 'Lim', 'Rahman', 'Tran'],
    city: ['Singapore', 'Kuala Lumpur'],
    phone: '+65 9',
    mail: 'example.sg',
  },
  eu: {
    first: ['Anna', 'Lukas', 'Chiara', 'Zofia'],
    last: ['Schmidt', 'Rossi', 'Dubois', 'Kowalska'],
    city: ['Berlin', 'Milano', 'Lyon'],
    phone: '+49 151',
    mail: 'example.eu',
  },
  latam: {
    first: ['Camila', 'Mateo', 'Valentina', 'João'],
    last: ['Silva', 'González', 'Pereira', 'Rodríguez'],
    city: ['São Paulo', 'Ciudad de México'],
    phone: '+55 11',
    mail: 'example.br',
  },
};

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const iso = (ms: number) => new Date(EPOCH + ms).toISOString();
const money = (n: number) => Math.round(n * 100) / 100;

function row(values: Record<string, SqlValue>, at: number, origin: string): SyncRow {
  return { values, modifiedAt: iso(at), originRegion: origin, isDeleted: false };
}

async function write(
  store: SqliteRegionStore,
  table: TableMapping,
  rows: SyncRow[],
  topology: Topology,
  flow: string,
) {
  const policy = conflictPolicyFor(topology, flowOf(topology, flow));
  for (let i = 0; i < rows.length; i += 5000) {
    await store.applyPage({
      table,
      rows: rows.slice(i, i + 5000),
      policy,
      guard: OPEN_GUARD,
      checkpoint: {
        flow: 'seed',
        source: store.region,
        target: store.region,
        table: table.canonical,
        cursor: { change: '0', key: [] },
        runId: 'seed',
        updatedAt: iso(0),
      },
      audit: {
        flow: 'seed',
        source: store.region,
        target: store.region,
        table: table.canonical,
        runId: 'seed',
        policy: 'seed (local data)',
        at: iso(0),
      },
    });
  }
}

async function main(): Promise<void> {
  const program = new Command()
    .option('--rows <n>', 'price rows at the hub; promotions and orders scale from it', '1000')
    .option('--seed <n>', 'PRNG seed', '42')
    .option('--data-dir <dir>', 'directory holding regions/*.sqlite', '.data')
    .parse(process.argv);
  const opts = program.opts<{ rows: string; seed: string; dataDir: string }>();
  const rows = Number(opts.rows);
  const seed = Number(opts.seed);
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(seed))
    throw new Error('--rows and --seed must be integers, rows >= 1');
  const { topology, problems } = topologyProblems(structuredClone(DEFAULT_TOPOLOGY));
  if (topology === null) throw new Error(`embedded topology invalid: ${JSON.stringify(problems)}`);
  const tableOf = (flow: string, canonical: string, region: string) =>
    tableMappingFor(
      flowOf(topology, flow).tables.find((t) => t.canonical === canonical)!,
      region,
    );

  const currencies = ['CNY', 'USD', 'SGD', 'EUR', 'BRL'];
  const skus = Math.ceil(rows / currencies.length);
  const skuOf = (i: number) => `${CATEGORIES[i % CATEGORIES.length]}-${String(100000 + i)}`;
  for (const region of topology.regions) {
    const r = prng(seed * 31 + region.id.length * 7 + region.id.charCodeAt(0));
    const store = new SqliteRegionStore({
      region: region.id,
      file: resolve(opts.dataDir, 'regions', `${region.id}.sqlite`),
    });
    try {
      const prices: SyncRow[] = [];
      if (region.role === 'hub') {
        for (let i = 0, n = 0; i < skus && n < rows; i++) {
          const usd = 20 + Math.floor(r() * 2000);
          for (const c of currencies) {
            if (n++ >= rows) break;
            prices.push(
              row(
                {
                  sku: skuOf(i),
                  currency: c,
                  list_price: money(usd * (FX[c] ?? 1)),
                  min_qty: 1,
                  price_book: 'global',
                  valid_from: '2026-01-01',
                  valid_to: null,
                },
                n,
                'cn',
              ),
            );
          }
        }
      } else {
        // Each spoke adjusts a tenth of the prices of its own currency.
        const c = CURRENCIES[region.id] ?? 'USD';
        for (let i = 0; i < skus; i += 10) {
          prices.push(
            row(
              {
                sku: skuOf(i),
                currency: c,
                list_price: money((20 + Math.floor(r() * 2000)) * (FX[c] ?? 1)),
                min_qty: 1,
                price_book: `local-${region.id}`,
                valid_from: '2026-02-01',
                valid_to: null,
              },
              86_400_000 + i,
              region.id,
            ),
          );
        }
      }
      await write(store, tableOf('pricing', 'price_list', region.id), prices, topology, 'pricing');

      if (region.role === 'hub') {
        const promos: SyncRow[] = [];
        const scopes = ['global', ...topology.regions.filter((x) => x.role === 'spoke').map((x) => x.id)];
        for (let i = 0; i < Math.max(1, Math.floor(rows / 20)); i++) {
          const start = Math.floor(r() * 300);
          promos.push(
            row(
              {
                promotion_id: `PROMO-${String(i + 1).padStart(6, '0')}`,
                name: `${pick(r, ['Spring', 'Summer', 'Singles Day', 'Black Friday', 'New Year'])} ${pick(r, CATEGORIES)} deal`,
                sku: skuOf(Math.floor(r() * skus)),
                discount_pct: 5 + Math.floor(r() * 40),
                region_scope: pick(r, scopes),
                channel: pick(r, ['online', 'retail', 'partner']),
                starts_at: iso(start * 86_400_000),
                ends_at: iso((start + 14) * 86_400_000),
              },
              i,
              'cn',
            ),
          );
        }
        await write(store, tableOf('promotions', 'promotion', region.id), promos, topology, 'promotions');
      } else {
        const people = PEOPLE[region.id] ?? PEOPLE.sea!;
        const currency = CURRENCIES[region.id] ?? 'USD';
        const headers: SyncRow[] = [];
        const lines: SyncRow[] = [];
        for (let i = 0; i < Math.max(1, Math.floor(rows / 4)); i++) {
          const orderId = `${region.id}-${String(i + 1).padStart(8, '0')}`;
          const first = pick(r, people.first);
          const last = pick(r, people.last);
          const customer = Math.floor(r() * Math.max(10, rows / 10));
          const at = 2 * 86_400_000 + i * 1000;
          let total = 0;
          const n = 1 + Math.floor(r() * 5);
          for (let l = 1; l <= n; l++) {
            const qty = 1 + Math.floor(r() * 3);
            const unit = money((20 + Math.floor(r() * 500)) * (FX[currency] ?? 1));
            total += qty * unit;
            lines.push(
              row(
                {
                  order_id: orderId,
                  line_no: l,
                  home_region: region.id,
                  sku: skuOf(Math.floor(r() * skus)),
                  quantity: qty,
                  unit_price: unit,
                  line_amount: money(qty * unit),
                },
                at,
                region.id,
              ),
            );
          }
          headers.push(
            row(
              {
                order_id: orderId,
                home_region: region.id,
                version: 1,
                customer_id: `${region.id.toUpperCase()}-C${String(customer).padStart(7, '0')}`,
                customer_name: `${first} ${last}`,
                customer_email: `${first}.${last}.${customer}@${people.mail}`
                  .toLowerCase()
                  .replace(/\s+/g, ''),
                customer_phone: `${people.phone} ${String(1000000 + customer).slice(1)}`,
                shipping_address: `${1 + Math.floor(r() * 200)} ${pick(r, ['Main', 'Harbour', 'Station', 'Park'])} St, ${pick(r, people.city)}`,
                currency,
                total_amount: money(total),
                status: pick(r, ['open', 'paid', 'shipped', 'delivered']),
                ordered_at: iso(at),
              },
              at,
              region.id,
            ),
          );
        }
        await write(store, tableOf('orders', 'sales_order', region.id), headers, topology, 'orders');
        await write(store, tableOf('orders', 'sales_order_line', region.id), lines, topology, 'orders');
      }
      process.stdout.write(
        `seeded ${region.id}: ${resolve(opts.dataDir, 'regions', `${region.id}.sqlite`)}\n`,
      );
    } finally {
      await store.close();
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
