/**
 * SQL Server / Azure SQL implementation of the order saga's tables (sync/orderSaga.ts), with the
 * semantics of {@link SqliteOrderSagaStore}: `product_catalog` and `warranty_entitlement` (hub),
 * `order_saga_snapshot` (hub, one per saga id) and `order_sync_receipt` (source regions), in one
 * schema of the region's database (default `dbo`, as the RegionStore's sync tables).
 *
 * - Every write is idempotent: upserts are `MERGE ... WITH (HOLDLOCK)`, the snapshot is
 *   `INSERT ... WHERE NOT EXISTS` under UPDLOCK + HOLDLOCK, and the entitlements of an order
 *   version are replaced (delete under HOLDLOCK, then insert) in one transaction, so concurrent or
 *   retried calls serialise on the key range instead of failing on the primary key.
 * - Every value is a bound parameter with an explicit type and length. Strings longer than their
 *   column are refused before any SQL (a too-long parameter would be truncated silently by the
 *   server and match another row); so are non-integers and timestamps that do not parse.
 * - The only configured name is the schema; it passes the identifier allow-list (quoteMssql)
 *   when the store is built. Table and constraint names are the adapter's own literals.
 * - Text keys (SKU, order id, saga id) and the status/category columns use a binary collation,
 *   so they compare case- and accent-sensitively as SQLite's TEXT does, not by the database's
 *   (usually case-insensitive) default.
 * - Timestamps are datetime2(3) (UTC); they read back as `Date#toISOString()`, which is the form
 *   the saga writes (event `changedAt` has millisecond precision and no offset).
 * - Schema: versioned, append-only migrations applied under the app-wide migration lock of
 *   mssqlSchema (sp_getapplock) in one transaction; the version is kept in the schema's
 *   `sync_meta` under a key of its own, beside the RegionStore's.
 */
import sql from 'mssql';
import { SyncError } from '../sync/errors.js';
import type { OrderSnapshot, RegionId } from '../sync/model.js';
import type {
  CatalogProduct,
  OrderRef,
  OrderSagaStore,
  ProductCategory,
  ReceiptStatus,
  SyncReceipt,
  WarrantyEntitlement,
} from '../sync/orderSaga.js';
import type { MssqlConnectionOptions } from './mssqlConnection.js';
import type { ResultRow, SqlGateway, SqlParam } from './mssqlGateway.js';
import { MssqlPoolGateway } from './mssqlGateway.js';
import { ensureSchema, takeMigrationLock } from './mssqlSchema.js';
import { quoteMssql as q } from './sqlIdentifiers.js';

/** Longest SKU, order id and saga id (characters): 400 nvarchar = 800 bytes, inside SQL Server's 900-byte key. */
export const KEY_CHARS = 400;
const REGION_CHARS = 64;
const BIN = 'COLLATE Latin1_General_100_BIN2';

/** sp_executesql takes at most 2,100 parameters; statements are chunked below that. */
export const MAX_PARAMS = 2000;
/** Snapshots pruned per call: below SQL Server's lock-escalation threshold (5,000 locks), so pruning never takes a table lock. */
export const PRUNE_BATCH = 1000;

/** Key of the saga tables' schema version in `sync_meta` (the RegionStore's is `schema_version`). */
export const SAGA_SCHEMA_KEY = 'order_saga_schema_version';

