/**
 * Order saga tables on SQL Server. The port conformance suite runs against a real server when
 * MSSQL_TEST_CONNECTION names one (each opened store in its own schema, dropped afterwards) and
 * says it skipped otherwise. Everything below it runs here without a server: the adapter over a
 * recording fake of its driver edge (statements, parameters, transactions).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import sql from 'mssql';
import type { ResultRow, SqlGateway, SqlParam, SqlSession } from '../../adapters/mssqlGateway.js';
import {
  KEY_CHARS,
  MAX_PARAMS,
  MSSQL_ORDER_SAGA_SCHEMA_VERSION,
  MssqlOrderSagaStore,
  openMssqlOrderSagaStore,
  PRUNE_BATCH,
  SAGA_SCHEMA_KEY,
} from '../../adapters/mssqlOrderSaga.js';
import { mssqlTestConnection } from '../../config/settings.js';
import { SyncError } from '../../sync/errors.js';
import type { OrderSnapshot } from '../../sync/model.js';
import type { CatalogProduct, SyncReceipt, WarrantyEntitlement } from '../../sync/orderSaga.js';
import { orderSagaConformance } from '../support/orderSagaConformance.js';
import { dropMssqlSchemas } from '../support/mssqlSchemas.js';

// ---------------------------------------------------------------------------------------------
// Conformance against a live server.

const connection = mssqlTestConnection(process.env);
if (connection === null) {
  void describe(
    'OrderSagaStore conformance: SQL Server',
    { skip: 'skipped: MSSQL_TEST_CONNECTION not set' },
    () => {
      void it('runs when MSSQL_TEST_CONNECTION names a SQL Server / Azure SQL database', () => undefined);
    },
  );
} else {
  orderSagaConformance('SQL Server', () => {
    const run = `rs_o${randomBytes(4).toString('hex')}`;
    const schemas: string[] = [];
    return {
      async open(region) {
        const schema = `${run}_${schemas.length}`;
        schemas.push(schema);
        return openMssqlOrderSagaStore({ region, connectionString: connection, schema, poolMax: 4 });
      },
      cleanup: () => dropMssqlSchemas(connection, schemas),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// A recording fake of the driver edge.

interface Recorded {
  /** 0: autocommitted session statement; n > 0: the n-th transaction. */
  readonly tx: number;
  readonly label: string;
  readonly text: string;
  readonly params: readonly SqlParam[];
}

type Responder = (label: string, text: string, params: readonly SqlParam[]) => ResultRow[];

class RecordingGateway implements SqlGateway {
  readonly statements: Recorded[] = [];
  private txCounter = 0;
  closed = 0;
  constructor(public respond: Responder = () => []) {}

  private sessionFor(tx: number): SqlSession {
    return {
      query: async (label, text, params = []) => {
        this.statements.push({ tx, label, text, params });
        return this.respond(label, text, params);
      },
      bulk: async () => {
        throw new Error('the saga store does not bulk-load');
      },
    };
  }
  async session<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
    return fn(this.sessionFor(0));
  }
  async transaction<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
    return fn(this.sessionFor(++this.txCounter));
  }
  async close(): Promise<void> {
    this.closed++;
  }
  labels(tx?: number): string[] {
    return this.statements.filter((s) => tx === undefined || s.tx === tx).map((s) => s.label);
  }
  byLabel(label: string): Recorded[] {
    return this.statements.filter((s) => s.label === label);
  }
}

const NOW = '2026-03-01T12:00:00.000Z';
const NASTY = [
  "o'; DROP TABLE warranty_entitlement; --",
  "x]; EXEC xp_cmdshell 'dir'; --",
  'Robert\u0000Tables',
  '注文 ü ✓',
] as const;
const invalid = (e: unknown) => e instanceof SyncError && e.code === 'invalid-config' && !e.retryable;

const ent = (orderId: string, version: number, lineNo: number, sku = 'PHONE-X1'): WarrantyEntitlement => ({
  orderId,
  version,
  lineNo,
  sku,
  quantity: 1,
  sourceRegion: 'sea',
  startsAt: NOW,
  endsAt: '2028-03-01T12:00:00.000Z',
});

