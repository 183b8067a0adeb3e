/**
 * RegionStore over SQL Server / Azure SQL (`mssql` on tedious): the production store.
 *
 * - Change cursor: the table's `rowversion`, read only below `MIN_ACTIVE_ROWVERSION()`, so a row
 *   written by a still-open transaction (whose rowversion is at or above that bound) is never
 *   passed by a reader and skipped after it commits. Values travel as the unsigned decimal of
 *   the 8 bytes, bound as binary(8): exact for the whole 64-bit range.
 * - Reads: keyset `WHERE rv > @rv OR (rv = @rv AND key > @key)`, `TOP (@limit)`, never OFFSET.
 * - Writes: one READ COMMITTED transaction per page. The page's keys are bulk-loaded into a
 *   `#temp` table, the target's current versions of those keys are read in one join under
 *   UPDLOCK + HOLDLOCK (so nobody changes or inserts them until commit), the conflict policy
 *   decides in TypeScript with the same pure functions as SQLite (identical decisions by
 *   construction), and only the winners are bulk-loaded again and applied with one
 *   `MERGE ... WITH (HOLDLOCK)`. Checkpoint and audit are written in the same transaction.
 *
 *   Why a bulk-loaded #temp table rather than a table-valued parameter: a TVP needs a table type
 *   created on the server per mapped table (CREATE TYPE permission, and a type to migrate each
 *   time a mapping changes); a #temp table needs no permission beyond the session, mssql's
 *   `request.bulk` streams it in one round trip whatever the page size (no 2100-parameter
 *   limit), and it lives on the transaction's connection only.
 * - Every value is a bound parameter or a bulk row; every configured name passes the allow-list
 *   (sync/mapping.ts, then quoteMssql) before it is placed in SQL, quoted with [].
 */
import sql from 'mssql';
import { resolveConflict } from '../sync/conflict.js';
import { isChangeValue } from '../sync/cursor.js';
import { SyncError } from '../sync/errors.js';
import { IDENTIFIER_PATTERN } from '../sync/identifiers.js';
import type { CompiledMapping } from '../sync/mapping.js';
import { compileMapping } from '../sync/mapping.js';
import type {
  AuditEntry,
  ChangeCursor,
  ChangeRow,
  Checkpoint,
  KeyTuple,
  LinkId,
  OrderAggregate,
  OrderSnapshot,
  RegionId,
  ResidencyGuard,
  SqlValue,
  SyncRow,
  TableMapping,
} from '../sync/model.js';
import type {
  ApplyPageRequest,
  ApplyPageResult,
  ChangeCount,
  ChangePage,
  CountChangesRequest,
  OrderTables,
  ReadChangesRequest,
  ReadRowsRequest,
  RegionStore,
  OrderKey,
  ReplaceOrderResult,
  RestoreOrderResult,
} from '../sync/ports.js';
import { orderKeyOf, orderKeyValues } from '../sync/ports.js';
import { heldVersion, lineTombstones, planRestore, snapshotKey } from '../sync/orderRestore.js';
import { guardProblem } from '../sync/residency.js';
import type { MssqlConnectionOptions } from './mssqlConnection.js';
import type { ResultRow, SqlGateway, SqlParam, SqlSession, StageColumn } from './mssqlGateway.js';
import { MssqlPoolGateway } from './mssqlGateway.js';
import type { TableMeta } from './mssqlSchema.js';
import { migrateSyncTables, prepareTable } from './mssqlSchema.js';
import { quoteMssql as q } from './sqlIdentifiers.js';

const MAX_ROWVERSION = (1n << 64n) - 1n;

/** A change value (decimal string) as the 8 big-endian bytes of a rowversion. */
export function changeToRowversion(change: string): Buffer {
  if (!isChangeValue(change) || BigInt(change) > MAX_ROWVERSION)
    throw new SyncError('invalid-config', `invalid change value ${JSON.stringify(change)}`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(change));
  return b;
}

/** A rowversion (8 bytes) as the unsigned decimal change value. */
export function rowversionToChange(value: unknown): string {
  if (value === null || value === undefined) return '0';
  if (!Buffer.isBuffer(value) || value.length !== 8)
    throw new SyncError('schema', 'the change column did not return an 8-byte rowversion');
  return value.readBigUInt64BE().toString();
}

