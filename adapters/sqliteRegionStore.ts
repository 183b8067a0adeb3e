/**
 * RegionStore over SQLite (better-sqlite3), the embedded default: one database file per region,
 * WAL mode, `change_seq` kept by triggers. Statements are prepared once per table and every page
 * is one transaction, so the checkpoint is stored with the rows it describes. Every call runs on
 * the caller's thread: batch page work reaches the store on a page worker with its own
 * connection (activities/pageWorkers.ts); BEGIN IMMEDIATE + busy_timeout order the connections.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Database, Statement } from 'better-sqlite3';
import { resolveConflict } from '../sync/conflict.js';
import { SyncError } from '../sync/errors.js';
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
import { rowShape } from '../sync/rowShape.js';
import { migrateSyncTables, prepareTable, suspendTracking } from './sqliteSchema.js';
import { quoteSqlite as q } from './sqlIdentifiers.js';

type Bindable = string | number | bigint | null;

/** better-sqlite3 cannot bind booleans; SQLite has none anyway. */
function bind(v: SqlValue | undefined): Bindable {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

/** Translates SQLite errors into the taxonomy (STYLE §7). */
export function translateSqliteError(e: unknown, what: string): SyncError {
  if (e instanceof SyncError) return e;
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : '';
  const message = `${what}: ${e instanceof Error ? e.message : String(e)}`;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return new SyncError('conflict', message, { cause: e });
  if (code.startsWith('SQLITE_CONSTRAINT')) return new SyncError('constraint', message, { cause: e });
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) {
    return new SyncError('connection', message, { cause: e });
  }
  if (code === 'SQLITE_ERROR' && /no such (table|column)|has no column/.test(message)) {
    return new SyncError('schema', message, { cause: e });
  }
  if (code === 'SQLITE_READONLY' || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return new SyncError('auth', message, { cause: e });
  }
  return new SyncError('unknown', message, { cause: e });
}

/** A change read's bounds: after a cursor or from the start, up to a change or without bound. */
type ChangeBounds = 'first' | 'after' | 'firstUpTo' | 'afterUpTo';

/** Prepared statements of one table. Column order: business columns, then sync columns. */
interface TableOps {
  readonly m: CompiledMapping;
  /** Positions of the key columns in `m.canonicalColumns`. */
  readonly keyIdx: readonly number[];
  /** `FROM table WHERE ...` of a change read or count, by (after a cursor?, up to a bound?). */
  readonly changesFrom: Readonly<Record<ChangeBounds, string>>;
  /** `ORDER BY change_seq, key LIMIT ?`: the change stream's order. */
  readonly changesOrder: string;
  /** The change read under each bounds. */
  readonly readChanges: Readonly<Record<ChangeBounds, Statement>>;
  readonly byKey: Statement;
  readonly upsert: Statement;
  readonly insertNew: Statement;
  readonly rowsFirst: Statement;
  readonly rowsAfter: Statement;
  /** Highest change value in use: max(counter, max(change_seq)). */
  readonly highWater: Statement;
  readonly setCounter: Statement;
}

/** Meta columns appended after the business columns in every select. */
const META = 'modified_at, origin_region, is_deleted';

