/**
 * SQL Server store. The conformance suite runs against a real server when MSSQL_TEST_CONNECTION
 * names one (each run in its own schemas, dropped afterwards) and says it skipped otherwise.
 * Everything below it runs here without a server: the store over a recording fake of its driver
 * edge (statements, parameters, bulk rows), the error allow-list and the connection config.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sql from 'mssql';
import {
  authenticationFor,
  connectionStringKeywords,
  mssqlPoolConfig,
} from '../../adapters/mssqlConnection.js';
import { classifyMssqlError, translateMssqlError } from '../../adapters/mssqlErrors.js';
import type {
  ResultRow,
  SqlGateway,
  SqlParam,
  SqlSession,
  StageColumn,
} from '../../adapters/mssqlGateway.js';
import { bindParams, bulkTable } from '../../adapters/mssqlGateway.js';
import {
  changeToRowversion,
  MssqlRegionStore,
  openMssqlRegionStore,
  rowversionToChange,
} from '../../adapters/mssqlRegionStore.js';
import { SqliteRegionStore } from '../../adapters/sqliteRegionStore.js';
import { derivedName, quoteMssql } from '../../adapters/sqlIdentifiers.js';
import { mssqlTestConnection } from '../../config/settings.js';
import { SyncError } from '../../sync/errors.js';
import type { SyncErrorCode } from '../../sync/errors.js';
import type { SyncRow, TableMapping } from '../../sync/model.js';
import { OPEN_GUARD } from '../../sync/model.js';
import type { ApplyPageRequest } from '../../sync/ports.js';
import { regionStoreConformance } from '../support/storeConformance.js';
import { isoAt, ISO0, orderTables, policy, priceMapping, priceRow } from '../support/syncFixtures.js';
import { dropMssqlSchemas } from '../support/mssqlSchemas.js';

// ---------------------------------------------------------------------------------------------
// Conformance against a live server.

const connection = mssqlTestConnection(process.env);
if (connection === null) {
  void describe(
    'RegionStore conformance: SQL Server',
    { skip: 'skipped: MSSQL_TEST_CONNECTION not set' },
    () => {
      void it('runs when MSSQL_TEST_CONNECTION names a SQL Server / Azure SQL database', () => undefined);
    },
  );
} else {
  regionStoreConformance('SQL Server', () => {
    // One schema for this run's business tables, one sync schema per opened store (as SQLite
    // gives each store its own file), all dropped by cleanup.
    const run = `rs_t${randomBytes(4).toString('hex')}`;
    const schemas = [run];
    return {
      async open(region) {
        const syncSchema = `${run}_${schemas.length}`;
        schemas.push(syncSchema);
        return openMssqlRegionStore({ region, connectionString: connection, syncSchema, poolMax: 4 });
      },
      tableName: (canonical) => `${run}.${canonical}`,
      cleanup: () => dropMssqlSchemas(connection, schemas),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// A recording fake of the driver edge.

interface Recorded {
  readonly tx: number;
  readonly label: string;
  readonly text: string;
  readonly params: readonly SqlParam[];
}
interface RecordedBulk {
  readonly tx: number;
  readonly label: string;
  readonly table: string;
  readonly columns: readonly StageColumn[];
  readonly rows: readonly (readonly unknown[])[];
}

const meta = (name: string, typeName: string, extra: Partial<Record<string, unknown>> = {}) => ({
  name,
  type_name: typeName,
  max_length: typeName === 'nvarchar' ? 200 : 8,
  precision: 0,
  scale: 0,
  is_identity: false,
  is_computed: false,
  ...extra,
});

class FakeGateway implements SqlGateway {
  readonly statements: Recorded[] = [];
  readonly bulks: RecordedBulk[] = [];
  private txCounter = 0;
  /** Tables the fake pretends exist: quoted name -> sys.columns rows. */
  readonly tables = new Map<string, ResultRow[]>();
  /** Answer to 'read current versions'. */
  current: (keys: readonly (readonly unknown[])[]) => ResultRow[] = () => [];
  /** Canned answers by statement label. */
  readonly answers = new Map<string, ResultRow[]>();

  private sessionFor(tx: number): SqlSession {
    return {
      query: async (label, text, params = []) => {
        this.statements.push({ tx, label, text, params });
        if (label === 'read table columns') return this.tables.get(String(params[0]?.value)) ?? [];
        const canned = this.answers.get(label);
        if (canned !== undefined) return canned;
        if (label === 'create table') {
          const name = /CREATE TABLE (\S+) \(/.exec(text)?.[1] as string;
          const cols = [...text.matchAll(/^\s*(\[[^\]]+\]) sql_variant/gm)].map((m) =>
            meta((m[1] as string).slice(1, -1), 'sql_variant'),
          );
          this.tables.set(name, [
            ...cols,
            meta('modified_at', 'datetime2'),
            meta('origin_region', 'nvarchar'),
            meta('is_deleted', 'bit'),
            meta('row_ver', 'timestamp'),
          ]);
          return [];
        }
        if (label === 'read current versions') {
          const keys = this.bulks.filter((b) => b.tx === tx && b.label === 'stage keys').at(-1);
          return this.current(keys?.rows ?? []);
        }
        return [];
      },
      bulk: async (label, table, columns, rows) => {
        this.bulks.push({ tx, label, table, columns, rows });
      },
    };
  }

  async session<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
    return fn(this.sessionFor(0));
  }
  async transaction<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
    return fn(this.sessionFor(++this.txCounter));
  }
  async close(): Promise<void> {}
}

