/**
 * SQL Server schema: the sync tables (`sync_meta`, `sync_checkpoint`, `sync_audit`) in the store's
 * sync schema, and per synchronised table its sync columns, change cursor and indexes. Every step
 * is idempotent and runs in a transaction holding an application lock, so two hosts starting at
 * once do not race each other's DDL.
 *
 * Column types. An existing CRM table keeps its own types; the store reads them from sys.columns
 * and stages values in the same types, so MERGE joins compare like with like. A table that does
 * not exist (the embedded default) is created with `sql_variant` business columns: the mapping
 * names columns but not types, and `sql_variant` keeps the type each value was written with
 * (string, number, bit), which is what the SQLite default does with undeclared column types. Give
 * production tables real types by creating them before the first run.
 *
 * Change cursor: a `rowversion` column (`row_ver`, or the table's existing rowversion column: SQL
 * Server allows only one per table). It changes on every insert and update by any writer, so no
 * trigger is needed, and it is unique in the database.
 */
import sql from 'mssql';
import { SyncError } from '../sync/errors.js';
import type { CompiledMapping } from '../sync/mapping.js';
import type { SqlValue } from '../sync/model.js';
import type { ResultRow, SqlParam, SqlSession, StageColumn } from './mssqlGateway.js';
import { derivedName, quoteMssql as q } from './sqlIdentifiers.js';

/** Name of the change column the store adds when a table has no rowversion column yet. */
export const ROWVERSION_COLUMN = 'row_ver';

/** Serialises schema changes across hosts (sp_getapplock, transaction-owned). */
const MIGRATION_LOCK = 'region-sync-migrate';

/** Longest string a `sql_variant` column holds (nvarchar(4000)). */
const VARIANT_STRING_MAX = 4000;

/** Ordered migrations of the sync tables; append only. `S` is the quoted sync schema. */
const MIGRATIONS: readonly ((S: string) => string)[] = [
  (S) => `
    CREATE TABLE ${S}.[sync_checkpoint] (
      [flow] nvarchar(128) NOT NULL,
      [source] nvarchar(64) NOT NULL,
      [target] nvarchar(64) NOT NULL,
      [table_name] nvarchar(256) NOT NULL,
      [cursor_change] varchar(20) NOT NULL,
      [cursor_key] nvarchar(max) NOT NULL,
      [run_id] nvarchar(256) NOT NULL,
      [updated_at] datetime2(3) NOT NULL,
      CONSTRAINT [sync_checkpoint_pk] PRIMARY KEY ([flow], [source], [target], [table_name])
    );
    CREATE TABLE ${S}.[sync_audit] (
      [id] bigint IDENTITY(1, 1) NOT NULL CONSTRAINT [sync_audit_pk] PRIMARY KEY,
      [run_id] nvarchar(256) NOT NULL,
      [flow] nvarchar(128) NOT NULL,
      [source] nvarchar(64) NOT NULL,
      [target] nvarchar(64) NOT NULL,
      [table_name] nvarchar(256) NOT NULL,
      [rows] int NOT NULL,
      [written] int NOT NULL,
      [policy] nvarchar(1000) NOT NULL,
      [at] datetime2(3) NOT NULL
    );
    CREATE INDEX [sync_audit_run] ON ${S}.[sync_audit] ([run_id], [id]);`,
  // An effect (e.g. one saga step) is audited once however often it is retried. Two batches: an
  // index cannot name a column added earlier in the same batch.
  (S) => `ALTER TABLE ${S}.[sync_audit] ADD [effect] nvarchar(128) NULL;`,
  (S) =>
    `CREATE UNIQUE INDEX [sync_audit_effect] ON ${S}.[sync_audit] ([run_id], [effect]) WHERE [effect] IS NOT NULL;`,
];

export const MSSQL_SCHEMA_VERSION = MIGRATIONS.length;

const lockStatement = `DECLARE @rc int;
  EXEC @rc = sp_getapplock @Resource = @lock, @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = 60000;
  IF @rc < 0 THROW 51000, 'region-sync: timed out waiting for the schema migration lock', 1;`;