function buildOps(db: Database, m: CompiledMapping): TableOps {
  const table = q(m.mapping.table);
  const cols = m.physicalColumns.map(q).join(', ');
  const keys = m.physicalKeyColumns.map(q);
  const keyList = keys.join(', ');
  const keyParams = keys.map(() => '?').join(', ');
  const order = `ORDER BY change_seq, ${keyList} LIMIT ?`;
  // Keyset bounds: after the cursor (exclusive) in (change, key) order, up to a change (inclusive).
  const after = `(change_seq, ${keyList}) > (?, ${keyParams})`;
  const changesFrom = {
    first: `FROM ${table} WHERE change_seq IS NOT NULL`,
    after: `FROM ${table} WHERE ${after}`,
    firstUpTo: `FROM ${table} WHERE change_seq IS NOT NULL AND change_seq <= ?`,
    afterUpTo: `FROM ${table} WHERE ${after} AND change_seq <= ?`,
  };
  const select = `SELECT ${cols}, ${META}, change_seq`;
  const insertCols = `${cols}, ${META}, change_seq`;
  const params = [...m.physicalColumns, 'm', 'o', 'd', 's'].map(() => '?').join(', ');
  const updates = [
    ...m.physicalColumns.filter((c) => !m.physicalKeyColumns.includes(c)).map(q),
    'modified_at',
    'origin_region',
    'is_deleted',
    'change_seq',
  ]
    .map((c) => `${c} = excluded.${c}`)
    .join(', ');
  const keyEq = keys.map((k) => `${k} = ?`).join(' AND ');
  return {
    m,
    keyIdx: m.mapping.keyColumns.map((k) => m.canonicalColumns.indexOf(k)),
    changesFrom,
    changesOrder: order,
    readChanges: {
      first: db.prepare(`${select} ${changesFrom.first} ${order}`).raw(),
      after: db.prepare(`${select} ${changesFrom.after} ${order}`).raw(),
      firstUpTo: db.prepare(`${select} ${changesFrom.firstUpTo} ${order}`).raw(),
      afterUpTo: db.prepare(`${select} ${changesFrom.afterUpTo} ${order}`).raw(),
    },
    byKey: db.prepare(`SELECT ${cols}, ${META} FROM ${table} WHERE ${keyEq}`).raw(),
    insertNew: db.prepare(
      `INSERT INTO ${table} (${insertCols}) VALUES (${params}) ON CONFLICT(${keyList}) DO NOTHING`,
    ),
    upsert: db.prepare(
      `INSERT INTO ${table} (${insertCols}) VALUES (${params}) ON CONFLICT(${keyList}) DO UPDATE SET ${updates}`,
    ),
    rowsFirst: db.prepare(`SELECT ${cols}, ${META} FROM ${table} ORDER BY ${keyList} LIMIT ?`).raw(),
    rowsAfter: db
      .prepare(
        `SELECT ${cols}, ${META} FROM ${table} WHERE (${keyList}) > (${keyParams}) ORDER BY ${keyList} LIMIT ?`,
      )
      .raw(),
    highWater: db
      .prepare(
        `SELECT max(coalesce((SELECT value FROM sync_change_counter WHERE table_name = ?), 0),
                    coalesce((SELECT max(change_seq) FROM ${table}), 0))`,
      )
      .pluck(),
    setCounter: db.prepare('UPDATE sync_change_counter SET value = ? WHERE table_name = ? AND value < ?'),
  };
}

/**
 * Which keyset bounds a change read or count uses, and their parameters (before the limit).
 * Validates the limit the caller binds after them.
 */
function changeBounds(
  ops: TableOps,
  request: { readonly after: ChangeCursor | null; readonly upTo?: string; readonly limit: number },
): { kind: ChangeBounds; params: Bindable[] } {
  const { after, upTo, limit } = request;
  if (!Number.isInteger(limit) || limit < 1) throw new SyncError('invalid-config', 'limit must be >= 1');
  const bound = upTo === undefined ? [] : [BigInt(upTo)];
  if (after === null) return { kind: upTo === undefined ? 'first' : 'firstUpTo', params: bound };
  const keyCount = ops.m.physicalKeyColumns.length;
  if (after.key.length !== keyCount) {
    throw new SyncError(
      'invalid-config',
      `cursor key has ${after.key.length} parts, table key has ${keyCount}`,
    );
  }
  return {
    kind: upTo === undefined ? 'after' : 'afterUpTo',
    params: [BigInt(after.change), ...after.key.map(bind), ...bound],
  };
}

function toSyncRow(raw: unknown[], m: CompiledMapping): SyncRow {
  const n = m.canonicalColumns.length;
  const values: Record<string, SqlValue> = {};
  for (let i = 0; i < n; i++) values[m.canonicalColumns[i] as string] = raw[i] as SqlValue;
  return {
    values,
    modifiedAt: raw[n] as string,
    originRegion: raw[n + 1] as string,
    isDeleted: raw[n + 2] === 1,
  };
}

function rowParams(row: SyncRow, m: CompiledMapping, seq: number): Bindable[] {
  const out: Bindable[] = m.canonicalColumns.map((c) => bind(row.values[c]));
  out.push(row.modifiedAt, row.originRegion, row.isDeleted ? 1 : 0, seq);
  return out;
}

/**
 * Pages at least this large are written with the tracking triggers suspended (see
 * {@link suspendTracking}): suspending costs ~0.4 ms a page and saves ~1.3 us a row, so it
 * breaks even near 300 rows; below this the saving is not worth a schema change.
 */