function pageRequest(table: TableMapping, rows: readonly SyncRow[], runId = 'run-x'): ApplyPageRequest {
  return {
    table,
    rows,
    policy: policy('last-writer-wins'),
    guard: OPEN_GUARD,
    checkpoint: {
      flow: 'pricing',
      source: 'cn',
      target: 'sea',
      table: 'price_list',
      cursor: { change: '987654321', key: ['SKU-CURSOR-KEY', 'USD'] },
      runId,
      updatedAt: ISO0,
    },
    audit: {
      flow: 'pricing',
      source: 'cn',
      target: 'sea',
      runId,
      table: 'price_list',
      policy: 'lww; open',
      at: ISO0,
    },
  };
}

const HOSTILE_TABLES = [
  'price_list; DROP TABLE price_list; --',
  'x] ; DROP TABLE [y',
  'a.b.c',
  'dbo.[x]',
  "x'; EXEC xp_cmdshell 'dir'; --",
  '',
];
const HOSTILE_COLUMNS = ['list_price"); DROP TABLE x; --', 'a]]; DROP TABLE x; --', 'a b', 'row_ver'];

describe('SQL Server store without a server: identifiers', () => {
  it('refuses hostile table, column and schema names before any SQL is built or sent', async () => {
    const fake = new FakeGateway();
    const store = new MssqlRegionStore({ region: 'sea', gateway: fake });
    const mappings: TableMapping[] = [
      ...HOSTILE_TABLES.map((t) => priceMapping(t)),
      ...HOSTILE_COLUMNS.map((c) =>
        priceMapping('price_list', {
          sku: 'sku',
          currency: 'currency',
          list_price: c,
          price_book: 'price_book',
        }),
      ),
    ];
    const invalid = (e: unknown) => e instanceof SyncError && e.code === 'invalid-config' && !e.retryable;
    for (const table of mappings) {
      await assert.rejects(store.migrate([table]), invalid, table.table);
      await assert.rejects(store.readChanges({ table, after: null, limit: 5 }), invalid);
      await assert.rejects(store.readRows({ table, afterKey: null, limit: 5 }), invalid);
      await assert.rejects(store.highWaterMark(table), invalid);
      await assert.rejects(store.applyPage(pageRequest(table, [priceRow(1)])), invalid);
    }
    assert.deepEqual(fake.statements, [], 'no statement reached the driver');
    assert.deepEqual(fake.bulks, []);
    for (const schema of ['dbo; DROP', 'x]', '']) {
      assert.throws(
        () => new MssqlRegionStore({ region: 'sea', gateway: fake, syncSchema: schema }),
        invalid,
      );
    }
  });

  it('quotes allowed names with [] and schema-qualifies them', () => {
    assert.equal(quoteMssql('price_list'), '[price_list]');
    assert.equal(quoteMssql('crm.ListaPrecios'), '[crm].[ListaPrecios]');
    for (const bad of ['a]', 'a[b', 'a.b.c', 'a b', "a'b", 'a;b', '1abc']) {
      assert.throws(
        () => quoteMssql(bad),
        (e: unknown) => e instanceof SyncError && e.code === 'invalid-config',
      );
    }
  });
});

