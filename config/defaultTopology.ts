/**
 * The embedded-default topology: China HQ hub `cn`, spokes `sea`, `eu`, `latam`, each on a
 * SQLite file under the data directory. It is an ordinary document and goes through the same
 * validation as one supplied by REGION_SYNC_TOPOLOGY_PATH / _JSON.
 */

/** Canonical columns of the embedded-default tables (the seed script writes these). */
export const DEFAULT_COLUMNS = {
  price_list: ['sku', 'currency', 'list_price', 'min_qty', 'price_book', 'valid_from', 'valid_to'],
  promotion: [
    'promotion_id',
    'name',
    'sku',
    'discount_pct',
    'region_scope',
    'channel',
    'starts_at',
    'ends_at',
  ],
  sales_order: [
    'order_id',
    'home_region',
    'version',
    'customer_id',
    'customer_name',
    'customer_email',
    'customer_phone',
    'shipping_address',
    'currency',
    'total_amount',
    'status',
    'ordered_at',
  ],
  sales_order_line: ['order_id', 'line_no', 'home_region', 'sku', 'quantity', 'unit_price', 'line_amount'],
} as const;

/** Columns that hold customer personal data in the default order tables. */
export const DEFAULT_PII_COLUMNS = [
  'customer_id',
  'customer_name',
  'customer_email',
  'customer_phone',
  'shipping_address',
] as const;

export const DEFAULT_TOPOLOGY = {
  regions: [
    {
      id: 'cn',
      displayName: 'China HQ',
      role: 'hub',
      priority: 100,
      store: { kind: 'sqlite', path: 'regions/cn.sqlite' },
    },
    {
      id: 'sea',
      displayName: 'Southeast Asia',
      role: 'spoke',
      priority: 30,
      store: { kind: 'sqlite', path: 'regions/sea.sqlite' },
    },
    {
      id: 'eu',
      displayName: 'Europe',
      role: 'spoke',
      priority: 20,
      store: { kind: 'sqlite', path: 'regions/eu.sqlite' },
    },
    {
      id: 'latam',
      displayName: 'Latin America',
      role: 'spoke',
      priority: 10,
      store: { kind: 'sqlite', path: 'regions/latam.sqlite' },
    },
  ],
  flows: [
    {
      // Regions edit their own price books; HQ sees all and forwards so every region quotes alike.
      name: 'pricing',
      direction: 'bidirectional',
      tables: [
        {
          canonical: 'price_list',
          keyColumns: ['sku', 'currency'],
          columns: [...DEFAULT_COLUMNS.price_list],
        },
      ],
      schedule: { incremental: '0 0 1 * * *', fullCompare: '0 0 3 1 * *' },
      pageSize: 5000,
      conflictPolicy: 'last-writer-wins',
      forwardSpokeOrigins: true,
      concurrencyPerTarget: 2,
      residency: [],
    },
    {
      // HQ owns promotions; a spoke receives only global ones and its own.
      name: 'promotions',
      direction: 'hub-to-spokes',
      tables: [
        { canonical: 'promotion', keyColumns: ['promotion_id'], columns: [...DEFAULT_COLUMNS.promotion] },
      ],
      schedule: { incremental: '0 30 1 * * *', fullCompare: '0 30 3 1 * *' },
      pageSize: 5000,
      conflictPolicy: 'hub-wins',
      forwardSpokeOrigins: false,
      concurrencyPerTarget: 2,
      residency: [
        {
          from: '*',
          to: '*',
          table: 'promotion',
          where: [{ column: 'region_scope', op: 'in', values: ['global', '$target'] }],
        },
      ],
    },
    {
      // Orders flow to HQ in near real time (order-events queue); the nightly run is a safety net.
      name: 'orders',
      direction: 'spokes-to-hub',
      realtime: true,
      tables: [
        // Keyed by (origin region, order id): two regions may use the same order id.
        {
          canonical: 'sales_order',
          keyColumns: ['home_region', 'order_id'],
          columns: [...DEFAULT_COLUMNS.sales_order],
        },
        {
          canonical: 'sales_order_line',
          keyColumns: ['home_region', 'order_id', 'line_no'],
          columns: [...DEFAULT_COLUMNS.sales_order_line],
        },
      ],
      schedule: { incremental: '0 0 2 * * *', fullCompare: '0 0 4 1 * *' },
      pageSize: 2000,
      conflictPolicy: 'origin-wins',
      homeRegionColumn: 'home_region',
      forwardSpokeOrigins: false,
      concurrencyPerTarget: 3,
      residency: [
        {
          // GDPR: EU customer identity stays in the EU. Ids, e-mail and phone become keyed
          // pseudonyms (HQ can still join and count per customer); name and address never leave.
          from: 'eu',
          to: '*',
          table: 'sales_order',
          drop: ['customer_name', 'shipping_address'],
          pseudonymize: ['customer_id', 'customer_email', 'customer_phone'],
        },
      ],
    },
  ],
} as const;