const SUSPEND_TRACKING_MIN_ROWS = 1000;

type ApplyCounts = { inserted: number; updated: number; unchanged: number; lostConflicts: number };

/**
 * The guarded upsert of one page, its checkpoint and its audit record, in one IMMEDIATE
 * transaction.
 */
function applyRows(
  db: Database,
  ops: TableOps,
  rows: readonly SyncRow[],
  request: Pick<ApplyPageRequest, 'policy' | 'checkpoint' | 'audit'>,
): ApplyCounts {
  const m = ops.m;
  const counts = { inserted: 0, updated: 0, unchanged: 0, lostConflicts: 0 };
  const shape = rowShape(m.canonicalColumns);
  const n = shape.columns.length;
  const keyCols = m.mapping.keyColumns;
  // One parameter array reused for every row (better-sqlite3 copies values at bind time).
  const params: Bindable[] = new Array<Bindable>(n + 4);
  const fill = (row: SyncRow, seq: number): Bindable[] => {
    shape.read(row.values, params);
    for (let i = 0; i < n; i++) params[i] = bind(params[i] as SqlValue | undefined);
    params[n] = row.modifiedAt;
    params[n + 1] = row.originRegion;
    params[n + 2] = row.isDeleted ? 1 : 0;
    params[n + 3] = seq;
    return params;
  };
  db.transaction(() => {
    const resumeTracking =
      rows.length >= SUSPEND_TRACKING_MIN_ROWS ? suspendTracking(db, m.mapping.table) : null;
    const seq = allocator(ops);
    for (const row of rows) {
      // Optimistic insert first: a new key costs one statement; only an existing key is
      // read back and decided under the policy (point lookups measured faster than
      // multi-key queries here).
      if (ops.insertNew.run(fill(row, seq.next())).changes === 1) {
        counts.inserted++;
        continue;
      }
      seq.giveBack(); // the insert wrote nothing; its change value stays unused
      const existingRaw = ops.byKey.get(keyCols.map((c) => bind(row.values[c]))) as unknown[] | undefined;
      const existing = existingRaw === undefined ? null : toSyncRow(existingRaw, m);
      const decision = resolveConflict(existing, row, request.policy, m.sortedCanonical);
      if (decision === 'insert' || decision === 'update') {
        ops.upsert.run(fill(row, seq.next()));
        counts[decision === 'insert' ? 'inserted' : 'updated']++;
      } else if (decision === 'unchanged') counts.unchanged++;
      else counts.lostConflicts++;
    }
    seq.commit();
    resumeTracking?.();
    writeCheckpoint(db, request.checkpoint);
    writeAudit(db, { ...request.audit, rows: rows.length, written: counts.inserted + counts.updated });
  }).immediate();
  return counts;
}

/**
 * Change values for rows a store writes, inside a write transaction: above everything in use,
 * advanced in the counter at commit (the triggers stay quiet for values above it).
 */
function allocator(ops: TableOps): { next(): number; giveBack(): void; commit(): void } {
  const table = ops.m.mapping.table;
  const base = ops.highWater.get(table) as number;
  let last = base;
  return {
    next: () => ++last,
    giveBack: () => {
      last--;
    },
    commit: () => {
      if (last > base) ops.setCounter.run(last, table, last);
    },
  };
}

const statementCache = new WeakMap<Database, Map<string, Statement>>();

/** Statements over the sync tables, prepared once per connection. */
function cached(db: Database, sql: string): Statement {
  let byDb = statementCache.get(db);
  if (byDb === undefined) {
    byDb = new Map();
    statementCache.set(db, byDb);
  }
  let st = byDb.get(sql);
  if (st === undefined) {
    st = db.prepare(sql);
    byDb.set(sql, st);
  }
  return st;
}

function writeCheckpoint(db: Database, c: Checkpoint): void {
  cached(
    db,
    `INSERT INTO sync_checkpoint (flow, source, target, table_name, cursor_change, cursor_key, run_id, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(flow, source, target, table_name) DO UPDATE SET cursor_change = excluded.cursor_change,
       cursor_key = excluded.cursor_key, run_id = excluded.run_id, updated_at = excluded.updated_at`,
  ).run(
    c.flow,
    c.source,
    c.target,
    c.table,
    c.cursor.change,
    JSON.stringify(c.cursor.key),
    c.runId,
    c.updatedAt,
  );
}

