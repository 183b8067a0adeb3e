/**
 * The narrow edge between the SQL Server store and the `mssql` driver: statements with typed,
 * named parameters, bulk loads into session temp tables, and transactions. The store builds all
 * SQL text itself and hands values only as parameters or bulk rows, which is what lets the unit
 * tests record every statement through a fake of this interface and check that no value ever
 * reached the text.
 */
import sql from 'mssql';
import { SyncError } from '../sync/errors.js';
import type { MssqlConnectionOptions } from './mssqlConnection.js';
import { mssqlPoolConfig } from './mssqlConnection.js';
import { translateMssqlError } from './mssqlErrors.js';

/** A bound parameter: referenced as `@name` in the text. */
export interface SqlParam {
  readonly name: string;
  readonly type: sql.ISqlType;
  readonly value: unknown;
}

/** A column of a temp table the store bulk-loads. Names are the store's own (`c0`, `ord`), never config's. */
export interface StageColumn {
  readonly name: string;
  /** T-SQL type text used in the temp table's CREATE TABLE, matching `type`. */
  readonly ddl: string;
  readonly type: sql.ISqlType;
}

export type ResultRow = Readonly<Record<string, unknown>>;

export interface SqlSession {
  /** Runs one batch; returns the rows of its first result set. `label` names it for errors and tests. */
  query(label: string, text: string, params?: readonly SqlParam[]): Promise<ResultRow[]>;
  /** Bulk-loads rows into an existing `#temp` table of this session. */
  bulk(
    label: string,
    table: string,
    columns: readonly StageColumn[],
    rows: readonly (readonly unknown[])[],
  ): Promise<void>;
}

export interface SqlGateway {
  /** Statements on pooled connections, each autocommitted (no temp tables outside transactions). */
  session<T>(fn: (s: SqlSession) => Promise<T>): Promise<T>;
  /** One READ COMMITTED transaction on one connection: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (s: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Adds the parameters to an mssql request (exported for the unit test of the binding). */
export function bindParams(request: sql.Request, params: readonly SqlParam[]): sql.Request {
  for (const p of params) request.input(p.name, p.type, p.value);
  return request;
}

/** Builds the mssql bulk table for a temp table (exported for tests). */
export function bulkTable(
  table: string,
  columns: readonly StageColumn[],
  rows: readonly (readonly unknown[])[],
): sql.Table {
  if (!/^#[A-Za-z_][A-Za-z0-9_]*$/.test(table))
    throw new SyncError('invalid-config', `bulk loads go to the store's own #temp tables, not ${table}`);
  const t = new sql.Table(table);
  t.create = false;
  for (const c of columns) t.columns.add(c.name, c.type, { nullable: !/\bNOT NULL\b/i.test(c.ddl) });
  for (const r of rows) t.rows.add(...(r as (string | number | boolean | Date | Buffer | null)[]));
  return t;
}

function sessionOver(newRequest: () => sql.Request): SqlSession {
  return {
    async query(label, text, params = []) {
      try {
        // mssql sends a query with parameters through sp_executesql, whose scope ends with the
        // call: a #temp table created there would be gone before the bulk load. Statements
        // without parameters (the temp-table DDL among them) therefore run as plain batches,
        // which belong to the session.
        const request = newRequest();
        const result =
          params.length === 0 ? await request.batch(text) : await bindParams(request, params).query(text);
        return (result.recordset ?? []) as ResultRow[];
      } catch (e) {
        throw translateMssqlError(e, label);
      }
    },
    async bulk(label, table, columns, rows) {
      try {
        await newRequest().bulk(bulkTable(table, columns, rows));
      } catch (e) {
        throw translateMssqlError(e, label);
      }
    },
  };
}

/** The real gateway: one ConnectionPool per store, connected on first use. */
export class MssqlPoolGateway implements SqlGateway {
  private readonly pool: sql.ConnectionPool;
  private connecting: Promise<sql.ConnectionPool> | null = null;
  private closed = false;

  constructor(options: MssqlConnectionOptions) {
    this.pool = new sql.ConnectionPool(mssqlPoolConfig(options));
    // A pool-level error (e.g. an idle connection dropped by the server) must not crash the
    // process; the next request gets a fresh connection or a translated error.
    this.pool.on('error', () => undefined);
  }

  private async connected(): Promise<sql.ConnectionPool> {
    if (this.closed) throw new SyncError('connection', 'SQL Server store is closed', { retryable: false });
    if (this.connecting === null) {
      this.connecting = this.pool.connect().catch((e: unknown) => {
        this.connecting = null;
        throw translateMssqlError(e, 'connect');
      });
    }
    return this.connecting;
  }

  async session<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
    const pool = await this.connected();
    return fn(sessionOver(() => pool.request()));
  }

  async transaction<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
    const pool = await this.connected();
    const tx = new sql.Transaction(pool);
    let aborted = false;
    // The server rolls back by itself on a deadlock or XACT_ABORT error; mssql then emits
    // 'rollback' with aborted = true and a second rollback would fail.
    tx.on('rollback', (wasAborted: boolean) => {
      if (wasAborted) aborted = true;
    });
    try {
      await tx.begin(sql.ISOLATION_LEVEL.READ_COMMITTED);
    } catch (e) {
      throw translateMssqlError(e, 'begin transaction');
    }
    try {
      const result = await fn(sessionOver(() => new sql.Request(tx)));
      await tx.commit();
      return result;
    } catch (e) {
      if (!aborted) {
        try {
          await tx.rollback();
        } catch {
          // The original failure is what the caller needs; a failed rollback closes the connection.
        }
      }
      throw translateMssqlError(e, 'transaction');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}