/** Collects bound parameters while a statement is built: `add` returns the `@name` to place. */
class Params {
  readonly list: SqlParam[] = [];
  add(type: sql.ISqlType, value: unknown): string {
    const name = `p${this.list.length}`;
    this.list.push({ name, type, value });
    return `@${name}`;
  }
  push(p: Omit<SqlParam, 'name'> & { name?: string }): string {
    return this.add(p.type, p.value);
  }
}

const STAGE = '#rs_stage';
const KEYS = '#rs_keys';

/** Statements and codecs of one table, built once per mapping. */
interface TableOps {
  readonly m: CompiledMapping;
  readonly meta: TableMeta;
  /** `[schema].[table]` */
  readonly T: string;
  readonly rv: string;
  /** Select list: business columns as c0.., then m, o, d. */
  readonly selectList: string;
  /** Key columns' positions in `physicalColumns`. */
  readonly keyIdx: readonly number[];
}

function buildOps(m: CompiledMapping, meta: TableMeta): TableOps {
  const cols = m.physicalColumns.map((c, i) => `t.${q(c)} AS [c${i}]`).join(', ');
  return {
    m,
    meta,
    T: q(m.mapping.table),
    rv: `t.${q(meta.rowVersionColumn)}`,
    selectList: `${cols}, t.[modified_at] AS [m], t.[origin_region] AS [o], t.[is_deleted] AS [d]`,
    keyIdx: m.physicalKeyColumns.map((k) => m.physicalColumns.indexOf(k)),
  };
}

/** `(k0 > @a) OR (k0 = @a AND k1 > @b) ...`: lexicographic "after this key", values bound. */
export function keyAfterPredicate(ops: TableOps, key: KeyTuple, params: Params): string {
  const { m } = ops;
  if (key.length !== ops.keyIdx.length)
    throw new SyncError('invalid-config', `key has ${key.length} parts, table key has ${ops.keyIdx.length}`);
  const refs = ops.keyIdx.map((ci, j) => {
    const codec = ops.meta.codecs[ci];
    if (codec === undefined) throw new SyncError('schema', 'key column without a codec');
    const column = m.physicalColumns[ci] as string;
    return { col: `t.${q(column)}`, p: params.push(codec.param('', key[j] ?? null, column)) };
  });
  const terms = refs.map((r, j) => {
    const eqs = refs.slice(0, j).map((e) => `${e.col} = ${e.p}`);
    return `(${[...eqs, `${r.col} > ${r.p}`].join(' AND ')})`;
  });
  return `(${terms.join(' OR ')})`;
}

/**
 * The keyset bounds of a change read or count: committed, after the cursor (exclusive) in
 * (change, key) order, up to `upTo` (inclusive). Validates the limit the caller binds after it.
 */
function changesWhere(
  ops: TableOps,
  request: { readonly after: ChangeCursor | null; readonly upTo?: string; readonly limit: number },
  p: Params,
): string {
  const { after, upTo, limit } = request;
  if (!Number.isInteger(limit) || limit < 1) throw new SyncError('invalid-config', 'limit must be >= 1');
  const where = [`${ops.rv} < MIN_ACTIVE_ROWVERSION()`];
  if (upTo !== undefined)
    where.push(`${ops.rv} <= CAST(${p.add(sql.VarBinary(8), changeToRowversion(upTo))} AS binary(8))`);
  if (after !== null) {
    const rv = `CAST(${p.add(sql.VarBinary(8), changeToRowversion(after.change))} AS binary(8))`;
    // rowversion is unique, so the second branch only ever re-matches the cursor row itself
    // (and excludes it); it is kept so the (change, key) contract holds as written.
    where.push(`(${ops.rv} > ${rv} OR (${ops.rv} = ${rv} AND ${keyAfterPredicate(ops, after.key, p)}))`);
  }
  return where.join('\n  AND ');
}

function keyEquals(ops: TableOps, key: KeyTuple, params: Params, keyCount = ops.keyIdx.length): string {
  return ops.keyIdx
    .slice(0, keyCount)
    .map((ci, j) => {
      const column = ops.m.physicalColumns[ci] as string;
      const codec = ops.meta.codecs[ci];
      if (codec === undefined) throw new SyncError('schema', 'key column without a codec');
      return `t.${q(column)} = ${params.push(codec.param('', key[j] ?? null, column))}`;
    })
    .join(' AND ');
}