/** Ordered migrations of the saga tables; append only. `S` is the quoted schema. */
const MIGRATIONS: readonly ((S: string, region: RegionId) => string | readonly string[])[] = [
  (S) => `
    CREATE TABLE ${S}.[product_catalog] (
      [sku] nvarchar(${KEY_CHARS}) ${BIN} NOT NULL CONSTRAINT [product_catalog_pk] PRIMARY KEY,
      [name] nvarchar(max) NOT NULL,
      [category] nvarchar(16) ${BIN} NOT NULL
        CONSTRAINT [product_catalog_category] CHECK ([category] IN (N'device', N'accessory', N'service')),
      [warranty_months] int NULL
    );
    CREATE TABLE ${S}.[warranty_entitlement] (
      [order_id] nvarchar(${KEY_CHARS}) ${BIN} NOT NULL,
      [version] bigint NOT NULL,
      [line_no] bigint NOT NULL,
      [sku] nvarchar(${KEY_CHARS}) ${BIN} NOT NULL,
      [quantity] bigint NOT NULL,
      [source_region] nvarchar(${REGION_CHARS}) NOT NULL,
      [starts_at] datetime2(3) NOT NULL,
      [ends_at] datetime2(3) NOT NULL,
      CONSTRAINT [warranty_entitlement_pk] PRIMARY KEY ([order_id], [version], [line_no])
    );
    CREATE TABLE ${S}.[order_saga_snapshot] (
      [saga_id] nvarchar(${KEY_CHARS}) ${BIN} NOT NULL CONSTRAINT [order_saga_snapshot_pk] PRIMARY KEY,
      [snapshot] nvarchar(max) NOT NULL,
      [saved_at] datetime2(3) NOT NULL
    );
    CREATE INDEX [order_saga_snapshot_saved] ON ${S}.[order_saga_snapshot] ([saved_at]);
    CREATE TABLE ${S}.[order_sync_receipt] (
      [order_id] nvarchar(${KEY_CHARS}) ${BIN} NOT NULL,
      [version] bigint NOT NULL,
      [status] nvarchar(16) ${BIN} NOT NULL
        CONSTRAINT [order_sync_receipt_status] CHECK ([status] IN (N'applied', N'failed', N'stale')),
      [reason] nvarchar(max) NULL,
      [hub_version] bigint NULL,
      [saga_id] nvarchar(${KEY_CHARS}) NOT NULL,
      [at] datetime2(3) NOT NULL,
      CONSTRAINT [order_sync_receipt_pk] PRIMARY KEY ([order_id], [version])
    );`,
  // Orders are keyed by (origin region, order id). Entitlements: one live set per order (older
  // versions' rows become tombstones superseded by the newer version, so a compensation can revive
  // them); rows accumulated by older builds are tombstoned here, superseded by the newest.
  // Receipts live in the order's origin region, so existing ones take this region. One batch per
  // statement: a statement cannot name a column added earlier in the same batch.
  (S, region) => [
    `ALTER TABLE ${S}.[warranty_entitlement] ADD
       [is_deleted] bit NOT NULL CONSTRAINT [warranty_entitlement_deleted] DEFAULT (0),
       [superseded_by] bigint NULL;`,
    `ALTER TABLE ${S}.[warranty_entitlement] DROP CONSTRAINT [warranty_entitlement_pk];`,
    `ALTER TABLE ${S}.[warranty_entitlement] ADD CONSTRAINT [warranty_entitlement_pk]
       PRIMARY KEY ([source_region], [order_id], [version], [line_no]);`,
    `UPDATE w SET [is_deleted] = 1, [superseded_by] = n.[newest]
     FROM ${S}.[warranty_entitlement] AS w
     JOIN (SELECT [source_region], [order_id], MAX([version]) AS [newest] FROM ${S}.[warranty_entitlement]
           GROUP BY [source_region], [order_id]) AS n
       ON n.[source_region] = w.[source_region] AND n.[order_id] = w.[order_id]
     WHERE w.[version] < n.[newest];`,
    `ALTER TABLE ${S}.[order_sync_receipt] ADD
       [origin_region] nvarchar(${REGION_CHARS}) NOT NULL CONSTRAINT [order_sync_receipt_origin] DEFAULT (N'${region}');`,
    `ALTER TABLE ${S}.[order_sync_receipt] DROP CONSTRAINT [order_sync_receipt_pk];`,
    `ALTER TABLE ${S}.[order_sync_receipt] ADD CONSTRAINT [order_sync_receipt_pk]
       PRIMARY KEY ([origin_region], [order_id], [version]);`,
  ],
  // The broker's enqueue time of an applied event (order latency), and receipts listed by time.
  // Two batches: the index must not be in the batch that adds the column's table change.
  (S) => [
    `ALTER TABLE ${S}.[order_sync_receipt] ADD [enqueued_at] datetime2(3) NULL;`,
    `CREATE INDEX [order_sync_receipt_at] ON ${S}.[order_sync_receipt] ([at]);`,
  ],
];