describe('SQL Server store without a server: statements carry no values', () => {
  const NASTY = ["'; DROP TABLE price_list; --", '"]; DELETE FROM x; --', 'Robert\u0000Tables', '字段 ü ✓'];

  it('applyPage: keys and rows are bulk rows, checkpoint and audit are parameters, all in one transaction', async () => {
    const fake = new FakeGateway();
    const store = new MssqlRegionStore({ region: 'sea', gateway: fake });
    const table = priceMapping();
    await store.migrate([table]);
    const rows = NASTY.map((s, i) => ({ ...priceRow(i), values: { ...priceRow(i).values, price_book: s } }));
    const res = await store.applyPage(pageRequest(table, rows, "run-'; DROP TABLE sync_audit; --"));
    assert.deepEqual(res, { kind: 'applied', inserted: 4, updated: 0, unchanged: 0, lostConflicts: 0 });

    const forbidden = [
      ...NASTY,
      'SKU-000000',
      'SKU-CURSOR-KEY',
      '987654321',
      'DROP TABLE sync_audit',
      'lww; open',
    ];
    for (const st of fake.statements) {
      for (const v of forbidden)
        assert.ok(!st.text.includes(v), `${st.label} contains the value ${JSON.stringify(v)}`);
    }
    const applyTx = fake.statements.find((s) => s.label === 'merge')?.tx;
    assert.ok(applyTx !== undefined);
    assert.deepEqual(
      fake.statements.filter((s) => s.tx === applyTx).map((s) => s.label),
      [
        'create key stage',
        'read current versions',
        'drop key stage',
        'create stage',
        'merge',
        'drop stage',
        'write checkpoint',
        'write audit',
      ],
    );
    // Temp-table DDL has no parameters, so the gateway runs it as a plain batch (session scope)
    // rather than through sp_executesql, whose scope would drop the table again at once.
    for (const label of ['create key stage', 'create stage'])
      assert.deepEqual(fake.statements.find((s) => s.label === label)?.params, []);
    const merge = fake.statements.find((s) => s.label === 'merge')?.text ?? '';
    assert.match(merge, /^MERGE \[price_list\] WITH \(HOLDLOCK\) AS t\s+USING #rs_stage AS s/);
    assert.match(
      fake.statements.find((s) => s.label === 'read current versions')?.text ?? '',
      /JOIN \[price_list\] AS t WITH \(UPDLOCK, HOLDLOCK\)/,
    );
    const staged = fake.bulks.find((b) => b.label === 'stage rows' && b.tx === applyTx);
    assert.ok(staged !== undefined);
    // price_book is column 3, a sql_variant staged as c3_s / c3_f / c3_b.
    const at = staged.columns.findIndex((c) => c.name === 'c3_s');
    assert.deepEqual(
      staged.rows.map((r) => r[at]),
      NASTY,
    );
    const cp = fake.statements.find((s) => s.label === 'write checkpoint');
    assert.ok(cp?.params.some((p) => p.value === '987654321'));
    assert.ok(cp?.params.some((p) => p.value === JSON.stringify(['SKU-CURSOR-KEY', 'USD'])));
    const audit = fake.statements.find((s) => s.label === 'write audit');
    assert.ok(audit?.params.some((p) => p.value === "run-'; DROP TABLE sync_audit; --"));
    assert.ok(audit?.params.some((p) => p.value === 4)); // rows and written
  });

  it('readChanges / readRows: keyset predicates and TOP are parameters; rowversion is bound as 8 bytes', async () => {
    const fake = new FakeGateway();
    const store = new MssqlRegionStore({ region: 'sea', gateway: fake });
    const table = priceMapping();
    await store.migrate([table]);
    await store.readChanges({
      table,
      after: { change: '18446744073709551615', key: [NASTY[0] as string, 42.5] },
      upTo: '9007199254740993',
      limit: 333,
    });
    await store.readRows({ table, afterKey: [NASTY[1] as string, 'EUR'], limit: 77 });
    const read = fake.statements.find((s) => s.label === 'readChanges');
    assert.ok(read !== undefined);
    assert.match(read.text, /t\.\[row_ver\] < MIN_ACTIVE_ROWVERSION\(\)/);
    assert.match(read.text, /ORDER BY t\.\[row_ver\], t\.\[sku\], t\.\[currency\]/);
    assert.match(read.text, /\(t\.\[sku\] > @p\d+\) OR \(t\.\[sku\] = @p\d+ AND t\.\[currency\] > @p\d+\)/);
    assert.doesNotMatch(read.text, /OFFSET/);
    for (const v of [NASTY[0] as string, '42.5', '333', '18446744073709551615', '9007199254740993'])
      assert.ok(!read.text.includes(v), v);
    const values = read.params.map((p) => p.value);
    assert.ok(values.includes(NASTY[0]));
    assert.ok(values.includes(42.5));
    assert.ok(values.includes(333));
    assert.ok(values.some((v) => Buffer.isBuffer(v) && v.equals(Buffer.alloc(8, 0xff))));
    const rows = fake.statements.find((s) => s.label === 'readRows');
    assert.ok(rows !== undefined && !rows.text.includes(NASTY[1] as string) && !rows.text.includes('77'));
    assert.ok(rows.params.some((p) => p.value === NASTY[1]));
  });

  it('countChanges: the readChanges keyset and order, the first `limit` changes looked at, origins and bounds as parameters', async () => {
    const fake = new FakeGateway();
    const store = new MssqlRegionStore({ region: 'cn', gateway: fake });
    const table = priceMapping();
    await store.migrate([table]);
    fake.answers.set('countChanges', [{ scanned: 334, n: 120 }]);
    const request = {
      table,
      after: { change: '18446744073709551615', key: [NASTY[0] as string, 42.5] },
      upTo: '9007199254740993',
      limit: 333,
    };
    const capped = await store.countChanges({ ...request, origins: { notIn: [NASTY[1] as string] } });
    assert.deepEqual(capped, { count: 120, capped: true });
    await store.readChanges(request);
    const [count, read] = ['countChanges', 'readChanges'].map((l) =>
      fake.statements.find((s) => s.label === l),
    );
    assert.ok(count !== undefined && read !== undefined);
    // The same WHERE and ORDER BY as the read (with its parameters); no row columns.
    const where = (text: string) => /WHERE ([\s\S]*?)\nORDER BY/.exec(text)?.[1];
    const order = (text: string) => /\nORDER BY ([^;)]*)/.exec(text)?.[1];
    assert.match(where(read.text) ?? '', /MIN_ACTIVE_ROWVERSION[\s\S]*t\.\[currency\] > @p\d+/);
    assert.equal(where(count.text), where(read.text));
    assert.equal(order(count.text), order(read.text));
    assert.match(count.text, /SELECT TOP \(@p\d+\) t\.\[origin_region\], ROW_NUMBER\(\) OVER \(ORDER BY /);
    assert.match(count.text, /\[ord\] <= @p\d+ AND \[origin_region\] NOT IN \(@p\d+\)/);
    assert.doesNotMatch(count.text, /\[c0\]|OFFSET/);
    for (const v of [NASTY[1] as string, '334', '18446744073709551615'])
      assert.ok(!count.text.includes(v), v);
    const values = count.params.map((p) => p.value);
    // The limit, and one past it: are there more?
    assert.ok(values.includes(NASTY[1]) && values.includes(333) && values.includes(334));
    assert.deepEqual(
      count.params.filter((p) => ![NASTY[1], 333, 334].includes(p.value as never)).map((p) => p.value),
      read.params.filter((p) => p.value !== 333).map((p) => p.value),
    );

    fake.answers.set('countChanges', [{ scanned: 2, n: 2 }]);
    const exact = await store.countChanges({ ...request, origins: { in: ['cn', 'eu'] } });
    assert.deepEqual(exact, { count: 2, capped: false });
    const inList = fake.statements.filter((s) => s.label === 'countChanges').at(-1);
    assert.match(inList?.text ?? '', /\[origin_region\] IN \(@p\d+, @p\d+\)/);
    await store.countChanges({ ...request, origins: { in: [] } });
    assert.match(
      fake.statements.filter((s) => s.label === 'countChanges').at(-1)?.text ?? '',
      /AND 1 = 0 THEN/,
    );
  });

  it('binds parameters onto a real mssql Request and builds the bulk table without a connection', () => {
    const request = bindParams(new sql.Request(), [
      { name: 'p0', type: sql.NVarChar(4000), value: NASTY[0] },
      { name: 'p1', type: sql.Int(), value: 7 },
    ]);
    assert.equal(request.parameters.p0?.value, NASTY[0]);
    assert.equal(request.parameters.p1?.value, 7);
    const t = bulkTable('#rs_stage', [{ name: 'c0', ddl: 'int', type: sql.Int() }], [[1], [2]]);
    assert.equal(t.rows.length, 2);
    assert.throws(
      () => bulkTable('[dbo].[price_list]', [], []),
      (e: unknown) => e instanceof SyncError,
    );
  });
});

describe('SQL Server store without a server: conflict decisions match SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mssql-parity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('counts and winners are the ones the SQLite store decides for the same target state', async () => {
    const table = priceMapping();
    const existing: SyncRow[] = [
      priceRow(0, { modifiedAt: isoAt(5000), price: 1, originRegion: 'sea' }), // newer: incoming loses
      priceRow(1, { modifiedAt: isoAt(1000), price: 1 }), // older: incoming wins
      priceRow(2), // identical: unchanged
      priceRow(3, { modifiedAt: isoAt(2000), price: 9, originRegion: 'latam' }), // same ms: eu outranks latam
    ];
    const page: SyncRow[] = [
      priceRow(0, { modifiedAt: isoAt(1000), price: 2 }),
      priceRow(1, { modifiedAt: isoAt(3000), price: 2 }),
      priceRow(2),
      priceRow(3, { modifiedAt: isoAt(2000), price: 3, originRegion: 'eu' }),
      priceRow(4, { price: 4 }), // new
      priceRow(4, { modifiedAt: isoAt(10), price: 5 }), // same key again in the page: wins over the first
    ];

    const sqlite = new SqliteRegionStore({ region: 'sea', file: join(dir, 'sea.sqlite') });
    await sqlite.migrate([table]);
    await sqlite.applyPage(pageRequest(table, existing, 'seed'));
    const expected = await sqlite.applyPage(pageRequest(table, page));
    const expectedRows = await sqlite.readRows({ table, afterKey: null, limit: 100 });
    await sqlite.close();

    const fake = new FakeGateway();
    const store = new MssqlRegionStore({ region: 'sea', gateway: fake });
    await store.migrate([table]);
    const bySku = new Map(existing.map((r) => [r.values.sku, r]));
    fake.current = (keys) =>
      keys.flatMap((k) => {
        // Key stage row: ord, then sku (c0_s, c0_f, c0_b), currency (c1_s, c1_f, c1_b).
        const row = bySku.get(k[1] as string);
        if (row === undefined) return [];
        return [
          {
            ord: k[0],
            c0: row.values.sku,
            c1: row.values.currency,
            c2: row.values.list_price,
            c3: row.values.price_book,
            m: new Date(row.modifiedAt),
            o: row.originRegion,
            d: row.isDeleted,
          },
        ];
      });
    const got = await store.applyPage(pageRequest(table, page));
    assert.deepEqual(got, expected);
    assert.deepEqual(got, { kind: 'applied', inserted: 1, updated: 3, unchanged: 1, lostConflicts: 1 });

    // The staged winners are exactly the rows SQLite ended up with for the keys that changed.
    const staged = fake.bulks.find((b) => b.label === 'stage rows');
    assert.ok(staged !== undefined);
    const col = (name: string) => staged.columns.findIndex((c) => c.name === name);
    const winners = staged.rows.map((r) => [r[col('c0_s')], r[col('c2_f')]]);
    const finalBySku = new Map(expectedRows.map((r) => [r.values.sku, r.values.list_price]));
    assert.deepEqual(winners, [
      ['SKU-000001', 2],
      ['SKU-000003', 3],
      ['SKU-000004', 5],
    ]);
    for (const [sku, price] of winners) assert.equal(finalBySku.get(sku as string), price);
  });

  it('widens the primary key of a table it created to the mapped key, keeping the rows (orders keyed by region)', async () => {
    const fake = new FakeGateway();
    const { header } = orderTables();
    fake.tables.set('[sales_order]', [
      ...Object.keys(header.columns).map((c) => meta(c, 'sql_variant')),
      meta('modified_at', 'datetime2'),
      meta('origin_region', 'nvarchar'),
      meta('is_deleted', 'bit'),
      meta('row_ver', 'timestamp'),
    ]);
    const pk = derivedName('sync_pk', 'sales_order');
    const rv = derivedName('sync_rv', 'sales_order');
    // What the previous build created: keyed by order_id alone.
    fake.answers.set('read indexes', [
      { name: pk, column_name: 'order_id' },
      { name: rv, column_name: 'row_ver' },
      { name: rv, column_name: 'order_id' },
    ]);
    const store = new MssqlRegionStore({ region: 'cn', gateway: fake });
    await store.migrate([header]);
    const ddl = fake.statements.filter((st) => st.tx > 0).map((st) => st.label);
    const from = ddl.indexOf('count rows without key');
    assert.deepEqual(ddl.slice(from, from + 6), [
      'count rows without key',
      'drop stale index',
      'drop primary key',
      'key column not null',
      'add primary key',
      'create change index',
    ]);
    const text = (label: string) => fake.statements.find((st) => st.label === label)?.text ?? '';
    assert.match(text('key column not null'), /ALTER COLUMN \[home_region\] sql_variant NOT NULL/);
    assert.match(text('add primary key'), /PRIMARY KEY \(\[home_region\], \[order_id\]\)/);
    assert.match(text('create change index'), /\(\[row_ver\], \[home_region\], \[order_id\]\)/);
    assert.ok(
      fake.statements.every((st) => !/DROP TABLE|DELETE/.test(st.text)),
      'no row dropped',
    );

    // Rows without a home region: refused with their count, nothing changed.
    const orphans = new FakeGateway();
    orphans.tables.set('[sales_order]', fake.tables.get('[sales_order]') ?? []);
    orphans.answers.set('read indexes', fake.answers.get('read indexes') ?? []);
    orphans.answers.set('count rows without key', [{ n: 3 }]);
    await assert.rejects(
      new MssqlRegionStore({ region: 'cn', gateway: orphans }).migrate([header]),
      /3 rows of sales_order have no home_region/,
    );
    assert.ok(!orphans.statements.some((st) => st.label === 'drop primary key'));
  });

  it('refuses a page with a forbidden column before touching the database', async () => {
    const fake = new FakeGateway();
    const store = new MssqlRegionStore({ region: 'cn', gateway: fake });
    const table = priceMapping();
    const res = await store.applyPage({
      ...pageRequest(table, [priceRow(1)]),
      guard: { forbiddenColumns: ['price_book'], pseudonymizedColumns: [] },
    });
    assert.equal(res.kind, 'rejected');
    assert.deepEqual(fake.statements, []);
  });
});