function toSyncRow(r: ResultRow, ops: TableOps): SyncRow {
  const values: Record<string, SqlValue> = {};
  ops.m.canonicalColumns.forEach((c, i) => {
    values[c] = (ops.meta.codecs[i] as TableMeta['codecs'][number]).read(r[`c${i}`]);
  });
  const m = r.m;
  return {
    values,
    modifiedAt: m instanceof Date ? m.toISOString() : String(m),
    originRegion: String(r.o),
    isDeleted: r.d === true || r.d === 1,
  };
}

/** The staging columns of full rows: ord, business columns, then sync columns. */
function stageColumns(ops: TableOps): StageColumn[] {
  return [
    { name: 'ord', ddl: 'int NOT NULL', type: sql.Int() },
    ...ops.meta.codecs.flatMap((c, i) => c.stageColumns(i)),
    { name: 'm', ddl: 'datetime2(3) NOT NULL', type: sql.DateTime2(3) },
    { name: 'o', ddl: 'nvarchar(64) NOT NULL', type: sql.NVarChar(64) },
    { name: 'd', ddl: 'bit NOT NULL', type: sql.Bit() },
  ];
}

function stageRow(ops: TableOps, row: SyncRow, ord: number): unknown[] {
  const modified = new Date(row.modifiedAt);
  if (Number.isNaN(modified.getTime()))
    throw new SyncError('invalid-config', `modifiedAt ${JSON.stringify(row.modifiedAt)} is not a timestamp`);
  return [
    ord,
    ...ops.m.canonicalColumns.flatMap((c, i) =>
      (ops.meta.codecs[i] as TableMeta['codecs'][number]).stageValues(
        row.values[c],
        ops.m.physicalColumns[i] as string,
      ),
    ),
    modified,
    row.originRegion,
    row.isDeleted,
  ];
}

/** Key-only staging columns (the lookup of current versions). */
function keyStageColumns(ops: TableOps): StageColumn[] {
  return [
    { name: 'ord', ddl: 'int NOT NULL', type: sql.Int() },
    ...ops.keyIdx.flatMap((ci) => (ops.meta.codecs[ci] as TableMeta['codecs'][number]).stageColumns(ci)),
  ];
}

function keyStageRow(ops: TableOps, row: SyncRow, ord: number): unknown[] {
  return [
    ord,
    ...ops.keyIdx.flatMap((ci) =>
      (ops.meta.codecs[ci] as TableMeta['codecs'][number]).stageValues(
        row.values[ops.m.canonicalColumns[ci] as string],
        ops.m.physicalColumns[ci] as string,
      ),
    ),
  ];
}

function createTempSql(name: string, columns: readonly StageColumn[]): string {
  const defs = columns.map((c) => `[${c.name}] ${c.ddl}`).join(', ');
  // A pooled connection may still hold the table from a request that failed before dropping it.
  return `IF OBJECT_ID(N'tempdb..${name}') IS NOT NULL DROP TABLE ${name};
CREATE TABLE ${name} (${defs}, PRIMARY KEY ([ord]));`;
}

/** The join condition target-to-staged on the key columns. */
function keyJoin(ops: TableOps): string {
  return ops.keyIdx
    .map(
      (ci) =>
        `t.${q(ops.m.physicalColumns[ci] as string)} = ${(ops.meta.codecs[ci] as TableMeta['codecs'][number]).sourceExpr(ci)}`,
    )
    .join(' AND ');
}

/** SQL of the current-version lookup: staged keys joined to the target, locked until commit. */
export function currentVersionsSql(ops: TableOps): string {
  return `SELECT s.[ord] AS [ord], ${ops.selectList}
FROM ${KEYS} AS s
JOIN ${ops.T} AS t WITH (UPDLOCK, HOLDLOCK) ON ${keyJoin(ops)};`;
}

/** SQL of the set-based upsert of every staged row (the caller stages only winners). */
export function mergeSql(ops: TableOps): string {
  const { m } = ops;
  const sets = m.physicalColumns
    .map((c, i) => ({ c, i }))
    .filter(({ i }) => !ops.keyIdx.includes(i))
    .map(({ c, i }) => `t.${q(c)} = ${(ops.meta.codecs[i] as TableMeta['codecs'][number]).sourceExpr(i)}`);
  sets.push('t.[modified_at] = s.[m]', 't.[origin_region] = s.[o]', 't.[is_deleted] = s.[d]');
  const insertCols = [...m.physicalColumns.map(q), '[modified_at]', '[origin_region]', '[is_deleted]'];
  const insertVals = [
    ...m.physicalColumns.map((_, i) => (ops.meta.codecs[i] as TableMeta['codecs'][number]).sourceExpr(i)),
    's.[m]',
    's.[o]',
    's.[d]',
  ];
  return `MERGE ${ops.T} WITH (HOLDLOCK) AS t
USING ${STAGE} AS s
ON ${keyJoin(ops)}
WHEN MATCHED THEN UPDATE SET ${sets.join(', ')}
WHEN NOT MATCHED BY TARGET THEN INSERT (${insertCols.join(', ')}) VALUES (${insertVals.join(', ')});`;
}

