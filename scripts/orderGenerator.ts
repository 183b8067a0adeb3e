/**
 * Realistic order changes for the load generator, the benchmark and the end-to-end tests: orders of
 * a spoke region with customer PII, 1-4 lines of catalog products (devices carry a warranty), and
 * a history of versions (status moves, lines added or removed, a few cancellations as deletes).
 * Deterministic for a seed.
 */
import type { CatalogProduct } from '../sync/orderSaga.js';
import type { OrderEvent } from '../sync/orderEvent.js';

/** The hub catalog the generated orders use (seed it into the hub before sending). */
export const DEMO_CATALOG: readonly CatalogProduct[] = [
  { sku: 'PHONE-X1', name: 'Phone X1', category: 'device', warrantyMonths: 24 },
  { sku: 'PHONE-X1-PRO', name: 'Phone X1 Pro', category: 'device', warrantyMonths: 24 },
  { sku: 'TABLET-T8', name: 'Tablet T8', category: 'device', warrantyMonths: 12 },
  { sku: 'WATCH-W3', name: 'Watch W3', category: 'device', warrantyMonths: 12 },
  { sku: 'BUDS-B2', name: 'Buds B2', category: 'device', warrantyMonths: 6 },
  { sku: 'CASE-X1', name: 'Case for X1', category: 'accessory', warrantyMonths: null },
  { sku: 'CHARGER-65W', name: 'Charger 65 W', category: 'accessory', warrantyMonths: null },
  { sku: 'CARE-PLUS', name: 'Care+ plan', category: 'service', warrantyMonths: null },
];

const PRICES: Readonly<Record<string, number>> = {
  'PHONE-X1': 699,
  'PHONE-X1-PRO': 999,
  'TABLET-T8': 449,
  'WATCH-W3': 249,
  'BUDS-B2': 129,
  'CASE-X1': 29,
  'CHARGER-65W': 39,
  'CARE-PLUS': 89,
};

const CURRENCY: Readonly<Record<string, string>> = { sea: 'SGD', eu: 'EUR', latam: 'BRL' };
const NAMES = ['Ana Souza', 'Lukas Meier', 'Nguyen Van An', 'Siti Rahma', 'Jean Dupont', 'Maria Garcia'];
const STATUSES = ['open', 'confirmed', 'paid', 'shipped', 'delivered'];

/** A small seeded PRNG (mulberry32): the same seed gives the same orders. */
export function rngOf(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rng: () => number, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;

export interface GeneratedLine {
  readonly line_no: number;
  readonly sku: string;
  readonly quantity: number;
  readonly unit_price: number;
  readonly line_amount: number;
}

/**
 * The versions 1..count of one order, each a full snapshot. `changedAt` of version v is
 * `start + v` seconds.
 */
export function orderHistory(
  region: string,
  orderId: string,
  count: number,
  options: { readonly seed: number; readonly start: number; readonly skus?: readonly string[] },
): OrderEvent[] {
  const rng = rngOf(options.seed);
  const skus = options.skus ?? DEMO_CATALOG.map((p) => p.sku);
  const name = pick(rng, NAMES);
  const customer = `c-${Math.floor(rng() * 100000)}`;
  const header = {
    customer_id: customer,
    customer_name: name,
    customer_email: `${name.toLowerCase().replace(/[^a-z]+/g, '.')}@example.com`,
    customer_phone: `+${Math.floor(10_000_000_000 + rng() * 89_999_999_999)}`,
    shipping_address: `${1 + Math.floor(rng() * 200)} Harbour Road, ${region.toUpperCase()}`,
    currency: CURRENCY[region] ?? 'USD',
    ordered_at: new Date(options.start).toISOString(),
  };
  let lines: GeneratedLine[] = [];
  let nextLine = 1;
  const addLine = () => {
    const sku = pick(rng, skus);
    const quantity = 1 + Math.floor(rng() * 3);
    const unit = PRICES[sku] ?? 10;
    lines.push({ line_no: nextLine++, sku, quantity, unit_price: unit, line_amount: unit * quantity });
  };
  const n = 1 + Math.floor(rng() * 3);
  for (let i = 0; i < n; i++) addLine();
  const out: OrderEvent[] = [];
  for (let v = 1; v <= count; v++) {
    if (v > 1) {
      const r = rng();
      if (r < 0.3) addLine();
      else if (r < 0.45 && lines.length > 1) {
        // One line removed (drawn once: a draw per line could remove them all, leaving a live
        // order without lines, which no CRM sends).
        const drop = Math.floor(rng() * lines.length);
        lines = lines.filter((_, i) => i !== drop);
      } else if (r < 0.6 && lines.length > 0) {
        const i = Math.floor(rng() * lines.length);
        const l = lines[i] as GeneratedLine;
        const quantity = l.quantity + 1;
        lines[i] = { ...l, quantity, line_amount: l.unit_price * quantity };
      }
    }
    const cancelled = v === count && count > 2 && rng() < 0.05;
    const total = lines.reduce((s, l) => s + l.line_amount, 0);
    out.push({
      region,
      orderId,
      version: v,
      changedAt: new Date(options.start + v * 1000).toISOString(),
      op: cancelled ? 'delete' : 'upsert',
      order: {
        ...header,
        total_amount: total,
        status: cancelled ? 'cancelled' : (STATUSES[Math.min(v - 1, STATUSES.length - 1)] as string),
      },
      lines: cancelled ? [] : lines.map((l) => ({ ...l })),
    });
  }
  return out;
}

/** Fisher-Yates with the given PRNG. */
export function shuffle<T>(xs: readonly T[], rng: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}