function writeAudit(db: Database, a: AuditEntry): void {
  cached(
    db,
    `INSERT INTO sync_audit (run_id, flow, source, target, table_name, rows, written, policy, at, effect)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, effect) DO NOTHING`,
  ).run(a.runId, a.flow, a.source, a.target, a.table, a.rows, a.written, a.policy, a.at, a.effect ?? null);
}

function openConnection(file: string, busyTimeoutMs: number): Database {
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode never corrupts and keeps a page and its checkpoint together; a power
  // loss may forget the last pages, which are then re-applied from the previous checkpoint.
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  return db;
}

export interface SqliteRegionStoreOptions {
  readonly region: RegionId;
  /** Database file (its directory is created), or `:memory:`. */
  readonly file: string;
  /** How long a writer waits for another connection's lock before SQLITE_BUSY. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
}

export class SqliteRegionStore implements RegionStore {
  readonly region: RegionId;
  private readonly db: Database;
  private readonly ops = new Map<string, TableOps>();
  private readonly prepared = new Set<string>();
  private readonly linesByOrder = new Map<string, Statement>();
  private closed = false;

  constructor(options: SqliteRegionStoreOptions) {
    this.region = options.region;
    try {
      if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
      const busy = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
      this.db = openConnection(options.file, busy);
      migrateSyncTables(this.db);
    } catch (e) {
      throw translateSqliteError(e, `open ${options.file}`);
    }
  }

  /** The underlying connection, for tests and the seed script (not part of the port). */
  get database(): Database {
    return this.db;
  }

  private opsFor(mapping: TableMapping): TableOps {
    const id = JSON.stringify(mapping);
    let ops = this.ops.get(id);
    if (ops === undefined) {
      const m = compileMapping(mapping);
      if (!this.prepared.has(mapping.table)) {
        prepareTable(this.db, m, this.region);
        this.prepared.add(mapping.table);
      }
      ops = buildOps(this.db, m);
      this.ops.set(id, ops);
    }
    return ops;
  }

  private run<T>(what: string, fn: () => T): T {
    if (this.closed)
      throw new SyncError('connection', `${what}: store of region '${this.region}' is closed`, {
        retryable: false,
      });
    try {
      return fn();
    } catch (e) {
      throw translateSqliteError(e, what);
    }
  }

  async migrate(tables: readonly TableMapping[]): Promise<void> {
    this.run('migrate', () => {
      for (const t of tables) {
        const m = compileMapping(t);
        prepareTable(this.db, m, this.region);
        this.prepared.add(t.table);
      }
    });
  }

  async highWaterMark(table: TableMapping): Promise<string> {
    return this.run('highWaterMark', () => {
      const ops = this.opsFor(table);
      const v = ops.highWater.get(table.table) as number | undefined;
      return String(v ?? 0);
    });
  }

  async readChanges(request: ReadChangesRequest): Promise<ChangePage> {
    return this.run('readChanges', () => {
      const ops = this.opsFor(request.table);
      const m = ops.m;
      const { after, limit } = request;
      const { kind, params } = changeBounds(ops, request);

      const raw = ops.readChanges[kind].all(...params, limit) as unknown[][];
      const n = m.canonicalColumns.length;
      const keyIdx = ops.keyIdx;
      const k = keyIdx.length;
      const shape = rowShape(m.canonicalColumns);
      const rows: ChangeRow[] = new Array<ChangeRow>(raw.length);
      // Built field by field, no spreads or closures: this loop is the hot path of every extract.
      for (let j = 0; j < raw.length; j++) {
        const r = raw[j] as SqlValue[];
        const values = shape.build(r);
        const key: SqlValue[] = new Array<SqlValue>(k);
        for (let i = 0; i < k; i++) key[i] = r[keyIdx[i] as number] as SqlValue;
        rows[j] = {
          values,
          modifiedAt: r[n] as string,
          originRegion: r[n + 1] as string,
          isDeleted: r[n + 2] === 1,
          cursor: { change: String(r[n + 3]), key },
        };
      }
      const last = rows[rows.length - 1];
      return { rows, nextCursor: last === undefined ? after : last.cursor, hasMore: rows.length === limit };
    });
  }