export interface MssqlRegionStoreOptions extends MssqlConnectionOptions {
  readonly region: RegionId;
  /**
   * Schema of the sync tables (`sync_checkpoint`, `sync_audit`, `sync_meta`). Default `dbo`.
   * Business tables are named by the mapping (optionally `schema.table`).
   */
  readonly syncSchema?: string;
}

/** Test seam: the store over any gateway (the unit tests pass a recording fake). */
export interface MssqlRegionStoreDeps {
  readonly region: RegionId;
  readonly gateway: SqlGateway;
  readonly syncSchema?: string;
}

export class MssqlRegionStore implements RegionStore {
  readonly region: RegionId;
  private readonly gateway: SqlGateway;
  private readonly S: string;
  private readonly syncSchema: string;
  private readonly ops = new Map<string, Promise<TableOps>>();
  private syncTables: Promise<void> | null = null;
  private closed = false;

  constructor(deps: MssqlRegionStoreDeps) {
    this.region = deps.region;
    this.gateway = deps.gateway;
    this.syncSchema = deps.syncSchema ?? 'dbo';
    if (!IDENTIFIER_PATTERN.test(this.syncSchema)) q(this.syncSchema); // throws invalid-config
    this.S = q(this.syncSchema);
  }

  private ensureOpen(what: string): void {
    if (this.closed)
      throw new SyncError('connection', `${what}: store of region '${this.region}' is closed`, {
        retryable: false,
      });
  }

  private ensureSyncTables(): Promise<void> {
    if (this.syncTables === null) {
      this.syncTables = this.gateway.transaction((s) => migrateSyncTables(s, this.syncSchema));
      this.syncTables.catch(() => {
        this.syncTables = null;
      });
    }
    return this.syncTables;
  }

  /** Validates the mapping (before any SQL exists), prepares the table once, caches its ops. */
  private opsFor(mapping: TableMapping): Promise<TableOps> {
    const m = compileMapping(mapping); // throws invalid-config for a hostile name
    m.physicalColumns.forEach((c) => q(c));
    q(m.mapping.table);
    const id = JSON.stringify(mapping);
    let ops = this.ops.get(id);
    if (ops === undefined) {
      ops = this.ensureSyncTables()
        .then(() => this.gateway.transaction((s) => prepareTable(s, m, this.region)))
        .then((meta) => buildOps(m, meta));
      this.ops.set(id, ops);
      ops.catch(() => this.ops.delete(id));
    }
    return ops;
  }

  async migrate(tables: readonly TableMapping[]): Promise<void> {
    this.ensureOpen('migrate');
    // Every name is checked before the first statement, so a hostile mapping changes nothing.
    for (const t of tables) compileMapping(t);
    await this.ensureSyncTables();
    for (const t of tables) {
      const id = JSON.stringify(t);
      this.ops.delete(id); // migrate re-reads the table, e.g. after a column was added
      await this.opsFor(t);
    }
  }

  async highWaterMark(table: TableMapping): Promise<string> {
    this.ensureOpen('highWaterMark');
    const ops = await this.opsFor(table);
    // MIN_ACTIVE_ROWVERSION() - 1 bounds what is committed database-wide; the highest committed
    // value of this table below it is the same bound for this table's readers, is '0' for an
    // empty table (as the port asks), and does not move with writes to unrelated tables.
    const rows = await this.gateway.session((s) =>
      s.query(
        'highWaterMark',
        `SELECT MAX(${ops.rv}) AS [rv] FROM ${ops.T} AS t WHERE ${ops.rv} < MIN_ACTIVE_ROWVERSION();`,
      ),
    );
    return rowversionToChange(rows[0]?.rv ?? null);
  }