const sea = (orderId: string) => ({ region: 'sea', orderId });

const snapshotRow = (s: OrderSnapshot): ResultRow => ({ snapshot: JSON.stringify(s) });

describe('SQL Server order saga without a server: identifiers and values checked before any SQL', () => {
  it('refuses hostile schema names when the store is built', () => {
    const fake = new RecordingGateway();
    for (const schema of [
      'dbo; DROP TABLE x; --',
      'x]',
      '[dbo]',
      'a.b',
      "x'; EXEC xp_cmdshell 'dir'; --",
      'a b',
      '',
      '1abc',
    ]) {
      assert.throws(() => new MssqlOrderSagaStore({ region: 'cn', gateway: fake, schema }), invalid, schema);
    }
    assert.deepEqual(fake.statements, []);
    const ok = new MssqlOrderSagaStore({ region: 'cn', gateway: fake, schema: 'crm_sync' });
    assert.equal(ok.region, 'cn');
  });

  it('refuses over-long keys, non-integers and bad timestamps without sending anything', async () => {
    const fake = new RecordingGateway();
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake });
    const long = 'x'.repeat(KEY_CHARS + 1);
    assert.equal((await store.lookupProducts([long])).size, 0, 'a SKU the column cannot hold is unknown');
    await assert.rejects(
      store.upsertProducts([{ sku: 'A', name: 'a', category: 'device', warrantyMonths: 1.5 }]),
      invalid,
    );
    await assert.rejects(store.registerEntitlements(sea(long), 1, [ent(long, 1, 1)]), invalid);
    await assert.rejects(
      store.registerEntitlements(sea('o-1'), 1, [ent('o-1', 1, 1), ent('o-2', 1, 2)]),
      invalid,
      'a record of another order',
    );
    await assert.rejects(
      store.registerEntitlements(sea('o-1'), 1, [{ ...ent('o-1', 1, 1), startsAt: 'soon' }]),
      invalid,
    );
    await assert.rejects(store.registerEntitlements(sea('o-1'), 1.5, []), invalid);
    await assert.rejects(store.removeEntitlements(sea('o-1'), Number.NaN), invalid);
    await assert.rejects(store.readEntitlements(sea(long)), invalid);
    await assert.rejects(store.readEntitlements({ region: 'r'.repeat(65), orderId: 'o' }), invalid);
    await assert.rejects(store.writeReceipt('sea', { ...sampleReceipt(), at: 'yesterday' }), invalid);
    await assert.rejects(store.writeReceipt('sea', { ...sampleReceipt(), version: 2 ** 60 }), invalid);
    let takes = 0;
    const take = async () => {
      takes++;
      return { orderId: 'o', aggregate: null };
    };
    await assert.rejects(store.keepSnapshot(long, take, NOW), invalid);
    await assert.rejects(store.keepSnapshot('saga', take, 'not a time'), invalid);
    assert.equal(takes, 0, 'nothing was snapshotted for a call that cannot be kept');
    assert.deepEqual(fake.statements, [], 'no statement reached the driver');
  });
});

function sampleReceipt(over: Partial<SyncReceipt> = {}): SyncReceipt {
  return {
    orderId: NASTY[0],
    version: 987654321,
    status: 'failed',
    reason: `unknown-sku: ${NASTY[1]}`,
    hubVersion: 123456789,
    sagaId: NASTY[3],
    at: NOW,
    ...over,
  };
}