describe('SQL Server store without a server: rowversion as a change value', () => {
  it('round-trips the full unsigned 64-bit range as decimal strings', () => {
    for (const v of ['0', '1', '255', '9007199254740993', '9223372036854775808', '18446744073709551615']) {
      assert.equal(rowversionToChange(changeToRowversion(v)), v);
    }
    assert.equal(rowversionToChange(Buffer.from('00000000000007d1', 'hex')), '2001');
    assert.equal(rowversionToChange(null), '0');
    for (const bad of ['-1', '01', '1.5', '18446744073709551616', 'abc']) {
      assert.throws(
        () => changeToRowversion(bad),
        (e: unknown) => e instanceof SyncError && e.code === 'invalid-config',
      );
    }
  });
});

describe('SQL Server store without a server: driver errors', () => {
  const withNumber = (number: number, code = 'EREQUEST') =>
    Object.assign(new Error(`error ${number}`), { number, code });
  const cases: [string, unknown, SyncErrorCode, boolean][] = [
    ['deadlock victim', withNumber(1205), 'conflict', true],
    ['lock timeout', withNumber(1222), 'conflict', true],
    [
      'request timeout',
      Object.assign(new Error('Timeout: Request failed to complete'), { code: 'ETIMEOUT' }),
      'timeout',
      true,
    ],
    ['socket', Object.assign(new Error('socket hang up'), { code: 'ESOCKET' }), 'connection', true],
    [
      'ECONNRESET under the mssql error',
      Object.assign(new Error('Connection lost'), {
        code: 'ESOCKET',
        originalError: Object.assign(new Error('read'), { code: 'ECONNRESET' }),
      }),
      'connection',
      true,
    ],
    ['Azure SQL busy', withNumber(40501), 'throttled', true],
    ['Azure SQL database unavailable', withNumber(40613), 'throttled', true],
    ['Azure SQL resources', withNumber(49918), 'throttled', true],
    ['Azure SQL 49919', withNumber(49919), 'throttled', true],
    ['Azure SQL 49920', withNumber(49920), 'throttled', true],
    ['Azure SQL worker limit', withNumber(10928), 'throttled', true],
    ['Azure SQL 10929', withNumber(10929), 'throttled', true],
    ['Azure SQL 40197', withNumber(40197), 'throttled', true],
    ['cannot open database', withNumber(4060, 'ELOGIN'), 'connection', true],
    ['PK violation', withNumber(2627), 'constraint', false],
    ['unique index', withNumber(2601), 'constraint', false],
    ['login failed', withNumber(18456, 'ELOGIN'), 'auth', false],
    [
      'login failed without a number',
      Object.assign(new Error('Login failed'), { code: 'ELOGIN' }),
      'auth',
      false,
    ],
    ['invalid object', withNumber(208), 'schema', false],
    ['invalid column', withNumber(207), 'schema', false],
    [
      'real cause among precedingErrors (3621 last)',
      Object.assign(withNumber(3621), { precedingErrors: [withNumber(2627)] }),
      'constraint',
      false,
    ],
    [
      'number in originalError.info',
      Object.assign(new Error('x'), { originalError: { info: { number: 1205 } } }),
      'conflict',
      true,
    ],
    ['unknown number', withNumber(50000), 'unknown', false],
    ['not an error', 'boom', 'unknown', false],
  ];
  for (const [name, thrown, code, retryable] of cases) {
    it(`${name} -> ${code}${retryable ? ' (retryable)' : ''}`, () => {
      assert.equal(classifyMssqlError(thrown), code);
      const e = translateMssqlError(thrown, 'applyPage');
      assert.ok(e instanceof SyncError);
      assert.equal(e.code, code);
      assert.equal(e.retryable, retryable);
      assert.equal(e.cause, thrown);
    });
  }
  it('passes a SyncError through unchanged', () => {
    const original = new SyncError('invalid-config', 'x');
    assert.equal(translateMssqlError(original, 'y'), original);
  });
});