export const MSSQL_ORDER_SAGA_SCHEMA_VERSION = MIGRATIONS.length;

// ---------------------------------------------------------------------------------------------
// Values -> typed parameters, checked before any SQL is sent.

const refuse = (message: string): never => {
  throw new SyncError('invalid-config', message);
};

/** Collects bound parameters while a statement is built: `add` returns the `@name` to place. */
class Params {
  readonly list: SqlParam[] = [];
  add(type: sql.ISqlType, value: unknown): string {
    const name = `p${this.list.length}`;
    this.list.push({ name, type, value });
    return `@${name}`;
  }
  text(value: string, chars: number, what: string): string {
    if (typeof value !== 'string') refuse(`${what} must be a string`);
    if (value.length > chars) refuse(`${what} is longer than ${chars} characters`);
    return this.add(sql.NVarChar(chars), value);
  }
  longText(value: string | null, what: string): string {
    if (value !== null && typeof value !== 'string') refuse(`${what} must be a string or null`);
    return this.add(sql.NVarChar(sql.MAX), value);
  }
  integer(value: number | null, what: string): string {
    if (value !== null && !Number.isSafeInteger(value))
      refuse(`${what} must be an integer, not ${String(value)}`);
    return this.add(sql.BigInt(), value);
  }
  int32(value: number | null, what: string): string {
    if (value !== null && !(Number.isInteger(value) && Math.abs(value) <= 2_147_483_647))
      refuse(`${what} must be a 32-bit integer, not ${String(value)}`);
    return this.add(sql.Int(), value);
  }
  timestamp(value: string, what: string): string {
    return this.add(sql.DateTime2(3), toDate(value, what));
  }
  optionalTimestamp(value: string | null, what: string): string {
    return this.add(sql.DateTime2(3), value === null ? null : toDate(value, what));
  }
}

function toDate(value: string, what: string): Date {
  const d = typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime())) refuse(`${what} ${JSON.stringify(value)} is not a timestamp`);
  return d;
}

/** Splits `items` so each chunk needs at most MAX_PARAMS parameters (and at most 1,000 VALUES rows). */
export function chunksOf<T>(items: readonly T[], paramsPerItem: number): T[][] {
  const size = Math.max(1, Math.min(1000, Math.floor(MAX_PARAMS / paramsPerItem)));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Driver values -> port values.

/** tedious returns BIGINT as a decimal string. */
function readInt(v: unknown, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n))
    throw new SyncError('schema', `${what}: expected an integer, got ${String(v)}`);
  return n;
}
const readIntOrNull = (v: unknown, what: string): number | null =>
  v === null || v === undefined ? null : readInt(v, what);
const readIso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

const RECEIPT_COLUMNS =
  '[order_id], [version], [status], [reason], [hub_version], [saga_id], [at], [enqueued_at]';

function receiptOf(r: Record<string, unknown>): SyncReceipt {
  return {
    orderId: String(r.order_id),
    version: readInt(r.version, 'version'),
    status: String(r.status) as ReceiptStatus,
    reason: typeof r.reason === 'string' ? r.reason : null,
    hubVersion: readIntOrNull(r.hub_version, 'hub_version'),
    sagaId: String(r.saga_id),
    at: readIso(r.at),
    ...(r.enqueued_at === null || r.enqueued_at === undefined ? {} : { enqueuedAt: readIso(r.enqueued_at) }),
  };
}

function parseSnapshot(r: ResultRow | undefined): OrderSnapshot | null {
  if (r === undefined) return null;
  try {
    return JSON.parse(String(r.snapshot)) as OrderSnapshot;
  } catch (e) {
    throw new SyncError('schema', 'order_saga_snapshot holds a snapshot that is not JSON', { cause: e });
  }
}