  async countChanges(request: CountChangesRequest): Promise<ChangeCount> {
    return this.run('countChanges', () => {
      const { limit, origins } = request;
      const ops = this.opsFor(request.table);
      const { kind, params } = changeBounds(ops, request);
      const regions = 'in' in origins ? origins.in : origins.notIn;
      const list = regions.map(() => '?').join(', ');
      const passes =
        regions.length === 0
          ? 'in' in origins
            ? '0'
            : '1'
          : `origin_region ${'in' in origins ? 'IN' : 'NOT IN'} (${list})`;
      // The first `limit` changes in order are looked at, whatever their origin: a link whose
      // changes mostly stay home (a spoke full of rows it received) costs no more than one that
      // sends them all. Whether more changes wait is read off the index alone.
      const n = cached(
        this.db,
        `SELECT count(*) FROM (SELECT origin_region ${ops.changesFrom[kind]} ${ops.changesOrder}) WHERE ${passes}`,
      )
        .pluck()
        .get(...params, limit, ...regions) as number;
      const scanned = cached(this.db, `SELECT count(*) FROM (SELECT 1 ${ops.changesFrom[kind]} LIMIT ?)`)
        .pluck()
        .get(...params, limit + 1) as number;
      return { count: n, capped: scanned > limit };
    });
  }

  async applyPage(request: ApplyPageRequest): Promise<ApplyPageResult> {
    return this.run('applyPage', (): ApplyPageResult => {
      const problem = guardProblem(request.rows, request.guard);
      if (problem !== null)
        return { kind: 'rejected', reason: 'residency-violation', detail: problem } as const;
      const counts = applyRows(this.db, this.opsFor(request.table), request.rows, request);
      return { kind: 'applied', ...counts } as const;
    });
  }

  private allocator(ops: TableOps): { next(): number; giveBack(): void; commit(): void } {
    return allocator(ops);
  }

  private writeAudit(a: AuditEntry): void {
    writeAudit(this.db, a);
  }

  async getCheckpoint(link: LinkId, table: string): Promise<Checkpoint | null> {
    return this.run('getCheckpoint', () => {
      // Prepared once: status requests read every link's checkpoint, also during a run.
      const r = cached(
        this.db,
        `SELECT cursor_change, cursor_key, run_id, updated_at FROM sync_checkpoint
         WHERE flow = ? AND source = ? AND target = ? AND table_name = ?`,
      ).get(link.flow, link.source, link.target, table) as
        { cursor_change: string; cursor_key: string; run_id: string; updated_at: string } | undefined;
      if (r === undefined) return null;
      return {
        flow: link.flow,
        source: link.source,
        target: link.target,
        table,
        cursor: { change: r.cursor_change, key: JSON.parse(r.cursor_key) as KeyTuple },
        runId: r.run_id,
        updatedAt: r.updated_at,
      };
    });
  }

  async readRows(request: ReadRowsRequest): Promise<readonly SyncRow[]> {
    return this.run('readRows', () => {
      const ops = this.opsFor(request.table);
      const raw = (
        request.afterKey === null
          ? ops.rowsFirst.all(request.limit)
          : ops.rowsAfter.all(...request.afterKey.map(bind), request.limit)
      ) as unknown[][];
      return raw.map((r) => toSyncRow(r, ops.m));
    });
  }

  private readOrderSync(tables: OrderTables, key: OrderKey): OrderAggregate | null {
    const header = this.opsFor(tables.header);
    const lines = this.opsFor(tables.lines);
    const keyValues = orderKeyValues(tables, key).map(bind);
    const raw = header.byKey.get(keyValues) as unknown[] | undefined;
    if (raw === undefined) return null;
    const lm = lines.m;
    let stmt = this.linesByOrder.get(lm.mapping.table);
    if (stmt === undefined) {
      // The lines' key starts with the order key (config validation), in the same order.
      const prefix = lm.physicalKeyColumns.slice(0, keyValues.length).map((c) => `${q(c)} = ?`);
      stmt = this.db
        .prepare(
          `SELECT ${lm.physicalColumns.map(q).join(', ')}, ${META} FROM ${q(lm.mapping.table)}
           WHERE ${prefix.join(' AND ')} ORDER BY ${lm.physicalKeyColumns.map(q).join(', ')}`,
        )
        .raw();
      this.linesByOrder.set(lm.mapping.table, stmt);
    }
    const lineRows = (stmt.all(...keyValues) as unknown[][]).map((r) => toSyncRow(r, lm));
    return { header: toSyncRow(raw, header.m), lines: lineRows };
  }