describe('SQL Server connection strings -> tedious config', () => {
  const server = 'Server=tcp:region-sea.database.windows.net,1433;Initial Catalog=crm;Encrypt=True';

  it('SQL authentication', () => {
    const cfg = mssqlPoolConfig({
      connectionString: `${server};User ID=sync_app;Password='p;a''ss'`,
      poolMax: 7,
    });
    assert.equal(cfg.server, 'region-sea.database.windows.net');
    assert.equal(cfg.port, 1433);
    assert.equal(cfg.database, 'crm');
    assert.deepEqual(cfg.authentication, {
      type: 'default',
      options: { userName: 'sync_app', password: "p;a'ss" },
    });
    assert.equal(cfg.pool?.max, 7);
    assert.equal(cfg.options?.encrypt, true);
    assert.equal(cfg.user, undefined, 'credentials only in authentication');
  });

  it('Entra ID default (DefaultAzureCredential), optionally with a user-assigned identity', () => {
    assert.deepEqual(
      authenticationFor({ connectionString: `${server};Authentication=Active Directory Default` }),
      {
        type: 'azure-active-directory-default',
        options: {},
      },
    );
    assert.deepEqual(
      authenticationFor({
        connectionString: `${server};Authentication="Active Directory Default";User Id=1111-aaaa`,
      }),
      { type: 'azure-active-directory-default', options: { clientId: '1111-aaaa' } },
    );
    assert.equal(
      authenticationFor({ connectionString: `${server};Authentication=Active Directory Integrated` }).type,
      'azure-active-directory-default',
    );
  });

  it('managed identity with a client id (the case mssql 12.7 silently turns into SQL auth)', () => {
    const cs = `${server};Authentication=Active Directory Managed Identity;User Id=2222-bbbb`;
    // The bug being worked around: mssql's own parser maps this to SQL authentication.
    assert.equal(
      (sql.ConnectionPool.parseConnectionString(cs) as { authentication_type?: string }).authentication_type,
      'default',
    );
    assert.deepEqual(mssqlPoolConfig({ connectionString: cs }).authentication, {
      type: 'azure-active-directory-msi-app-service',
      options: { clientId: '2222-bbbb' },
    });
    assert.deepEqual(authenticationFor({ connectionString: `${server};Authentication=ActiveDirectoryMSI` }), {
      type: 'azure-active-directory-msi-app-service',
      options: {},
    });
    // The Functions-style setting pair <Setting>__credential / <Setting>__clientId.
    assert.deepEqual(
      authenticationFor({ connectionString: server, credential: 'managedidentity', clientId: '3333-cccc' }),
      {
        type: 'azure-active-directory-msi-app-service',
        options: { clientId: '3333-cccc' },
      },
    );
  });

  it('refuses what it cannot honour instead of falling back to SQL authentication', () => {
    const invalid = (e: unknown) => e instanceof SyncError && e.code === 'invalid-config';
    assert.throws(
      () => authenticationFor({ connectionString: `${server};Authentication=Active Directory Kerberos` }),
      invalid,
    );
    assert.throws(() => authenticationFor({ connectionString: server }), invalid);
    assert.throws(
      () => mssqlPoolConfig({ connectionString: 'Initial Catalog=crm;User Id=a;Password=b' }),
      invalid,
    );
  });

  it('parses quoted values, doubled quotes and keyword spacing', () => {
    const kw = connectionStringKeywords(`Data Source = x ; PASSWORD="a""b;c" ; user   id=u;`);
    assert.equal(kw.get('data source'), 'x');
    assert.equal(kw.get('password'), 'a"b;c');
    assert.equal(kw.get('user id'), 'u');
  });
});