  /** Builds the keyset read (exported through the class for the SQL-text tests). */
  changesStatement(ops: TableOps, request: ReadChangesRequest): { text: string; params: SqlParam[] } {
    const p = new Params();
    const where = changesWhere(ops, request, p);
    const top = p.add(sql.Int(), request.limit);
    const keys = ops.m.physicalKeyColumns.map((k) => `t.${q(k)}`).join(', ');
    const text = `SELECT TOP (${top}) ${ops.selectList}, ${ops.rv} AS [rv]
FROM ${ops.T} AS t
WHERE ${where}
ORDER BY ${ops.rv}, ${keys};`;
    return { text, params: p.list };
  }

  /** Builds the keyset count (exported through the class for the SQL-text tests). */
  countStatement(ops: TableOps, request: CountChangesRequest): { text: string; params: SqlParam[] } {
    const p = new Params();
    const where = changesWhere(ops, request, p);
    const { origins } = request;
    const regions = 'in' in origins ? origins.in : origins.notIn;
    let passes: string;
    if (regions.length > 0) {
      const list = regions.map((r) => p.add(sql.NVarChar(64), r)).join(', ');
      passes = `[origin_region] ${'in' in origins ? 'IN' : 'NOT IN'} (${list})`;
    } else passes = 'in' in origins ? '1 = 0' : '1 = 1';
    // The first `limit` changes in order are looked at (one more says whether more exist), so a
    // link whose changes mostly stay home costs no more than one that sends them all.
    const limit = p.add(sql.Int(), request.limit);
    const top = p.add(sql.Int(), request.limit + 1);
    const keys = ops.m.physicalKeyColumns.map((k) => `t.${q(k)}`).join(', ');
    const text = `SELECT COUNT(*) AS [scanned],
  COALESCE(SUM(CASE WHEN [ord] <= ${limit} AND ${passes} THEN 1 ELSE 0 END), 0) AS [n]
FROM (
SELECT TOP (${top}) t.[origin_region], ROW_NUMBER() OVER (ORDER BY ${ops.rv}, ${keys}) AS [ord]
FROM ${ops.T} AS t
WHERE ${where}
ORDER BY ${ops.rv}, ${keys}) AS c;`;
    return { text, params: p.list };
  }

  async readChanges(request: ReadChangesRequest): Promise<ChangePage> {
    this.ensureOpen('readChanges');
    const ops = await this.opsFor(request.table);
    const { text, params } = this.changesStatement(ops, request);
    const raw = await this.gateway.session((s) => s.query('readChanges', text, params));
    const rows: ChangeRow[] = raw.map((r) => {
      const row = toSyncRow(r, ops);
      const key = ops.m.mapping.keyColumns.map((k) => row.values[k] ?? null);
      return { ...row, cursor: { change: rowversionToChange(r.rv), key } satisfies ChangeCursor };
    });
    const last = rows[rows.length - 1];
    return {
      rows,
      nextCursor: last === undefined ? request.after : last.cursor,
      hasMore: rows.length === request.limit,
    };
  }

  async countChanges(request: CountChangesRequest): Promise<ChangeCount> {
    this.ensureOpen('countChanges');
    const ops = await this.opsFor(request.table);
    const { text, params } = this.countStatement(ops, request);
    const rows = await this.gateway.session((s) => s.query('countChanges', text, params));
    return { count: Number(rows[0]?.n ?? 0), capped: Number(rows[0]?.scanned ?? 0) > request.limit };
  }