describe('SQL Server order saga without a server: statements carry no values', () => {
  it('every operation binds its values as typed parameters', async () => {
    const fake: RecordingGateway = new RecordingGateway((label): ResultRow[] => {
      if (label !== 'read kept snapshot') return [];
      // The row the insert just stored.
      const insert = fake.byLabel('insert snapshot').at(-1);
      return [{ snapshot: insert?.params[1]?.value }];
    });
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake });
    const products: CatalogProduct[] = NASTY.map((sku, i) => ({
      sku,
      name: `${sku} label-xyz`,
      category: 'device',
      warrantyMonths: 24 + i,
    }));
    await store.upsertProducts(products);
    await store.lookupProducts([...NASTY]);
    await store.registerEntitlements(
      sea(NASTY[0]),
      987654321,
      NASTY.map((sku, i) => ent(NASTY[0], 987654321, 31337 + i, sku)),
    );
    await store.removeEntitlements(sea(NASTY[1]), 987654321);
    await store.readEntitlements(sea(NASTY[2]));
    await store.keepSnapshot(NASTY[2], async () => ({ orderId: NASTY[3], aggregate: null }), NOW);
    await store.readSnapshot(NASTY[1]);
    await store.writeReceipt('sea', sampleReceipt());
    await store.readReceipts(sea(NASTY[0]));

    assert.ok(fake.statements.length >= 9);
    const forbidden = [
      ...NASTY,
      'label-xyz',
      '987654321',
      '123456789',
      '31337',
      '2026-03-01',
      'unknown-sku',
      'PHONE',
    ];
    for (const st of fake.statements) {
      for (const v of forbidden)
        assert.ok(!st.text.includes(v), `${st.label} contains the value ${JSON.stringify(v)}`);
      assert.ok(st.params.length <= MAX_PARAMS, `${st.label} has ${st.params.length} parameters`);
      for (const p of st.params)
        assert.ok(st.text.includes(`@${p.name}`), `${st.label}: @${p.name} is bound and used`);
    }
    const values = fake.statements.flatMap((s) => s.params.map((p) => p.value));
    for (const v of [...NASTY, 987654321, 123456789, 31337, `unknown-sku: ${NASTY[1]}`])
      assert.ok(values.includes(v), String(v));
    // Timestamps travel as Date parameters of datetime2(3).
    const receipt = fake.byLabel('writeReceipt')[0];
    const at = receipt?.params.find((p) => p.value instanceof Date);
    assert.ok(at !== undefined && (at.value as Date).toISOString() === NOW);
    assert.equal((at.type as { type?: unknown }).type, sql.DateTime2);
  });
});