// ---------------------------------------------------------------------------------------------

export interface MssqlOrderSagaOptions extends MssqlConnectionOptions {
  readonly region: RegionId;
  /** Schema of the saga tables. Default `dbo`. */
  readonly schema?: string;
}

/** Test seam: the store over any gateway (the unit tests pass a recording fake). */
export interface MssqlOrderSagaDeps {
  readonly region: RegionId;
  readonly gateway: SqlGateway;
  readonly schema?: string;
}

export class MssqlOrderSagaStore implements OrderSagaStore {
  readonly region: RegionId;
  private readonly gateway: SqlGateway;
  private readonly schema: string;
  /** Quoted schema, e.g. `[dbo]`. */
  private readonly S: string;
  private closed = false;

  constructor(deps: MssqlOrderSagaDeps) {
    this.region = deps.region;
    this.gateway = deps.gateway;
    this.schema = deps.schema ?? 'dbo';
    // A schema name, not a schema-qualified one: one part only, through the allow-list.
    if (this.schema.includes('.')) refuse(`refused SQL Server schema name ${JSON.stringify(this.schema)}`);
    this.S = q(this.schema);
  }

  private ensureOpen(what: string): void {
    if (this.closed)
      throw new SyncError('connection', `${what}: saga store of region '${this.region}' is closed`, {
        retryable: false,
      });
  }

  private table(name: string): string {
    return `${this.S}.[${name}]`;
  }

  async migrate(): Promise<void> {
    this.ensureOpen('migrate order saga tables');
    await this.gateway.transaction(async (s) => {
      await takeMigrationLock(s);
      await ensureSchema(s, this.schema);
      const meta = this.table('sync_meta');
      // The same table the RegionStore's migrations create, whichever of the two runs first.
      await s.query(
        'create sync_meta',
        `IF OBJECT_ID(@meta, N'U') IS NULL
       CREATE TABLE ${meta} ([key] nvarchar(64) NOT NULL PRIMARY KEY, [value] nvarchar(256) NOT NULL);`,
        [{ name: 'meta', type: sql.NVarChar(300), value: meta }],
      );
      const rows = await s.query(
        'read saga schema version',
        `SELECT [value] FROM ${meta} WHERE [key] = @key;`,
        [{ name: 'key', type: sql.NVarChar(64), value: SAGA_SCHEMA_KEY }],
      );
      const current = rows.length === 0 ? 0 : Number(rows[0]?.value);
      if (!Number.isInteger(current) || current > MIGRATIONS.length)
        throw new SyncError(
          'schema',
          `order saga tables are at schema version ${String(rows[0]?.value)}, newer than this build (${MIGRATIONS.length})`,
        );
      // The region id becomes a literal of a migration; it passed the config pattern, checked again.
      if (!/^[a-z][a-z0-9-]{0,63}$/.test(this.region))
        refuse(`invalid region id ${JSON.stringify(this.region)}`);
      for (let v = current; v < MIGRATIONS.length; v++) {
        const batches = (MIGRATIONS[v] as (S: string, region: RegionId) => string | readonly string[])(
          this.S,
          this.region,
        );
        for (const batch of typeof batches === 'string' ? [batches] : batches)
          await s.query(`saga migration ${v + 1}`, batch);
      }
      if (current < MIGRATIONS.length)
        await s.query(
          'write saga schema version',
          `MERGE ${meta} WITH (HOLDLOCK) AS t
USING (SELECT @key AS [key], @v AS [value]) AS s ON t.[key] = s.[key]
WHEN MATCHED THEN UPDATE SET [value] = s.[value]
WHEN NOT MATCHED THEN INSERT ([key], [value]) VALUES (s.[key], s.[value]);`,
          [
            { name: 'key', type: sql.NVarChar(64), value: SAGA_SCHEMA_KEY },
            { name: 'v', type: sql.NVarChar(256), value: String(MIGRATIONS.length) },
          ],
        );
    });
  }