  async applyPage(request: ApplyPageRequest): Promise<ApplyPageResult> {
    this.ensureOpen('applyPage');
    const problem = guardProblem(request.rows, request.guard);
    if (problem !== null) return { kind: 'rejected', reason: 'residency-violation', detail: problem };
    const ops = await this.opsFor(request.table);
    const { m } = ops;
    // Staged before the transaction opens: a value that does not fit its column fails here,
    // without holding locks.
    const keyRows = request.rows.map((r, i) => keyStageRow(ops, r, i));
    request.rows.forEach((r, i) => stageRow(ops, r, i));
    return this.gateway.transaction(async (s) => {
      const counts = { inserted: 0, updated: 0, unchanged: 0, lostConflicts: 0 };
      if (request.rows.length > 0) {
        const current = new Map<number, SyncRow>();
        await s.query('create key stage', createTempSql(KEYS, keyStageColumns(ops)));
        await s.bulk('stage keys', KEYS, keyStageColumns(ops), keyRows);
        for (const r of await s.query('read current versions', currentVersionsSql(ops))) {
          current.set(Number(r.ord), toSyncRow(r, ops));
        }
        // Sequential decisions exactly as the SQLite store takes them: a key repeated within the
        // page is decided against the version the page itself wrote before.
        const latest = new Map<string, { row: SyncRow | null; ord: number | null }>();
        request.rows.forEach((row, ord) => {
          const k = JSON.stringify(m.mapping.keyColumns.map((c) => row.values[c] ?? null));
          const state = latest.get(k) ?? { row: current.get(ord) ?? null, ord: null };
          const decision = resolveConflict(state.row, row, request.policy, m.sortedCanonical);
          if (decision === 'insert' || decision === 'update') {
            counts[decision === 'insert' ? 'inserted' : 'updated']++;
            latest.set(k, { row, ord });
          } else {
            if (decision === 'unchanged') counts.unchanged++;
            else counts.lostConflicts++;
            latest.set(k, state);
          }
        });
        const winners = [...latest.values()].filter((w) => w.ord !== null);
        await s.query('drop key stage', `DROP TABLE ${KEYS};`);
        if (winners.length > 0)
          await this.mergeRows(
            s,
            ops,
            winners.map((w) => w.row as SyncRow),
          );
      }
      await this.writeCheckpoint(s, request.checkpoint);
      await this.writeAudit(s, {
        ...request.audit,
        rows: request.rows.length,
        written: counts.inserted + counts.updated,
      });
      return { kind: 'applied', ...counts } as const;
    });
  }

  /** Bulk-loads rows into the stage and upserts them all (callers decide what to pass). */
  private async mergeRows(s: SqlSession, ops: TableOps, rows: readonly SyncRow[]): Promise<void> {
    if (rows.length === 0) return;
    const columns = stageColumns(ops);
    await s.query('create stage', createTempSql(STAGE, columns));
    await s.bulk(
      'stage rows',
      STAGE,
      columns,
      rows.map((r, i) => stageRow(ops, r, i)),
    );
    await s.query('merge', mergeSql(ops));
    await s.query('drop stage', `DROP TABLE ${STAGE};`);
  }

  private async writeCheckpoint(s: SqlSession, c: Checkpoint): Promise<void> {
    const p = new Params();
    const v = {
      flow: p.add(sql.NVarChar(128), c.flow),
      source: p.add(sql.NVarChar(64), c.source),
      target: p.add(sql.NVarChar(64), c.target),
      table: p.add(sql.NVarChar(256), c.table),
      change: p.add(sql.VarChar(20), c.cursor.change),
      key: p.add(sql.NVarChar(sql.MAX), JSON.stringify(c.cursor.key)),
      run: p.add(sql.NVarChar(256), c.runId),
      at: p.add(sql.DateTime2(3), isoDate(c.updatedAt, 'checkpoint updatedAt')),
    };
    await s.query(
      'write checkpoint',
      `MERGE ${this.S}.[sync_checkpoint] WITH (HOLDLOCK) AS t
USING (SELECT ${v.flow} AS [flow], ${v.source} AS [source], ${v.target} AS [target], ${v.table} AS [table_name]) AS s
ON t.[flow] = s.[flow] AND t.[source] = s.[source] AND t.[target] = s.[target] AND t.[table_name] = s.[table_name]
WHEN MATCHED THEN UPDATE SET [cursor_change] = ${v.change}, [cursor_key] = ${v.key}, [run_id] = ${v.run}, [updated_at] = ${v.at}
WHEN NOT MATCHED THEN INSERT ([flow], [source], [target], [table_name], [cursor_change], [cursor_key], [run_id], [updated_at])
  VALUES (s.[flow], s.[source], s.[target], s.[table_name], ${v.change}, ${v.key}, ${v.run}, ${v.at});`,
      p.list,
    );
  }

  private async writeAudit(s: SqlSession, a: AuditEntry): Promise<void> {
    const p = new Params();
    const vals = [
      p.add(sql.NVarChar(256), a.runId),
      p.add(sql.NVarChar(128), a.flow),
      p.add(sql.NVarChar(64), a.source),
      p.add(sql.NVarChar(64), a.target),
      p.add(sql.NVarChar(256), a.table),
      p.add(sql.Int(), a.rows),
      p.add(sql.Int(), a.written),
      p.add(sql.NVarChar(1000), a.policy),
      p.add(sql.DateTime2(3), isoDate(a.at, 'audit at')),
    ];
    const columns = '[run_id], [flow], [source], [target], [table_name], [rows], [written], [policy], [at]';
    if (a.effect === undefined) {
      await s.query(
        'write audit',
        `INSERT INTO ${this.S}.[sync_audit] (${columns}) VALUES (${vals.join(', ')});`,
        p.list,
      );
      return;
    }
    // A named effect is audited once per run: a retried step finds its record and adds none.
    const effect = p.add(sql.NVarChar(128), a.effect);
    await s.query(
      'write audit',
      `INSERT INTO ${this.S}.[sync_audit] (${columns}, [effect]) SELECT ${vals.join(', ')}, ${effect}
WHERE NOT EXISTS (SELECT 1 FROM ${this.S}.[sync_audit] WITH (UPDLOCK, HOLDLOCK)
  WHERE [run_id] = ${vals[0] as string} AND [effect] = ${effect});`,
      p.list,
    );
  }

