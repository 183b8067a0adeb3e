/** Shared fixtures for sync and store tests: policies, mappings and row builders. */
import type { ConflictPolicy, SyncRow, TableMapping } from '../../sync/model.js';
import type { OrderTables } from '../../sync/ports.js';

export const PRIORITIES = { cn: 100, sea: 30, eu: 20, latam: 10 } as const;

export function policy(name: ConflictPolicy['name']): ConflictPolicy {
  return { name, priorities: PRIORITIES, hubRegion: 'cn', homeRegionColumn: 'home_region' };
}

export const ISO0 = '2026-01-01T00:00:00.000Z';

export function isoAt(ms: number): string {
  return new Date(Date.parse(ISO0) + ms).toISOString();
}

/** price_list with an optional physical prefix/naming (the SQL Server suite isolates runs by table name). */
export function priceMapping(table = 'price_list', columns?: Record<string, string>): TableMapping {
  return {
    canonical: 'price_list',
    table,
    keyColumns: ['sku', 'currency'],
    columns: columns ?? {
      sku: 'sku',
      currency: 'currency',
      list_price: 'list_price',
      price_book: 'price_book',
    },
  };
}

export function priceRow(i: number, over: Partial<SyncRow> & { price?: number } = {}): SyncRow {
  return {
    values: {
      sku: `SKU-${String(i).padStart(6, '0')}`,
      currency: i % 2 === 0 ? 'USD' : 'EUR',
      list_price: over.price ?? 10 + i / 100,
      price_book: 'standard',
    },
    modifiedAt: over.modifiedAt ?? ISO0,
    originRegion: over.originRegion ?? 'cn',
    isDeleted: over.isDeleted ?? false,
  };
}

export function orderTables(prefix = ''): OrderTables {
  return {
    header: {
      canonical: 'sales_order',
      table: `${prefix}sales_order`,
      keyColumns: ['home_region', 'order_id'],
      columns: Object.fromEntries(
        ['order_id', 'home_region', 'version', 'customer_email', 'total_amount', 'status'].map((c) => [c, c]),
      ),
    },
    lines: {
      canonical: 'sales_order_line',
      table: `${prefix}sales_order_line`,
      keyColumns: ['home_region', 'order_id', 'line_no'],
      columns: Object.fromEntries(
        ['order_id', 'line_no', 'home_region', 'sku', 'quantity'].map((c) => [c, c]),
      ),
    },
    versionColumn: 'version',
    regionColumn: 'home_region',
    orderColumn: 'order_id',
  };
}

export function order(
  id: string,
  version: number,
  lineCount: number,
  origin = 'sea',
): { header: SyncRow; lines: SyncRow[] } {
  const modifiedAt = isoAt(version * 1000);
  return {
    header: {
      values: {
        order_id: id,
        home_region: origin,
        version,
        customer_email: null,
        total_amount: 10 * lineCount,
        status: 'open',
      },
      modifiedAt,
      originRegion: origin,
      isDeleted: false,
    },
    lines: Array.from({ length: lineCount }, (_, i) => ({
      values: { order_id: id, line_no: i + 1, home_region: origin, sku: `SKU-${i}`, quantity: version + i },
      modifiedAt,
      originRegion: origin,
      isDeleted: false,
    })),
  };
}