  async lookupProducts(skus: readonly string[]): Promise<ReadonlyMap<string, CatalogProduct>> {
    this.ensureOpen('lookupProducts');
    // A SKU longer than the column cannot be in the catalog: it is simply unknown (the saga then
    // rejects the order with unknown-sku, as on SQLite), not an error.
    const wanted = [...new Set(skus)].filter((sku) => typeof sku === 'string' && sku.length <= KEY_CHARS);
    const out = new Map<string, CatalogProduct>();
    if (wanted.length === 0) return out;
    // Built (and checked) before the first statement.
    const statements = chunksOf(wanted, 1).map((chunk) => {
      const p = new Params();
      const list = chunk.map((sku) => p.text(sku, KEY_CHARS, 'sku')).join(', ');
      return {
        text: `SELECT [sku], [name], [category], [warranty_months] FROM ${this.table('product_catalog')}
WHERE [sku] IN (${list});`,
        params: p.list,
      };
    });
    await this.gateway.session(async (s) => {
      for (const st of statements) {
        for (const r of await s.query('lookupProducts', st.text, st.params)) {
          const sku = String(r.sku);
          out.set(sku, {
            sku,
            name: String(r.name),
            category: String(r.category) as ProductCategory,
            warrantyMonths: readIntOrNull(r.warranty_months, 'warranty_months'),
          });
        }
      }
    });
    return out;
  }

  async upsertProducts(products: readonly CatalogProduct[]): Promise<void> {
    this.ensureOpen('upsertProducts');
    // One MERGE must not touch a row twice (error 8672); SQLite applies a repeated SKU in order,
    // so the last entry of a SKU is the one that counts.
    const last = [...new Map(products.map((p) => [p.sku, p])).values()];
    if (last.length === 0) return;
    const statements = chunksOf(last, 4).map((chunk) => {
      const p = new Params();
      const rows = chunk.map(
        (c) =>
          `(${p.text(c.sku, KEY_CHARS, 'sku')}, ${p.longText(c.name, 'product name')}, ${p.text(c.category, 16, 'category')}, ${p.int32(c.warrantyMonths, 'warrantyMonths')})`,
      );
      return {
        text: `MERGE ${this.table('product_catalog')} WITH (HOLDLOCK) AS t
USING (VALUES ${rows.join(', ')}) AS s ([sku], [name], [category], [warranty_months])
ON t.[sku] = s.[sku]
WHEN MATCHED THEN UPDATE SET [name] = s.[name], [category] = s.[category], [warranty_months] = s.[warranty_months]
WHEN NOT MATCHED THEN INSERT ([sku], [name], [category], [warranty_months])
  VALUES (s.[sku], s.[name], s.[category], s.[warranty_months]);`,
        params: p.list,
      };
    });
    await this.gateway.transaction(async (s) => {
      for (const st of statements) await s.query('upsert products', st.text, st.params);
    });
  }

  /** `t.[source_region] = @a AND t.[order_id] = @b` with its parameters. */
  private orderIs(order: OrderRef, p: Params): string {
    return `t.[source_region] = ${p.text(order.region, REGION_CHARS, 'region')} AND t.[order_id] = ${p.text(order.orderId, KEY_CHARS, 'orderId')}`;
  }