  async getCheckpoint(link: LinkId, table: string): Promise<Checkpoint | null> {
    this.ensureOpen('getCheckpoint');
    await this.ensureSyncTables();
    const p = new Params();
    const text = `SELECT [cursor_change], [cursor_key], [run_id], [updated_at] FROM ${this.S}.[sync_checkpoint]
WHERE [flow] = ${p.add(sql.NVarChar(128), link.flow)} AND [source] = ${p.add(sql.NVarChar(64), link.source)}
  AND [target] = ${p.add(sql.NVarChar(64), link.target)} AND [table_name] = ${p.add(sql.NVarChar(256), table)};`;
    const [r] = await this.gateway.session((s) => s.query('getCheckpoint', text, p.list));
    if (r === undefined) return null;
    const at = r.updated_at;
    return {
      flow: link.flow,
      source: link.source,
      target: link.target,
      table,
      cursor: { change: String(r.cursor_change), key: JSON.parse(String(r.cursor_key)) as KeyTuple },
      runId: String(r.run_id),
      updatedAt: at instanceof Date ? at.toISOString() : String(at),
    };
  }

  async readRows(request: ReadRowsRequest): Promise<readonly SyncRow[]> {
    this.ensureOpen('readRows');
    if (!Number.isInteger(request.limit) || request.limit < 1)
      throw new SyncError('invalid-config', 'limit must be >= 1');
    const ops = await this.opsFor(request.table);
    const p = new Params();
    const where = request.afterKey === null ? '' : `WHERE ${keyAfterPredicate(ops, request.afterKey, p)}`;
    const top = p.add(sql.Int(), request.limit);
    const keys = ops.m.physicalKeyColumns.map((k) => `t.${q(k)}`).join(', ');
    const text = `SELECT TOP (${top}) ${ops.selectList} FROM ${ops.T} AS t ${where} ORDER BY ${keys};`;
    const raw = await this.gateway.session((s) => s.query('readRows', text, p.list));
    return raw.map((r) => toSyncRow(r, ops));
  }

  /** Header and lines of one order; `lock` takes update locks until the transaction ends. */
  private async readOrderIn(
    s: SqlSession,
    tables: OrderTables,
    header: TableOps,
    lines: TableOps,
    key: OrderKey,
    lock: boolean,
  ): Promise<OrderAggregate | null> {
    const hint = lock ? ' WITH (UPDLOCK, HOLDLOCK)' : '';
    const keyValues = orderKeyValues(tables, key);
    const hp = new Params();
    const [h] = await s.query(
      'read order header',
      `SELECT ${header.selectList} FROM ${header.T} AS t${hint} WHERE ${keyEquals(header, keyValues, hp)};`,
      hp.list,
    );
    // Lines are read (and locked) even when the header is absent, so a concurrent writer cannot
    // slip lines in under an order being created. Their key starts with the order key.
    const lp = new Params();
    const keys = lines.m.physicalKeyColumns.map((k) => `t.${q(k)}`).join(', ');
    const lineRows = await s.query(
      'read order lines',
      `SELECT ${lines.selectList} FROM ${lines.T} AS t${hint} WHERE ${keyEquals(lines, keyValues, lp, keyValues.length)} ORDER BY ${keys};`,
      lp.list,
    );
    if (h === undefined) return null;
    return { header: toSyncRow(h, header), lines: lineRows.map((r) => toSyncRow(r, lines)) };
  }

  private async orderOps(tables: OrderTables): Promise<[TableOps, TableOps]> {
    return Promise.all([this.opsFor(tables.header), this.opsFor(tables.lines)]);
  }