  async readOrder(tables: OrderTables, key: OrderKey): Promise<OrderAggregate | null> {
    return this.run('readOrder', () => this.readOrderSync(tables, key));
  }

  async replaceOrder(
    tables: OrderTables,
    order: OrderAggregate,
    guard: ResidencyGuard,
  ): Promise<ReplaceOrderResult> {
    return this.run('replaceOrder', () => {
      const problem = guardProblem([order.header, ...order.lines], guard);
      if (problem !== null)
        return { kind: 'rejected', reason: 'residency-violation', detail: problem } as const;
      const header = this.opsFor(tables.header);
      const lines = this.opsFor(tables.lines);
      const key = orderKeyOf(tables, order.header);
      const incomingVersion = Number(order.header.values[tables.versionColumn]);
      if (!Number.isFinite(incomingVersion))
        throw new SyncError('invalid-config', `order ${String(key.orderId)} has no numeric version`);
      return this.db
        .transaction((): ReplaceOrderResult => {
          const current = this.readOrderSync(tables, key);
          const previousVersion = heldVersion(tables, current);
          if (previousVersion !== null && incomingVersion < previousVersion)
            return { kind: 'stale', previousVersion };
          if (previousVersion !== null && incomingVersion === previousVersion)
            return { kind: 'unchanged', previousVersion };
          const hs = this.allocator(header);
          const ls = this.allocator(lines);
          header.upsert.run(...rowParams(order.header, header.m, hs.next()));
          for (const line of order.lines) lines.upsert.run(...rowParams(line, lines.m, ls.next()));
          // Removed lines become tombstones so the removal replicates like any other change.
          for (const tomb of lineTombstones(current, order.lines, lines.m.mapping.keyColumns, order.header))
            lines.upsert.run(...rowParams(tomb, lines.m, ls.next()));
          hs.commit();
          ls.commit();
          return { kind: 'applied', previousVersion };
        })
        .immediate();
    });
  }

  async snapshotOrder(tables: OrderTables, key: OrderKey): Promise<OrderSnapshot> {
    return this.run('snapshotOrder', () => ({
      region: key.region,
      orderId: key.orderId,
      aggregate: this.readOrderSync(tables, key),
    }));
  }

  async restoreOrder(
    tables: OrderTables,
    snapshot: OrderSnapshot,
    wroteVersion: number,
  ): Promise<RestoreOrderResult> {
    return this.run('restoreOrder', () => {
      const header = this.opsFor(tables.header);
      const lines = this.opsFor(tables.lines);
      return this.db
        .transaction((): RestoreOrderResult => {
          const current = this.readOrderSync(tables, snapshotKey(snapshot));
          const plan = planRestore(tables, snapshot, current, wroteVersion, lines.m.mapping.keyColumns);
          if (plan.kind !== 'write') return plan.result;
          const hs = this.allocator(header);
          const ls = this.allocator(lines);
          header.upsert.run(...rowParams(plan.header, header.m, hs.next()));
          for (const line of plan.lines) lines.upsert.run(...rowParams(line, lines.m, ls.next()));
          hs.commit();
          ls.commit();
          return { kind: 'restored' };
        })
        .immediate();
    });
  }

  async recordAudit(entry: AuditEntry): Promise<void> {
    this.run('recordAudit', () => this.writeAudit(entry));
  }

  async readAudit(runId: string): Promise<readonly AuditEntry[]> {
    return this.run('readAudit', () =>
      (
        this.db
          .prepare(
            `SELECT run_id, flow, source, target, table_name, rows, written, policy, at, effect FROM sync_audit WHERE run_id = ? ORDER BY id`,
          )
          .all(runId) as {
          run_id: string;
          flow: string;
          source: string;
          target: string;
          table_name: string;
          rows: number;
          written: number;
          policy: string;
          at: string;
          effect: string | null;
        }[]
      ).map((r) => ({
        runId: r.run_id,
        flow: r.flow,
        source: r.source,
        target: r.target,
        table: r.table_name,
        rows: r.rows,
        written: r.written,
        policy: r.policy,
        at: r.at,
        ...(r.effect === null ? {} : { effect: r.effect }),
      })),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/** Opens (creating if needed) a region's SQLite store. */
export function openSqliteRegionStore(options: SqliteRegionStoreOptions): SqliteRegionStore {
  return new SqliteRegionStore(options);
}
