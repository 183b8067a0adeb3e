/**
 * The batch-sync activities over real ports: SQLite region files seeded with the demo data and
 * blob staging in an in-process Azurite.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InvocationContext } from '@azure/functions';
import { createApplyPage } from '../../activities/applyPage';
import { createBeginLink } from '../../activities/beginLink';
import type { ExtractPageOutput } from '../../activities/contracts';
import { registerActivities } from '../../activities/index';
import { createExtractPage } from '../../activities/extractPage';
import { createPlanFlow } from '../../activities/planFlow';
import { createCompareLink, createRepairRange } from '../../activities/reconcile';
import type { SyncRuntime } from '../../activities/runtime';
import type { SqliteRegionStore } from '../../adapters/sqliteRegionStore';
import { createTelemetry } from '../../adapters/telemetry';
import { loadTelemetrySettings } from '../../config/telemetrySettings';
import type { SeededRuntime } from '../support/localApp';
import { startSeededRuntime } from '../support/localApp';
import { captureRegistrations, registeredFunction } from '../support/registrations';

const SEED = {
  hubPrices: 40,
  spokePrices: 5,
  promotions: 8,
  ordersPerSpoke: 4,
  base: '2026-01-01T00:00:00.000Z',
};

describe('batch-sync activities', () => {
  let seeded: SeededRuntime;
  let runtime: SyncRuntime;
  before(async () => {
    seeded = await startSeededRuntime('batch-activities-', SEED);
    runtime = seeded.runtime;
  });
  after(async () => {
    await seeded?.close();
  });

  const db = async (region: string) => ((await runtime.store(region)) as SqliteRegionStore).database;

  it('plans inbound links before outbound ones and refuses an unknown flow as a value', async () => {
    const plan = createPlanFlow(runtime);
    const p = await plan({ flow: 'pricing', regions: ['eu'] });
    assert.equal(p.kind, 'planned');
    if (p.kind !== 'planned') return;
    assert.deepEqual(
      [...p.inbound, ...p.outbound].map((l) => `${l.source}>${l.target}`),
      ['eu>cn', 'cn>eu'],
    );
    assert.deepEqual(await plan({ flow: 'stock' }), { kind: 'unknown-flow', flow: 'stock' });
  });

  it('extracts only what may cross a link: EU identity dropped or pseudonymized in the staged blob', async () => {
    const link = { flow: 'orders', source: 'eu', target: 'cn' };
    const begun = await createBeginLink(runtime)({ link, table: 'sales_order', backfill: false });
    assert.equal(begun.after, null);
    const out = await createExtractPage(runtime)({
      link,
      table: 'sales_order',
      runId: 'act-1',
      page: 0,
      after: null,
      upTo: begun.upTo,
      pageSize: 100,
    });
    assert.equal(out.read, SEED.ordersPerSpoke);
    assert.equal(out.rows, SEED.ordersPerSpoke);
    assert.equal(out.hasMore, false);
    assert.ok(out.blob !== null);
    const staged = await runtime.staging.readPage(out.blob);
    for (const r of staged) {
      assert.equal('customer_name' in r.values, false);
      assert.equal('shipping_address' in r.values, false);
      assert.match(String(r.values.customer_email), /^p1:[0-9a-f]{64}$/);
    }
  });

  it('holds rows back toward their origin and outside a window, and stages nothing when nothing crosses', async () => {
    const extract = createExtractPage(runtime);
    const hub = await db('cn');
    // The hub already holds a sea-originated price: it must not go back to sea.
    hub
      .prepare(
        "INSERT INTO price_list (sku, currency, list_price, min_qty, price_book, valid_from, valid_to, modified_at, origin_region) VALUES ('SEA-X', 'USD', 1, 1, 'local-sea', '2026-01-01', '2026-12-31', '2026-03-01T00:00:00.000Z', 'sea')",
      )
      .run();
    const link = { flow: 'pricing', source: 'cn', target: 'sea' };
    const { upTo } = await createBeginLink(runtime)({ link, table: 'price_list', backfill: false });
    const all = await extract({
      link,
      table: 'price_list',
      runId: 'act-2',
      page: 0,
      after: null,
      upTo,
      pageSize: 1000,
    });
    assert.equal(all.read, SEED.hubPrices + 1);
    assert.equal(all.rows, SEED.hubPrices);
    const windowed = await extract({
      link,
      table: 'price_list',
      runId: 'act-2w',
      page: 0,
      after: null,
      upTo,
      pageSize: 1000,
      window: { from: '2026-01-01T00:00:10.000Z', to: '2026-01-01T00:00:15.000Z' },
    });
    assert.equal(windowed.rows, 5);
    const none = await extract({
      link,
      table: 'price_list',
      runId: 'act-2n',
      page: 0,
      after: null,
      upTo,
      pageSize: 1000,
      window: { from: '2030-01-01T00:00:00.000Z' },
    });
    assert.deepEqual({ blob: none.blob, rows: none.rows }, { blob: null, rows: 0 });
  });

  it('applies a page once: the second apply changes nothing, and the checkpoint is stored with the rows', async () => {
    const link = { flow: 'promotions', source: 'cn', target: 'latam' };
    const { upTo } = await createBeginLink(runtime)({ link, table: 'promotion', backfill: false });
    const out: ExtractPageOutput = await createExtractPage(runtime)({
      link,
      table: 'promotion',
      runId: 'act-3',
      page: 0,
      after: null,
      upTo,
      pageSize: 100,
    });
    assert.ok(out.nextCursor !== null);
    // global + latam scope: 2 of every 4 seeded promotions.
    assert.equal(out.rows, SEED.promotions / 2);
    const apply = createApplyPage(runtime);
    const input = {
      link,
      table: 'promotion',
      checkpointTable: 'promotion',
      runId: 'act-3',
      page: 0,
      blob: out.blob,
      nextCursor: out.nextCursor,
    };
    const first = await apply(input);
    // The newest change of the page comes back for the sync lag metric.
    assert.ok(first.kind === 'applied' && /^\d{4}-\d\d-\d\dT/.test(first.newestModifiedAt ?? ''));
    assert.deepEqual(
      { ...first, newestModifiedAt: undefined },
      {
        newestModifiedAt: undefined,
        kind: 'applied',
        inserted: out.rows,
        updated: 0,
        unchanged: 0,
        lostConflicts: 0,
      },
    );
    const seq = (await db('latam')).prepare('SELECT max(change_seq) AS m FROM promotion').get();
    const again = await apply(input);
    assert.deepEqual(
      { ...again, newestModifiedAt: undefined },
      {
        newestModifiedAt: undefined,
        kind: 'applied',
        inserted: 0,
        updated: 0,
        unchanged: out.rows,
        lostConflicts: 0,
      },
    );
    assert.deepEqual((await db('latam')).prepare('SELECT max(change_seq) AS m FROM promotion').get(), seq);
    const resumed = await createBeginLink(runtime)({ link, table: 'promotion', backfill: false });
    assert.deepEqual(resumed.after, out.nextCursor);
  });

  it('answers a staged page that storage lost with a value, so the page is extracted again', async () => {
    const apply = createApplyPage(runtime);
    const link = { flow: 'pricing', source: 'cn', target: 'eu' };
    const result = await apply({
      link,
      table: 'price_list',
      checkpointTable: 'price_list',
      runId: 'act-4',
      page: 0,
      blob: 'pricing/act-4/cn-eu/price_list/000000.jsonl.gz',
      nextCursor: { change: '1', key: ['SKU-000000', 'CNY'] },
    });
    assert.equal(result.kind, 'staged-page-missing');
    assert.equal(await (await runtime.store('eu')).getCheckpoint(link, 'price_list'), null);
  });

  it('compares a link by key ranges and repairs missing, extra and differing rows under the policy', async () => {
    const link = { flow: 'promotions', source: 'cn', target: 'sea' };
    const compare = createCompareLink(runtime);
    const repair = createRepairRange(runtime);
    const empty = await compare({ link, table: 'promotion', ranges: 8 });
    assert.equal(empty.targetRows, 0);
    assert.ok(empty.differing.length > 0);
    let repaired = 0;
    for (const range of empty.differing)
      repaired += (await repair({ link, table: 'promotion', range, runId: 'act-5', dryRun: false })).repaired;
    assert.equal(repaired, empty.sourceRows);
    const clean = await compare({ link, table: 'promotion', ranges: 8 });
    assert.deepEqual(clean.differing, []);
    assert.equal(clean.matchedRows, clean.sourceRows);

    // A promotion re-scoped away from sea is extra there now: tombstoned, one ms after its version.
    const hub = await db('cn');
    const moved = hub
      .prepare("SELECT promotion_id FROM promotion WHERE region_scope = 'sea' LIMIT 1")
      .get() as { promotion_id: string };
    hub
      .prepare(
        "UPDATE promotion SET region_scope = 'eu', modified_at = '2026-04-01T00:00:00.000Z' WHERE promotion_id = ?",
      )
      .run(moved.promotion_id);
    const drift = await compare({ link, table: 'promotion', ranges: 8 });
    assert.equal(drift.differing.length, 1);
    const dry = await repair({
      link,
      table: 'promotion',
      range: drift.differing[0]!,
      runId: 'act-6',
      dryRun: true,
    });
    assert.deepEqual({ extra: dry.extra, repaired: dry.repaired }, { extra: 1, repaired: 0 });
    const fixed = await repair({
      link,
      table: 'promotion',
      range: drift.differing[0]!,
      runId: 'act-6',
      dryRun: false,
    });
    assert.deepEqual(
      { extra: fixed.extra, repaired: fixed.repaired, refused: fixed.refused },
      { extra: 1, repaired: 1, refused: 0 },
    );
    const row = (await db('sea'))
      .prepare('SELECT is_deleted, modified_at FROM promotion WHERE promotion_id = ?')
      .get(moved.promotion_id) as { is_deleted: number; modified_at: string };
    assert.equal(row.is_deleted, 1);
    assert.equal(
      row.modified_at,
      '2026-01-01T00:00:' + String(Number(moved.promotion_id.slice(-4))).padStart(2, '0') + '.001Z',
    );
  });

  it('registered activities parse their input at the boundary: a bad one fails with every problem', async () => {
    const telemetry = createTelemetry(loadTelemetrySettings({ REGION_SYNC_ZONE: 'cn' }));
    const registry = captureRegistrations(() => registerActivities(runtime, telemetry));
    const lines: string[] = [];
    const invoke = (name: string, input: unknown) =>
      registeredFunction(registry, name).callback(
        input,
        new InvocationContext({
          functionName: name,
          logHandler: (_level, ...args) => lines.push(args.join(' ')),
        }),
      );

    const bad = {
      link: { flow: 'pricing', source: 'cn' },
      table: 'price_list',
      runId: 'act-bad',
      page: -1,
      after: null,
      upTo: '12a',
      pageSize: 0,
    };
    await assert.rejects(Promise.resolve(invoke('extractPage', bad)), (e: Error) => {
      assert.match(e.message, /^activity extractPage refused its input \(4 problems\): /);
      for (const path of ['link.target', 'page', 'upTo', 'pageSize'])
        assert.ok(e.message.includes(`${path}: `), path);
      assert.ok(!e.message.includes('\n'), 'durable keeps only the first line of a failure');
      return true;
    });
    const failed = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.event === 'activityFailed');
    assert.equal(failed?.activity, 'extractPage');
    assert.equal(failed?.flowRunId, 'act-bad');
    assert.match(String(failed?.error), /refused its input/);

    // A valid input reaches the handler.
    const plan = (await invoke('planFlow', { flow: 'pricing', regions: ['eu'] })) as { kind: string };
    assert.equal(plan.kind, 'planned');
  });
});