describe('SQL Server order saga without a server: transactions and idempotency', () => {
  it('migrate: one transaction under the shared migration lock; DDL only when the version is behind', async () => {
    let version: string | null = null;
    const fake = new RecordingGateway((label) =>
      label === 'read saga schema version' && version !== null ? [{ value: version }] : [],
    );
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake, schema: 'crm_sync' });
    await store.migrate();
    assert.deepEqual(fake.labels(1), [
      'migration lock',
      'create schema',
      'create sync_meta',
      'read saga schema version',
      'saga migration 1',
      ...Array<string>(7).fill('saga migration 2'),
      'saga migration 3',
      'saga migration 3',
      'write saga schema version',
    ]);
    assert.deepEqual(fake.labels(0), []);
    const lock = fake.byLabel('migration lock')[0];
    assert.match(lock?.text ?? '', /sp_getapplock/);
    assert.ok(
      lock?.params.some((p) => p.value === 'region-sync-migrate'),
      'the lock the RegionStore takes',
    );
    const ddl = fake.byLabel('saga migration 1')[0]?.text ?? '';
    for (const t of ['product_catalog', 'warranty_entitlement', 'order_saga_snapshot', 'order_sync_receipt'])
      assert.match(ddl, new RegExp(`CREATE TABLE \\[crm_sync\\]\\.\\[${t}\\]`));
    assert.match(ddl, /\[sku\] nvarchar\(400\) COLLATE Latin1_General_100_BIN2 NOT NULL/);
    // Migration 2 keys entitlements and receipts by the order's origin region, rows kept.
    const rekey = fake.byLabel('saga migration 2').map((st) => st.text);
    assert.ok(
      rekey.some((t) => /PRIMARY KEY \(\[source_region\], \[order_id\], \[version\], \[line_no\]\)/.test(t)),
    );
    assert.ok(rekey.some((t) => /PRIMARY KEY \(\[origin_region\], \[order_id\], \[version\]\)/.test(t)));
    assert.ok(
      rekey.some((t) => /DEFAULT \(N'cn'\)/.test(t)),
      'existing receipts take the store region',
    );
    assert.ok(
      rekey.every((t) => !/DROP TABLE|DELETE/.test(t)),
      'no data dropped',
    );
    const written = fake.byLabel('write saga schema version')[0];
    assert.match(written?.text ?? '', /^MERGE \[crm_sync\]\.\[sync_meta\] WITH \(HOLDLOCK\)/);
    assert.deepEqual(
      written?.params.map((p) => p.value),
      [SAGA_SCHEMA_KEY, String(MSSQL_ORDER_SAGA_SCHEMA_VERSION)],
    );

    version = String(MSSQL_ORDER_SAGA_SCHEMA_VERSION);
    await store.migrate();
    assert.deepEqual(fake.labels(2), [
      'migration lock',
      'create schema',
      'create sync_meta',
      'read saga schema version',
    ]);

    version = String(MSSQL_ORDER_SAGA_SCHEMA_VERSION + 1);
    await assert.rejects(store.migrate(), (e: unknown) => e instanceof SyncError && e.code === 'schema');
  });

  it('upsertProducts: chunked MERGE WITH (HOLDLOCK) statements in one transaction; a repeated SKU counts last', async () => {
    const fake = new RecordingGateway();
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake });
    const many: CatalogProduct[] = Array.from({ length: 1200 }, (_, i) => ({
      sku: `SKU-${i}`,
      name: `n${i}`,
      category: 'accessory',
      warrantyMonths: null,
    }));
    await store.upsertProducts([
      ...many,
      { sku: 'SKU-7', name: 'last', category: 'device', warrantyMonths: 12 },
    ]);
    const merges = fake.byLabel('upsert products');
    assert.ok(merges.length >= 3, `${merges.length} statements`);
    assert.deepEqual(new Set(merges.map((m) => m.tx)), new Set([1]));
    for (const m of merges)
      assert.match(m.text, /^MERGE \[dbo\]\.\[product_catalog\] WITH \(HOLDLOCK\) AS t/);
    const skus = merges.flatMap((m) => m.params.filter((_, i) => i % 4 === 0).map((p) => p.value));
    assert.equal(skus.length, 1200, 'each SKU once (a MERGE must not touch a row twice)');
    const values = merges.flatMap((m) => m.params.map((p) => p.value));
    assert.ok(values.includes('last') && !values.includes('n7'));
    fake.statements.length = 0;
    await store.upsertProducts([]);
    assert.deepEqual(fake.statements, []);
  });

  it('lookupProducts: distinct SKUs in chunks below the parameter limit; BIGINT-free mapping of rows', async () => {
    const fake = new RecordingGateway((label, _text, params) =>
      label === 'lookupProducts' && params.some((p) => p.value === 'SKU-2')
        ? [{ sku: 'SKU-2', name: 'Two', category: 'device', warranty_months: 24 }]
        : [],
    );
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake });
    assert.equal((await store.lookupProducts([])).size, 0);
    assert.deepEqual(fake.statements, []);
    const skus = Array.from({ length: 4500 }, (_, i) => `SKU-${i % 2500}`);
    const found = await store.lookupProducts(skus);
    const reads = fake.byLabel('lookupProducts');
    assert.equal(reads.length, 3, '1,000 SKUs per statement');
    assert.equal(
      reads.reduce((n, r) => n + r.params.length, 0),
      2500,
    );
    assert.deepEqual(
      [...found.values()],
      [{ sku: 'SKU-2', name: 'Two', category: 'device', warrantyMonths: 24 }],
    );
  });

  it('registerEntitlements: newer-version check under HOLDLOCK, upserts, then tombstones, all in one transaction', async () => {
    const fake = new RecordingGateway();
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake });
    const rows = Array.from({ length: 600 }, (_, i) => ent('o-1', 3, i + 1));
    assert.equal(await store.registerEntitlements(sea('o-1'), 3, rows), 600);
    assert.deepEqual(new Set(fake.statements.map((s) => s.tx)), new Set([1]));
    const labels = fake.labels(1);
    assert.equal(labels[0], 'newer entitlements');
    assert.equal(labels.at(-1), 'supersede entitlements');
    assert.ok(labels.slice(1, -1).every((l) => l === 'upsert entitlements') && labels.length >= 4);
    const check = fake.statements[0];
    assert.match(check?.text ?? '', /FROM \[dbo\]\.\[warranty_entitlement\] AS t WITH \(UPDLOCK, HOLDLOCK\)/);
    assert.deepEqual(
      check?.params.map((p) => p.value),
      [3, 'sea', 'o-1'],
    );
    const lines = fake.byLabel('upsert entitlements').flatMap((s) =>
      s.params
        .slice(0, -3)
        .filter((_, i) => i % 5 === 0)
        .map((p) => p.value),
    );
    assert.deepEqual(
      lines,
      rows.map((r) => r.lineNo),
    );
    const supersede = fake.byLabel('supersede entitlements')[0]?.text ?? '';
    assert.match(supersede, /SET \[is_deleted\] = 1, \[superseded_by\] = @p0/);
    assert.doesNotMatch(supersede, /DELETE/, 'older versions become tombstones, never hard deletes');
    // Replacing with nothing (a deleted order) tombstones the live ones, in its own transaction.
    assert.equal(await store.registerEntitlements(sea('o-1'), 4, []), 0);
    assert.deepEqual(fake.labels(2), ['newer entitlements', 'supersede entitlements']);
    // A newer version registered already: nothing written.
    const newer = new RecordingGateway((label) => (label === 'newer entitlements' ? [{ x: 1 }] : []));
    const store2 = new MssqlOrderSagaStore({ region: 'cn', gateway: newer });
    assert.equal(await store2.registerEntitlements(sea('o-1'), 2, [ent('o-1', 2, 1)]), 0);
    assert.deepEqual(newer.labels(1), ['newer entitlements']);
  });

  it('removeEntitlements returns the server row count; reads map BIGINT strings and dates', async () => {
    const fake = new RecordingGateway((label) => {
      if (label === 'removeEntitlements') return [{ n: 2 }];
      if (label === 'readEntitlements')
        return [
          {
            order_id: 'o-1',
            version: '9007199254740991',
            line_no: '2',
            sku: 'PHONE-X1',
            quantity: '3',
            source_region: 'sea',
            starts_at: new Date(NOW),
            ends_at: new Date('2028-03-01T12:00:00.000Z'),
          },
        ];
      if (label === 'readReceipts')
        return [
          {
            order_id: 'o-1',
            version: '4',
            status: 'applied',
            reason: null,
            hub_version: '4',
            saga_id: 'order-sea-o-1-v4',
            at: new Date(NOW),
          },
        ];
      return [];
    });
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake });
    assert.equal(await store.removeEntitlements(sea('o-1'), 3), 2);
    const remove = fake.byLabel('removeEntitlements')[0];
    assert.match(
      remove?.text ?? '',
      /IF NOT EXISTS \(SELECT 1 FROM \[dbo\]\.\[warranty_entitlement\] AS t WITH \(UPDLOCK, HOLDLOCK\)/,
    );
    assert.match(
      remove?.text ?? '',
      /SET \[is_deleted\] = 0, \[superseded_by\] = NULL/,
      'revives what it replaced',
    );
    assert.doesNotMatch(remove?.text ?? '', /DELETE/, 'tombstones, never a hard delete');
    assert.deepEqual(await store.readEntitlements(sea('o-1')), [
      { ...ent('o-1', Number.MAX_SAFE_INTEGER, 2), quantity: 3 },
    ]);
    assert.deepEqual(await store.readReceipts(sea('o-1')), [
      {
        orderId: 'o-1',
        version: 4,
        status: 'applied',
        reason: null,
        hubVersion: 4,
        sagaId: 'order-sea-o-1-v4',
        at: NOW,
      },
    ]);
  });

  it('writeReceipt: one MERGE WITH (HOLDLOCK) on (origin region, order, version)', async () => {
    const fake = new RecordingGateway();
    const store = new MssqlOrderSagaStore({ region: 'sea', gateway: fake });
    await store.writeReceipt('sea', sampleReceipt({ reason: null, hubVersion: null }));
    assert.equal(fake.statements.length, 1);
    const [m] = fake.statements;
    assert.match(m?.text ?? '', /^MERGE \[dbo\]\.\[order_sync_receipt\] WITH \(HOLDLOCK\) AS t/);
    assert.match(
      m?.text ?? '',
      /ON t\.\[origin_region\] = s\.\[origin_region\] AND t\.\[order_id\] = s\.\[order_id\] AND t\.\[version\] = s\.\[version\]/,
    );
    // reason, hub version and the enqueue time (unknown here) are NULL.
    assert.ok(m?.params.filter((p) => p.value === null).length === 3);
  });

  it('keepSnapshot: a stored snapshot is returned as is, without taking another or writing', async () => {
    const stored: OrderSnapshot = { orderId: 'o-1', aggregate: null };
    const fake = new RecordingGateway((label) => (label === 'readSnapshot' ? [snapshotRow(stored)] : []));
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake });
    let takes = 0;
    const out = await store.keepSnapshot(
      'saga-1',
      async () => {
        takes++;
        return { orderId: 'o-1', aggregate: null };
      },
      NOW,
    );
    assert.deepEqual(out, stored);
    assert.equal(takes, 0);
    assert.deepEqual(fake.labels(), ['readSnapshot']);
  });

  it('keepSnapshot: prunes (bounded, autocommitted), then inserts only if absent and reads back in one transaction; the first writer wins', async () => {
    const theirs: OrderSnapshot = { orderId: 'o-1', aggregate: null };
    const fake = new RecordingGateway((label) =>
      label === 'read kept snapshot' ? [snapshotRow(theirs)] : [],
    );
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake });
    let takes = 0;
    const mine: OrderSnapshot = { orderId: 'o-1-mine', aggregate: null };
    const out = await store.keepSnapshot(
      'saga-1',
      async () => {
        takes++;
        return mine;
      },
      NOW,
      7,
    );
    assert.equal(takes, 1);
    assert.deepEqual(out, theirs, 'a concurrent call that stored first decides what every call returns');
    assert.deepEqual(
      fake.statements.map((s) => [s.tx, s.label]),
      [
        [0, 'readSnapshot'],
        [0, 'prune snapshots'],
        [1, 'insert snapshot'],
        [1, 'read kept snapshot'],
      ],
    );
    const prune = fake.byLabel('prune snapshots')[0];
    assert.match(
      prune?.text ?? '',
      /^DELETE TOP \(@p0\) FROM \[dbo\]\.\[order_saga_snapshot\]\s+WHERE \[saved_at\] < @p1;$/,
    );
    assert.equal(prune?.params[0]?.value, PRUNE_BATCH);
    assert.equal((prune?.params[1]?.value as Date).toISOString(), '2026-02-22T12:00:00.000Z');
    const insert = fake.byLabel('insert snapshot')[0];
    assert.match(
      insert?.text ?? '',
      /WHERE NOT EXISTS \(SELECT 1 FROM \[dbo\]\.\[order_saga_snapshot\] WITH \(UPDLOCK, HOLDLOCK\) WHERE \[saga_id\] = @p0\)/,
    );
    assert.deepEqual(
      insert?.params.map((p) => (p.value instanceof Date ? p.value.toISOString() : p.value)),
      ['saga-1', JSON.stringify(mine), NOW],
    );
  });

  it('a snapshot that is not JSON is a schema error, not a crash', async () => {
    const fake = new RecordingGateway(() => [{ snapshot: '{not json' }]);
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake });
    await assert.rejects(
      store.readSnapshot('s'),
      (e: unknown) => e instanceof SyncError && e.code === 'schema',
    );
  });

  it('close closes the gateway once; afterwards nothing is sent', async () => {
    const fake = new RecordingGateway();
    const store = new MssqlOrderSagaStore({ region: 'cn', gateway: fake });
    await store.close();
    await store.close();
    assert.equal(fake.closed, 1);
    const closed = (e: unknown) => e instanceof SyncError && !e.retryable;
    await assert.rejects(store.migrate(), closed);
    await assert.rejects(store.readReceipts(sea('o')), closed);
    await assert.rejects(
      store.keepSnapshot('s', async () => ({ orderId: 'o', aggregate: null }), NOW),
      closed,
    );
    assert.deepEqual(fake.statements, []);
  });
});