  async registerEntitlements(
    order: OrderRef,
    version: number,
    rows: readonly WarrantyEntitlement[],
  ): Promise<number> {
    this.ensureOpen('registerEntitlements');
    for (const r of rows)
      if (r.orderId !== order.orderId || r.sourceRegion !== order.region || r.version !== version)
        refuse(
          `entitlement ${r.sourceRegion}:${r.orderId} v${r.version} is not one of ${order.region}:${order.orderId} v${version}`,
        );
    const W = this.table('warranty_entitlement');
    const gp = new Params();
    const v = gp.integer(version, 'version');
    // HOLDLOCK keeps the order's key range locked to the end of the transaction even when it
    // holds no rows yet, so two registrations serialise rather than collide on the primary key.
    const newer = `SELECT TOP (1) 1 AS x FROM ${W} AS t WITH (UPDLOCK, HOLDLOCK)
WHERE ${this.orderIs(order, gp)} AND (t.[version] > ${v} OR t.[superseded_by] > ${v});`;
    const upserts = chunksOf(rows, 6).map((chunk) => {
      const p = new Params();
      const values = chunk.map(
        (r) =>
          `(${[
            p.integer(r.lineNo, 'lineNo'),
            p.text(r.sku, KEY_CHARS, 'sku'),
            p.integer(r.quantity, 'quantity'),
            p.timestamp(r.startsAt, 'startsAt'),
            p.timestamp(r.endsAt, 'endsAt'),
          ].join(', ')})`,
      );
      const region = p.text(order.region, REGION_CHARS, 'region');
      const id = p.text(order.orderId, KEY_CHARS, 'orderId');
      const ver = p.integer(version, 'version');
      return {
        text: `MERGE ${W} WITH (HOLDLOCK) AS t
USING (VALUES ${values.join(', ')}) AS s ([line_no], [sku], [quantity], [starts_at], [ends_at])
ON t.[source_region] = ${region} AND t.[order_id] = ${id} AND t.[version] = ${ver} AND t.[line_no] = s.[line_no]
WHEN MATCHED THEN UPDATE SET [sku] = s.[sku], [quantity] = s.[quantity], [starts_at] = s.[starts_at],
  [ends_at] = s.[ends_at], [is_deleted] = 0, [superseded_by] = NULL
WHEN NOT MATCHED THEN INSERT ([source_region], [order_id], [version], [line_no], [sku], [quantity], [starts_at], [ends_at], [is_deleted])
  VALUES (${region}, ${id}, ${ver}, s.[line_no], s.[sku], s.[quantity], s.[starts_at], s.[ends_at], 0);`,
        params: p.list,
      };
    });
    const tp = new Params();
    const tv = tp.integer(version, 'version');
    const keep = rows.map((r) => tp.integer(r.lineNo, 'lineNo'));
    const tombstone = `UPDATE t SET [is_deleted] = 1 FROM ${W} AS t
WHERE ${this.orderIs(order, tp)} AND t.[version] = ${tv} AND t.[is_deleted] = 0${
      keep.length === 0 ? '' : ` AND t.[line_no] NOT IN (${keep.join(', ')})`
    };
UPDATE t SET [is_deleted] = 1, [superseded_by] = ${tv} FROM ${W} AS t
WHERE ${this.orderIs(order, tp)} AND t.[version] < ${tv} AND t.[is_deleted] = 0;`;
    if (keep.length > MAX_PARAMS) refuse(`an order version holds at most ${MAX_PARAMS} entitlements`);
    return this.gateway.transaction(async (s) => {
      // A newer version of the order registered already: it replaced this one's records.
      if ((await s.query('newer entitlements', newer, gp.list)).length > 0) return 0;
      for (const st of upserts) await s.query('upsert entitlements', st.text, st.params);
      await s.query('supersede entitlements', tombstone, tp.list);
      return rows.length;
    });
  }

  async removeEntitlements(order: OrderRef, version: number): Promise<number> {
    this.ensureOpen('removeEntitlements');
    const W = this.table('warranty_entitlement');
    const p = new Params();
    const v = p.integer(version, 'version');
    const where = this.orderIs(order, p);
    // Unless a newer version replaced them since: tombstone this version's records and make what
    // it superseded live again.
    const text = `IF NOT EXISTS (SELECT 1 FROM ${W} AS t WITH (UPDLOCK, HOLDLOCK)
  WHERE ${where} AND (t.[version] > ${v} OR t.[superseded_by] > ${v}))
BEGIN
  UPDATE t SET [is_deleted] = 1 FROM ${W} AS t WHERE ${where} AND t.[version] = ${v} AND t.[is_deleted] = 0;
  DECLARE @removed int = @@ROWCOUNT;
  UPDATE t SET [is_deleted] = 0, [superseded_by] = NULL FROM ${W} AS t WHERE ${where} AND t.[superseded_by] = ${v};
  SELECT @removed AS [n];
END
ELSE SELECT 0 AS [n];`;
    const [r] = await this.gateway.transaction((s) => s.query('removeEntitlements', text, p.list));
    return r === undefined ? 0 : readInt(r.n, 'removed count');
  }