  async readOrder(tables: OrderTables, key: OrderKey): Promise<OrderAggregate | null> {
    this.ensureOpen('readOrder');
    const [header, lines] = await this.orderOps(tables);
    return this.gateway.session((s) => this.readOrderIn(s, tables, header, lines, key, false));
  }

  async replaceOrder(
    tables: OrderTables,
    order: OrderAggregate,
    guard: ResidencyGuard,
  ): Promise<ReplaceOrderResult> {
    this.ensureOpen('replaceOrder');
    const problem = guardProblem([order.header, ...order.lines], guard);
    if (problem !== null) return { kind: 'rejected', reason: 'residency-violation', detail: problem };
    const [header, lines] = await this.orderOps(tables);
    const key = orderKeyOf(tables, order.header);
    const incomingVersion = Number(order.header.values[tables.versionColumn]);
    if (!Number.isFinite(incomingVersion))
      throw new SyncError('invalid-config', `order ${String(key.orderId)} has no numeric version`);
    return this.gateway.transaction(async (s): Promise<ReplaceOrderResult> => {
      const current = await this.readOrderIn(s, tables, header, lines, key, true);
      const previousVersion = heldVersion(tables, current);
      if (previousVersion !== null && incomingVersion < previousVersion)
        return { kind: 'stale', previousVersion };
      if (previousVersion !== null && incomingVersion === previousVersion)
        return { kind: 'unchanged', previousVersion };
      // Removed lines become tombstones so the removal replicates like any other change.
      const tombstones = lineTombstones(current, order.lines, lines.m.mapping.keyColumns, order.header);
      await this.mergeRows(s, header, [order.header]);
      await this.mergeRows(s, lines, [...order.lines, ...tombstones]);
      return { kind: 'applied', previousVersion };
    });
  }

  async snapshotOrder(tables: OrderTables, key: OrderKey): Promise<OrderSnapshot> {
    return { region: key.region, orderId: key.orderId, aggregate: await this.readOrder(tables, key) };
  }

  async restoreOrder(
    tables: OrderTables,
    snapshot: OrderSnapshot,
    wroteVersion: number,
  ): Promise<RestoreOrderResult> {
    this.ensureOpen('restoreOrder');
    const [header, lines] = await this.orderOps(tables);
    return this.gateway.transaction(async (s): Promise<RestoreOrderResult> => {
      const current = await this.readOrderIn(s, tables, header, lines, snapshotKey(snapshot), true);
      const plan = planRestore(tables, snapshot, current, wroteVersion, lines.m.mapping.keyColumns);
      if (plan.kind !== 'write') return plan.result;
      await this.mergeRows(s, header, [plan.header]);
      await this.mergeRows(s, lines, plan.lines);
      return { kind: 'restored' };
    });
  }

  async recordAudit(entry: AuditEntry): Promise<void> {
    this.ensureOpen('recordAudit');
    await this.ensureSyncTables();
    await this.gateway.session((s) => this.writeAudit(s, entry));
  }

  async readAudit(runId: string): Promise<readonly AuditEntry[]> {
    this.ensureOpen('readAudit');
    await this.ensureSyncTables();
    const p = new Params();
    const rows = await this.gateway.session((s) =>
      s.query(
        'readAudit',
        `SELECT [run_id], [flow], [source], [target], [table_name], [rows], [written], [policy], [at], [effect]
FROM ${this.S}.[sync_audit] WHERE [run_id] = ${p.add(sql.NVarChar(256), runId)} ORDER BY [id];`,
        p.list,
      ),
    );
    return rows.map((r) => ({
      runId: String(r.run_id),
      flow: String(r.flow),
      source: String(r.source),
      target: String(r.target),
      table: String(r.table_name),
      rows: Number(r.rows),
      written: Number(r.written),
      policy: String(r.policy),
      at: r.at instanceof Date ? r.at.toISOString() : String(r.at),
      ...(typeof r.effect === 'string' ? { effect: r.effect } : {}),
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.gateway.close();
  }
}

function isoDate(value: string, what: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new SyncError('invalid-config', `${what} ${JSON.stringify(value)} is not a timestamp`);
  return d;
}

/** Opens a region's SQL Server store: one connection pool, connected on first use. */
export function openMssqlRegionStore(options: MssqlRegionStoreOptions): MssqlRegionStore {
  return new MssqlRegionStore({
    region: options.region,
    gateway: new MssqlPoolGateway(options),
    ...(options.syncSchema === undefined ? {} : { syncSchema: options.syncSchema }),
  });
}