/** Takes the schema-migration application lock for the caller's transaction (all DDL of the app serialises on it). */
export async function takeMigrationLock(s: SqlSession): Promise<void> {
  await s.query('migration lock', lockStatement, [
    { name: 'lock', type: sql.NVarChar(255), value: MIGRATION_LOCK },
  ]);
}

/** Creates a schema if missing; the name travels as a parameter and is quoted by the server. */
export async function ensureSchema(s: SqlSession, schema: string): Promise<void> {
  q(schema); // refuses a name outside the allow-list with invalid-config
  await s.query(
    'create schema',
    `IF SCHEMA_ID(@schema) IS NULL
     BEGIN
       -- EXEC() takes only literals and variables, so the quoted name is built first.
       DECLARE @ddl nvarchar(300) = N'CREATE SCHEMA ' + QUOTENAME(@schema);
       EXEC (@ddl);
     END;`,
    [{ name: 'schema', type: sql.NVarChar(128), value: schema }],
  );
}

/** Applies pending sync-table migrations in one transaction (the caller's). */
export async function migrateSyncTables(s: SqlSession, syncSchema: string): Promise<void> {
  const S = q(syncSchema);
  await takeMigrationLock(s);
  await ensureSchema(s, syncSchema);
  await s.query(
    'create sync_meta',
    `IF OBJECT_ID(@meta, N'U') IS NULL
       CREATE TABLE ${S}.[sync_meta] ([key] nvarchar(64) NOT NULL PRIMARY KEY, [value] nvarchar(256) NOT NULL);`,
    [{ name: 'meta', type: sql.NVarChar(300), value: `${S}.[sync_meta]` }],
  );
  const rows = await s.query(
    'read schema version',
    `SELECT [value] FROM ${S}.[sync_meta] WHERE [key] = N'schema_version';`,
  );
  const current = rows.length === 0 ? 0 : Number(rows[0]?.value);
  for (let v = current; v < MIGRATIONS.length; v++) {
    await s.query(`migration ${v + 1}`, (MIGRATIONS[v] as (S: string) => string)(S));
  }
  if (current < MIGRATIONS.length) {
    await s.query(
      'write schema version',
      `MERGE ${S}.[sync_meta] WITH (HOLDLOCK) AS t
       USING (SELECT N'schema_version' AS [key], @v AS [value]) AS s ON t.[key] = s.[key]
       WHEN MATCHED THEN UPDATE SET [value] = s.[value]
       WHEN NOT MATCHED THEN INSERT ([key], [value]) VALUES (s.[key], s.[value]);`,
      [{ name: 'v', type: sql.NVarChar(256), value: String(MIGRATIONS.length) }],
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Column codecs: how a canonical value is staged, compared, bound and read back per column type.

/** How one business column is staged, bound and read. */
export interface ColumnCodec {
  /** The SQL type family, for messages. */
  readonly typeName: string;
  /** Staging columns for business column `i` (one, or three for sql_variant). */
  stageColumns(i: number): StageColumn[];
  /** Values for those staging columns. */
  stageValues(v: SqlValue | undefined, column: string): unknown[];
  /** Expression over the staged row `s` giving the value to compare or assign. */
  sourceExpr(i: number): string;
  /** A parameter holding `v` for comparisons with the column (keyset and point reads). */
  param(name: string, v: SqlValue, column: string): SqlParam;
  /** Driver value -> canonical value. */
  read(v: unknown): SqlValue;
}

const schemaError = (message: string) => new SyncError('schema', message);

function readCommon(v: unknown): SqlValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  throw schemaError(`the driver returned a value of unsupported type ${typeof v}`);
}

/** tedious returns BIGINT as a string: a number when it fits, else the exact decimal string. */
function readInteger(v: unknown): SqlValue {
  if (typeof v === 'string' && /^-?\d+$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  return readCommon(v);
}

const stageName = (i: number, suffix = '') => `c${i}${suffix}`;

function simpleCodec(
  typeName: string,
  ddl: string,
  type: () => sql.ISqlType,
  toDriver: (v: SqlValue, column: string) => unknown,
  read: (v: unknown) => SqlValue = readCommon,
): ColumnCodec {
  return {
    typeName,
    stageColumns: (i) => [{ name: stageName(i), ddl, type: type() }],
    stageValues: (v, column) => [v === undefined || v === null ? null : toDriver(v, column)],
    sourceExpr: (i) => `s.[${stageName(i)}]`,
    param: (name, v, column) => ({ name, type: type(), value: v === null ? null : toDriver(v, column) }),
    read,
  };
}

function toText(v: SqlValue): string {
  return typeof v === 'string' ? v : String(v);
}

function toInteger(v: SqlValue, column: string): number | string {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) return v;
  throw schemaError(`column ${column}: ${JSON.stringify(v)} is not an integer`);
}

function toNumber(v: SqlValue, column: string): number {
  const n = typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw schemaError(`column ${column}: ${JSON.stringify(v)} is not a number`);
  return n;
}

function toBit(v: SqlValue, column: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  throw schemaError(`column ${column}: ${JSON.stringify(v)} is not a bit`);
}

function toDate(v: SqlValue, column: string): Date {
  const d = typeof v === 'string' || typeof v === 'number' ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw schemaError(`column ${column}: ${JSON.stringify(v)} is not a date`);
  return d;
}

/**
 * `sql_variant` columns (tables the store created): each value is staged in a column of its own
 * JS type (nvarchar(4000) / float / bit) and cast to sql_variant, so its type survives the trip;
 * tedious cannot send sql_variant parameters itself.
 */
const variantCodec: ColumnCodec = {
  typeName: 'sql_variant',
  stageColumns: (i) => [
    {
      name: stageName(i, '_s'),
      ddl: `nvarchar(${VARIANT_STRING_MAX})`,
      type: sql.NVarChar(VARIANT_STRING_MAX),
    },
    { name: stageName(i, '_f'), ddl: 'float', type: sql.Float() },
    { name: stageName(i, '_b'), ddl: 'bit', type: sql.Bit() },
  ],
  stageValues(v, column) {
    if (v === undefined || v === null) return [null, null, null];
    if (typeof v === 'string') {
      if (v.length > VARIANT_STRING_MAX)
        throw schemaError(`column ${column}: a string of ${v.length} characters does not fit sql_variant`);
      return [v, null, null];
    }
    if (typeof v === 'number') return [null, toNumber(v, column), null];
    return [null, null, v];
  },
  sourceExpr: (i) =>
    `CASE WHEN s.[${stageName(i, '_b')}] IS NOT NULL THEN CAST(s.[${stageName(i, '_b')}] AS sql_variant)` +
    ` WHEN s.[${stageName(i, '_f')}] IS NOT NULL THEN CAST(s.[${stageName(i, '_f')}] AS sql_variant)` +
    ` ELSE CAST(s.[${stageName(i, '_s')}] AS sql_variant) END`,
  param(name, v, column) {
    if (typeof v === 'number') return { name, type: sql.Float(), value: toNumber(v, column) };
    if (typeof v === 'boolean') return { name, type: sql.Bit(), value: v };
    return { name, type: sql.NVarChar(VARIANT_STRING_MAX), value: v };
  },
  read: readCommon,
};

/** Metadata of one physical column, from sys.columns. */
export interface ColumnMeta {
  readonly name: string;
  readonly typeName: string;
  /** Bytes; -1 for (max). */
  readonly maxLength: number;
  readonly precision: number;
  readonly scale: number;
  readonly isIdentity: boolean;
  readonly isComputed: boolean;
}

/** The codec for a column type; unsupported types are refused with a schema error. */
export function codecFor(meta: ColumnMeta): ColumnCodec {
  const t = meta.typeName.toLowerCase();
  switch (t) {
    case 'sql_variant':
      return variantCodec;
    case 'nvarchar':
    case 'nchar':
    case 'varchar':
    case 'char': {
      // Staged as Unicode whatever the column's code page, so no character is lost on the way;
      // the server converts on assignment.
      const chars = meta.maxLength < 0 ? -1 : t.startsWith('n') ? meta.maxLength / 2 : meta.maxLength;
      const len = chars < 0 || chars > 4000 ? sql.MAX : chars;
      const ddl = len === sql.MAX ? 'nvarchar(max)' : `nvarchar(${len})`;
      return simpleCodec(t, ddl, () => sql.NVarChar(len), toText);
    }
    case 'bigint':
    case 'int':
    case 'smallint':
    case 'tinyint':
      return simpleCodec(t, 'bigint', () => sql.BigInt(), toInteger, readInteger);
    case 'bit':
      return simpleCodec(t, 'bit', () => sql.Bit(), toBit);
    case 'decimal':
    case 'numeric': {
      const p = meta.precision;
      const s = meta.scale;
      return simpleCodec(t, `decimal(${p}, ${s})`, () => sql.Decimal(p, s), toNumber);
    }
    case 'money':
    case 'smallmoney':
      return simpleCodec(t, 'decimal(19, 4)', () => sql.Decimal(19, 4), toNumber);
    case 'float':
    case 'real':
      return simpleCodec(t, 'float', () => sql.Float(), toNumber);
    case 'date':
    case 'datetime':
    case 'datetime2':
    case 'smalldatetime':
      return simpleCodec(t, 'datetime2(7)', () => sql.DateTime2(7), toDate);
    case 'datetimeoffset':
      return simpleCodec(t, 'datetimeoffset(7)', () => sql.DateTimeOffset(7), toDate);
    case 'uniqueidentifier':
      return simpleCodec(
        t,
        'uniqueidentifier',
        () => sql.UniqueIdentifier(),
        toText,
        (v) => (typeof v === 'string' ? v.toLowerCase() : readCommon(v)),
      );
    default:
      throw schemaError(
        `column ${meta.name} has type ${meta.typeName}, which the SQL Server store does not synchronise`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// Business tables.

/** What the store knows about one physical table after preparing it. */
export interface TableMeta {
  /** Codecs of the mapped business columns, in `physicalColumns` order. */
  readonly codecs: readonly ColumnCodec[];
  /** The rowversion column (ours, or the one the table already had). */
  readonly rowVersionColumn: string;
}

const COLUMNS_QUERY = `SELECT c.[name] AS name, TYPE_NAME(c.[system_type_id]) AS type_name,
    c.[max_length] AS max_length, c.[precision] AS [precision], c.[scale] AS scale,
    c.[is_identity] AS is_identity, c.[is_computed] AS is_computed
  FROM sys.columns AS c WHERE c.[object_id] = OBJECT_ID(@table, N'U') ORDER BY c.[column_id];`;

function toColumnMeta(r: ResultRow): ColumnMeta {
  return {
    name: String(r.name),
    typeName: String(r.type_name),
    maxLength: Number(r.max_length),
    precision: Number(r.precision),
    scale: Number(r.scale),
    isIdentity: r.is_identity === true || r.is_identity === 1,
    isComputed: r.is_computed === true || r.is_computed === 1,
  };
}

/** Reads a table's columns (empty when the table does not exist). */
export async function readColumns(s: SqlSession, table: string): Promise<ColumnMeta[]> {
  const rows = await s.query('read table columns', COLUMNS_QUERY, [
    { name: 'table', type: sql.NVarChar(300), value: q(table) },
  ]);
  return rows.map(toColumnMeta);
}

/** Checks the mapped columns against the table and builds the codecs (no DDL). */
export function tableMetaFrom(m: CompiledMapping, columns: readonly ColumnMeta[]): TableMeta {
  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  const missing = m.physicalColumns.filter((c) => !byName.has(c.toLowerCase()));
  if (missing.length > 0)
    throw schemaError(`table ${m.mapping.table} lacks mapped columns: ${missing.join(', ')}`);
  const codecs = m.physicalColumns.map((p) => {
    const meta = byName.get(p.toLowerCase()) as ColumnMeta;
    if (meta.isIdentity || meta.isComputed)
      throw schemaError(
        `column ${m.mapping.table}.${p} is an ${meta.isIdentity ? 'identity' : 'computed'} column; it cannot take replicated values`,
      );
    return codecFor(meta);
  });
  const rv = columns.find((c) => c.typeName.toLowerCase() === 'timestamp');
  const rowVersionColumn = rv?.name ?? ROWVERSION_COLUMN;
  q(rowVersionColumn); // a pre-existing name still has to pass the allow-list
  return { codecs, rowVersionColumn };
}

/**
 * Key migration of a table the store created (its primary key is ours, `sync_pk`, and its business
 * columns are sql_variant): a primary key that is a strict part of the mapped key (e.g.
 * `sales_order` keyed by `order_id` before orders were keyed by `(home_region, order_id)`) is
 * replaced by one over the mapped key, rows kept, in the caller's transaction. Rows with no value
 * in a column the key gains are refused with a clear error (nothing guessed, nothing lost). A
 * CRM's own primary key is never touched.
 */
async function widenPrimaryKey(
  s: SqlSession,
  m: CompiledMapping,
  current: readonly string[],
  indexes: Map<string, string[]>,
): Promise<void> {
  const t = m.mapping.table;
  const T = q(t);
  const want = m.physicalKeyColumns.map((c) => c.toLowerCase());
  if (!(current.length < want.length && current.every((c) => want.includes(c))))
    throw schemaError(
      `table ${t} is keyed by (${current.join(', ')}), the flow by (${m.physicalKeyColumns.join(', ')}): change one of them`,
    );
  const gained = m.physicalKeyColumns.filter((c) => !current.includes(c.toLowerCase()));
  const [orphans] = await s.query(
    'count rows without key',
    `SELECT COUNT_BIG(*) AS n FROM ${T} WHERE ${gained.map((c) => `${q(c)} IS NULL`).join(' OR ')};`,
  );
  const n = Number(orphans?.n ?? 0);
  if (n > 0)
    throw schemaError(
      `${n} rows of ${t} have no ${gained.join('/')}: set it before the key becomes (${m.physicalKeyColumns.join(', ')})`,
    );
  const rv = derivedName('sync_rv', t);
  if (indexes.has(rv)) {
    await s.query('drop stale index', `DROP INDEX ${q(rv)} ON ${T};`);
    indexes.delete(rv);
  }
  const pk = q(derivedName('sync_pk', t));
  await s.query('drop primary key', `ALTER TABLE ${T} DROP CONSTRAINT ${pk};`);
  for (const c of gained)
    await s.query('key column not null', `ALTER TABLE ${T} ALTER COLUMN ${q(c)} sql_variant NOT NULL;`);
  await s.query(
    'add primary key',
    `ALTER TABLE ${T} ADD CONSTRAINT ${pk} PRIMARY KEY (${m.physicalKeyColumns.map(q).join(', ')});`,
  );
  indexes.set(derivedName('sync_pk', t), want);
}

/**
 * Prepares one business table in the caller's transaction: creates it when absent (embedded
 * default), else adds missing sync columns; ensures the unique key index and the keyset index on
 * (rowversion, key). Returns the metadata the store builds its statements from.
 */
export async function prepareTable(s: SqlSession, m: CompiledMapping, region: string): Promise<TableMeta> {
  // The region id passed the config pattern; checked again because it becomes a DEFAULT literal.
  if (!/^[a-z][a-z0-9-]{0,63}$/.test(region))
    throw new SyncError('invalid-config', `invalid region id ${JSON.stringify(region)}`);
  const t = m.mapping.table;
  const T = q(t);
  const keys = m.physicalKeyColumns.map(q).join(', ');
  await takeMigrationLock(s);
  let columns = await readColumns(s, t);
  if (columns.length === 0) {
    const dot = t.indexOf('.');
    if (dot > 0) await ensureSchema(s, t.slice(0, dot));
    const business = m.physicalColumns
      .map((c) => `${q(c)} sql_variant ${m.physicalKeyColumns.includes(c) ? 'NOT NULL' : 'NULL'}`)
      .join(',\n        ');
    await s.query(
      'create table',
      `CREATE TABLE ${T} (
        ${business},
        [modified_at] datetime2(3) NOT NULL CONSTRAINT ${q(derivedName('sync_dfm', t))} DEFAULT ('1970-01-01T00:00:00.000'),
        [origin_region] nvarchar(64) NOT NULL CONSTRAINT ${q(derivedName('sync_dfo', t))} DEFAULT (N'${region}'),
        [is_deleted] bit NOT NULL CONSTRAINT ${q(derivedName('sync_dfd', t))} DEFAULT (0),
        [${ROWVERSION_COLUMN}] rowversion NOT NULL,
        CONSTRAINT ${q(derivedName('sync_pk', t))} PRIMARY KEY (${keys})
      );`,
    );
    columns = await readColumns(s, t);
  } else {
    const present = new Set(columns.map((c) => c.name.toLowerCase()));
    const adds: [string, string][] = [
      [
        'modified_at',
        `datetime2(3) NOT NULL CONSTRAINT ${q(derivedName('sync_dfm', t))} DEFAULT ('1970-01-01T00:00:00.000')`,
      ],
      [
        'origin_region',
        `nvarchar(64) NOT NULL CONSTRAINT ${q(derivedName('sync_dfo', t))} DEFAULT (N'${region}')`,
      ],
      ['is_deleted', `bit NOT NULL CONSTRAINT ${q(derivedName('sync_dfd', t))} DEFAULT (0)`],
    ];
    if (!columns.some((c) => c.typeName.toLowerCase() === 'timestamp'))
      adds.push([ROWVERSION_COLUMN, 'rowversion NOT NULL']);
    for (const [name, ddl] of adds) {
      // Adding a NOT NULL column with a default fills existing rows in one step (metadata-only
      // for the defaults on Enterprise/Azure SQL; the rowversion column writes every row once).
      if (!present.has(name)) await s.query(`add column ${name}`, `ALTER TABLE ${T} ADD [${name}] ${ddl};`);
    }
    if (adds.some(([name]) => !present.has(name))) columns = await readColumns(s, t);
  }
  const meta = tableMetaFrom(m, columns);
  const uk = derivedName('sync_uk', t);
  const rvIndex = derivedName('sync_rv', t);
  const pk = derivedName('sync_pk', t);
  const want = m.physicalKeyColumns.map((c) => c.toLowerCase());
  // Key columns of our own indexes (the primary key's index has the constraint's name).
  const indexRows = await s.query(
    'read indexes',
    `SELECT i.[name] AS name, c.[name] AS column_name FROM sys.indexes AS i
  JOIN sys.index_columns AS ic ON ic.[object_id] = i.[object_id] AND ic.[index_id] = i.[index_id] AND ic.[key_ordinal] > 0
  JOIN sys.columns AS c ON c.[object_id] = ic.[object_id] AND c.[column_id] = ic.[column_id]
  WHERE i.[object_id] = OBJECT_ID(@table, N'U') AND i.[name] IN (@uk, @rv, @pk)
  ORDER BY i.[name], ic.[key_ordinal];`,
    [
      { name: 'table', type: sql.NVarChar(300), value: T },
      { name: 'uk', type: sql.NVarChar(128), value: uk },
      { name: 'rv', type: sql.NVarChar(128), value: rvIndex },
      { name: 'pk', type: sql.NVarChar(128), value: pk },
    ],
  );
  const indexes = new Map<string, string[]>();
  for (const r of indexRows) {
    const name = String(r.name);
    indexes.set(name, [...(indexes.get(name) ?? []), String(r.column_name).toLowerCase()]);
  }
  const same = (cols: readonly string[] | undefined, expected: readonly string[]) =>
    cols !== undefined && cols.join() === expected.join();
  const hasPk = indexes.has(pk);
  if (hasPk && !same(indexes.get(pk), want)) await widenPrimaryKey(s, m, indexes.get(pk) ?? [], indexes);
  for (const [name, expected] of [
    [uk, want],
    [rvIndex, [meta.rowVersionColumn.toLowerCase(), ...want]],
  ] as const)
    if (indexes.has(name) && !same(indexes.get(name), expected)) {
      // Built over an older key: rebuilt below over the mapped one.
      await s.query('drop stale index', `DROP INDEX ${q(name)} ON ${T};`);
      indexes.delete(name);
    }
  // The MERGE needs the key to be unique; our own tables have it as their primary key.
  if (!hasPk && !indexes.has(uk))
    await s.query('create key index', `CREATE UNIQUE INDEX ${q(uk)} ON ${T} (${keys});`);
  if (!indexes.has(rvIndex))
    await s.query(
      'create change index',
      `CREATE INDEX ${q(rvIndex)} ON ${T} (${q(meta.rowVersionColumn)}, ${keys});`,
    );
  return meta;
}