  async readEntitlements(order: OrderRef): Promise<readonly WarrantyEntitlement[]> {
    this.ensureOpen('readEntitlements');
    const p = new Params();
    const text = `SELECT [order_id], [version], [line_no], [sku], [quantity], [source_region], [starts_at], [ends_at]
FROM ${this.table('warranty_entitlement')} AS t WHERE ${this.orderIs(order, p)} AND t.[is_deleted] = 0
ORDER BY [version], [line_no];`;
    const rows = await this.gateway.session((s) => s.query('readEntitlements', text, p.list));
    return rows.map((r) => ({
      orderId: String(r.order_id),
      version: readInt(r.version, 'version'),
      lineNo: readInt(r.line_no, 'line_no'),
      sku: String(r.sku),
      quantity: readInt(r.quantity, 'quantity'),
      sourceRegion: String(r.source_region),
      startsAt: readIso(r.starts_at),
      endsAt: readIso(r.ends_at),
    }));
  }

  private snapshotSelect(sagaId: string, p: Params): string {
    return `SELECT [snapshot] FROM ${this.table('order_saga_snapshot')} WHERE [saga_id] = ${p.text(sagaId, KEY_CHARS, 'sagaId')};`;
  }

  async keepSnapshot(
    sagaId: string,
    take: () => Promise<OrderSnapshot>,
    now: string,
    retainDays = 7,
  ): Promise<OrderSnapshot> {
    this.ensureOpen('keepSnapshot');
    if (typeof sagaId !== 'string' || sagaId.length > KEY_CHARS)
      refuse(`sagaId must be a string of at most ${KEY_CHARS} characters`);
    const savedAt = toDate(now, 'now');
    if (!Number.isFinite(retainDays) || retainDays < 0) refuse('retainDays must be a non-negative number');
    const kept = await this.readSnapshot(sagaId);
    if (kept !== null) return kept;
    const snapshot = await take();
    this.ensureOpen('keepSnapshot');
    const cutoff = new Date(savedAt.getTime() - retainDays * 86_400_000);
    // Housekeeping on its own, autocommitted and bounded, so it never holds locks that the
    // snapshots of concurrent sagas wait for; one batch per saga keeps up with any steady rate.
    const pp = new Params();
    const prune = `DELETE TOP (${pp.add(sql.Int(), PRUNE_BATCH)}) FROM ${this.table('order_saga_snapshot')}
WHERE [saved_at] < ${pp.add(sql.DateTime2(3), cutoff)};`;
    await this.gateway.session((s) => s.query('prune snapshots', prune, pp.list));
    const ip = new Params();
    const id = ip.text(sagaId, KEY_CHARS, 'sagaId');
    const insert = `INSERT INTO ${this.table('order_saga_snapshot')} ([saga_id], [snapshot], [saved_at])
SELECT ${id}, ${ip.longText(JSON.stringify(snapshot), 'snapshot')}, ${ip.add(sql.DateTime2(3), savedAt)}
WHERE NOT EXISTS (SELECT 1 FROM ${this.table('order_saga_snapshot')} WITH (UPDLOCK, HOLDLOCK) WHERE [saga_id] = ${id});`;
    const rp = new Params();
    const select = this.snapshotSelect(sagaId, rp);
    // First writer wins: a concurrent or earlier call's snapshot is what every call returns.
    const stored = await this.gateway.transaction(async (s) => {
      await s.query('insert snapshot', insert, ip.list);
      return s.query('read kept snapshot', select, rp.list);
    });
    const out = parseSnapshot(stored[0]);
    if (out === null) throw new SyncError('unknown', `snapshot of saga ${sagaId} was not kept`);
    return out;
  }

  async readSnapshot(sagaId: string): Promise<OrderSnapshot | null> {
    this.ensureOpen('readSnapshot');
    const p = new Params();
    const text = this.snapshotSelect(sagaId, p);
    const rows = await this.gateway.session((s) => s.query('readSnapshot', text, p.list));
    return parseSnapshot(rows[0]);
  }

  async writeReceipt(originRegion: RegionId, receipt: SyncReceipt): Promise<void> {
    this.ensureOpen('writeReceipt');
    const p = new Params();
    const v = {
      region: p.text(originRegion, REGION_CHARS, 'originRegion'),
      order: p.text(receipt.orderId, KEY_CHARS, 'orderId'),
      version: p.integer(receipt.version, 'version'),
      status: p.text(receipt.status, 16, 'status'),
      reason: p.longText(receipt.reason, 'reason'),
      hub: p.integer(receipt.hubVersion, 'hubVersion'),
      saga: p.text(receipt.sagaId, KEY_CHARS, 'sagaId'),
      at: p.timestamp(receipt.at, 'at'),
      enqueued: p.optionalTimestamp(receipt.enqueuedAt ?? null, 'enqueuedAt'),
    };
    const text = `MERGE ${this.table('order_sync_receipt')} WITH (HOLDLOCK) AS t
USING (SELECT ${v.region} AS [origin_region], ${v.order} AS [order_id], ${v.version} AS [version]) AS s
ON t.[origin_region] = s.[origin_region] AND t.[order_id] = s.[order_id] AND t.[version] = s.[version]
WHEN MATCHED THEN UPDATE SET [status] = ${v.status}, [reason] = ${v.reason}, [hub_version] = ${v.hub}, [saga_id] = ${v.saga}, [at] = ${v.at}, [enqueued_at] = ${v.enqueued}
WHEN NOT MATCHED THEN INSERT ([origin_region], [order_id], [version], [status], [reason], [hub_version], [saga_id], [at], [enqueued_at])
  VALUES (s.[origin_region], s.[order_id], s.[version], ${v.status}, ${v.reason}, ${v.hub}, ${v.saga}, ${v.at}, ${v.enqueued});`;
    await this.gateway.session((s) => s.query('writeReceipt', text, p.list));
  }

  async readReceipts(order: OrderRef): Promise<readonly SyncReceipt[]> {
    this.ensureOpen('readReceipts');
    const p = new Params();
    const text = `SELECT ${RECEIPT_COLUMNS}
FROM ${this.table('order_sync_receipt')} WHERE [origin_region] = ${p.text(order.region, REGION_CHARS, 'region')}
  AND [order_id] = ${p.text(order.orderId, KEY_CHARS, 'orderId')}
ORDER BY [version];`;
    const rows = await this.gateway.session((s) => s.query('readReceipts', text, p.list));
    return rows.map(receiptOf);
  }

  async recentReceipts(
    since: string,
    limit: number,
  ): Promise<readonly (SyncReceipt & { readonly region: RegionId })[]> {
    this.ensureOpen('recentReceipts');
    const p = new Params();
    const top = p.int32(Math.max(0, Math.floor(limit)), 'limit');
    const text = `SELECT TOP (${top}) [origin_region], ${RECEIPT_COLUMNS}
FROM ${this.table('order_sync_receipt')} WHERE [at] >= ${p.timestamp(since, 'since')}
ORDER BY [at] DESC, [origin_region], [order_id];`;
    const rows = await this.gateway.session((s) => s.query('recentReceipts', text, p.list));
    return rows.map((r) => ({ ...receiptOf(r), region: String(r.origin_region) }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.gateway.close();
  }
}

/** Opens a region's saga tables on SQL Server: a small pool of its own, connected on first use. */
export function openMssqlOrderSagaStore(options: MssqlOrderSagaOptions): MssqlOrderSagaStore {
  return new MssqlOrderSagaStore({
    region: options.region,
    gateway: new MssqlPoolGateway({ ...options, poolMax: options.poolMax ?? 4 }),
    ...(options.schema === undefined ? {} : { schema: options.schema }),
  });
}
