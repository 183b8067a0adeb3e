/**
 * Batch sync end to end: the app on devhost with the embedded-default topology seeded small,
 * driven over HTTP (POST, poll statusQueryGetUri), checked in the regional SQLite files.
 * The tests build on each other's data, in order.
 */
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { storageConnection } from '../support/localApp';
import type { SyncApp } from './support/batchHarness';
import { startSyncApp } from './support/batchHarness';
import {
  SPOKES,
  assertOrdersConverged,
  assertPricingConverged,
  assertPromotionsConverged,
} from './support/expectations';

interface Report {
  runId: string;
  links: {
    link: { source: string; target: string };
    rowsRead: number;
    inserted: number;
    updated: number;
    lastError: string | null;
    reconcile: {
      matched: number;
      missing: number;
      extra: number;
      differing: number;
      repaired: number;
      refused: number;
    } | null;
  }[];
  totals: { matched: number; repaired: number; refused: number; rowsWritten: number };
  reportBlob: string | null;
}

const changeSeqs = (app: SyncApp, region: string, table: string) =>
  new Map([...app.rows(region, table)].map(([k, r]) => [k, r.change_seq]));

const key = (...parts: unknown[]) => JSON.stringify(parts);

describe('batch sync on devhost', () => {
  let app: SyncApp;
  before(async () => {
    app = await startSyncApp();
  });
  after(async () => {
    await app?.close();
  });

  it('answers a malformed request with one 400 listing every problem, an unknown flow with 404', async () => {
    const bad = await app.post('pricing', {
      mode: 'sometimes',
      from: 'yesterday',
      to: 5,
      regions: ['sea', 'mars'],
      dryRun: 'yes',
      colour: 'blue',
    });
    assert.equal(bad.status, 400);
    const problems = bad.json.problems as { path: string; message: string }[];
    const paths = problems.map((p) => p.path).sort();
    for (const p of ['mode', 'from', 'to', 'regions.1', 'dryRun', '(body)'])
      assert.ok(paths.includes(p), `no problem reported at ${p}: ${JSON.stringify(problems)}`);
    assert.match(JSON.stringify(problems), /colour/);
    assert.match(JSON.stringify(problems), /mars/);

    const inverted = await app.post('pricing', {
      mode: 'full',
      from: '2026-02-01T00:00:00Z',
      to: '2026-01-01T00:00:00Z',
    });
    assert.equal(inverted.status, 400);
    assert.deepEqual(
      (inverted.json.problems as { path: string }[]).map((p) => p.path),
      ['to'],
    );

    const notJson = await app.post('pricing', '{"mode":');
    assert.equal(notJson.status, 400);

    const unknown = await app.post('inventory', { mode: 'full' });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json.flows, ['pricing', 'promotions', 'orders']);
  });

  it('makes every target match its source under each flow policy, and reports per-link status', async () => {
    for (const flow of ['pricing', 'promotions', 'orders']) {
      const status = await app.run(flow, { mode: 'incremental' });
      assert.equal(status.runtimeStatus, 'Completed', JSON.stringify(status.output));
      const report = status.output as Report;
      assert.ok(report.links.length > 0);
      for (const l of report.links) assert.equal(l.lastError, null);
    }
    assertPricingConverged(app);
    assertPromotionsConverged(app);
    assertOrdersConverged(app);

    const res = await fetch(`${app.host.origin}/api/sync/pricing/status`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      links: {
        source: string;
        target: string;
        tables: { checkpoint: unknown; lagChanges: number }[];
        lastRun: { rowsMoved: number; lastError: null } | null;
      }[];
    };
    assert.equal(body.links.length, 6);
    for (const l of body.links) {
      assert.notEqual(l.tables[0]?.checkpoint, null, `${l.source}>${l.target} has no checkpoint`);
      assert.ok(l.lastRun !== null);
      assert.equal(l.lastRun.lastError, null);
    }
    const cnToSea = body.links.find((l) => l.source === 'cn' && l.target === 'sea');
    assert.ok((cnToSea?.lastRun?.rowsMoved ?? 0) > 0);
    assert.equal(cnToSea?.tables[0]?.lagChanges, 0);
  });

  it('never lets EU customer PII reach another region, not even in the database files', () => {
    const eu = [...app.rows('eu', 'sales_order').values()];
    const secrets = eu.flatMap((o) =>
      [o.customer_name, o.customer_email, o.customer_phone, o.shipping_address, o.customer_id].map(String),
    );
    assert.ok(secrets.length > 0);
    for (const region of ['cn', 'sea', 'latam']) {
      const file = (app.config.stores[region] as { file: string }).file;
      const bytes = Buffer.concat(
        [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)),
      );
      for (const s of new Set(secrets))
        assert.equal(bytes.includes(Buffer.from(s)), false, `'${s}' found in ${region}'s database`);
    }
  });

  it('carries an edit made in a spoke to the hub and the other spokes, and never echoes it back', async () => {
    const k = key('SKU-000002', 'USD');
    app
      .db('sea')
      .prepare(
        "UPDATE price_list SET list_price = 99.5, modified_at = ?, origin_region = 'sea' WHERE sku = 'SKU-000002' AND currency = 'USD'",
      )
      .run('2026-05-01T08:00:00.000Z');
    const seaSeq = app.rows('sea', 'price_list').get(k)?.change_seq;
    const status = await app.run('pricing', { mode: 'incremental' });
    assert.equal(status.runtimeStatus, 'Completed');
    for (const region of ['cn', 'eu', 'latam']) {
      const row = app.rows(region, 'price_list').get(k);
      assert.equal(row?.list_price, 99.5, `${region} did not get the edit`);
      assert.equal(row?.origin_region, 'sea');
      assert.equal(row?.modified_at, '2026-05-01T08:00:00.000Z');
    }
    assert.equal(app.rows('sea', 'price_list').get(k)?.change_seq, seaSeq, 'the edit came back to sea');
    const report = status.output as Report;
    const back = report.links.find((l) => l.link.source === 'cn' && l.link.target === 'sea');
    assert.equal((back?.inserted ?? 0) + (back?.updated ?? 0), 0, 'cn wrote into sea');
    assertPricingConverged(app);
  });

  it('ends conflicting edits in two regions with the same policy-chosen value everywhere', async () => {
    const edit = (region: string, sku: string, price: number, at: string) =>
      app
        .db(region)
        .prepare(
          "UPDATE price_list SET list_price = ?, modified_at = ?, origin_region = ? WHERE sku = ? AND currency = 'EUR'",
        )
        .run(price, at, region, sku);
    // Last writer wins: eu wrote later.
    edit('sea', 'SKU-000003', 111, '2026-06-01T10:00:00.000Z');
    edit('eu', 'SKU-000003', 222, '2026-06-01T10:00:05.000Z');
    // Same millisecond: the higher-priority region (sea 30 > latam 10) wins.
    edit('latam', 'SKU-000004', 333, '2026-06-02T00:00:00.000Z');
    edit('sea', 'SKU-000004', 444, '2026-06-02T00:00:00.000Z');
    const status = await app.run('pricing', { mode: 'incremental' });
    assert.equal(status.runtimeStatus, 'Completed');
    for (const region of ['cn', ...SPOKES]) {
      const rows = app.rows(region, 'price_list');
      assert.equal(rows.get(key('SKU-000003', 'EUR'))?.list_price, 222, `${region} SKU-000003`);
      assert.equal(rows.get(key('SKU-000003', 'EUR'))?.origin_region, 'eu');
      assert.equal(rows.get(key('SKU-000004', 'EUR'))?.list_price, 444, `${region} SKU-000004`);
    }
    assertPricingConverged(app);
  });

  it('registers a nightly and a monthly timer per flow from the topology, starting the same runs as HTTP', async () => {
    const fns = (await (await fetch(`${app.host.origin}/admin/functions`)).json()) as {
      name: string;
      trigger: string;
      bindings: { schedule?: string }[];
    }[];
    for (const flow of app.config.topology.flows) {
      const nightly = fns.find((f) => f.name === `syncNightly_${flow.name}`);
      const monthly = fns.find((f) => f.name === `syncMonthly_${flow.name}`);
      assert.equal(nightly?.bindings[0]?.schedule, flow.schedule.incremental);
      assert.equal(monthly?.bindings[0]?.schedule, flow.schedule.fullCompare);
    }
    // The timer's run has the id an HTTP incremental request of the flow has; the earlier run of
    // that id (the test above) is replaced by a new one with a new run id.
    const uri = `${app.host.origin}/runtime/webhooks/durabletask/instances/promotions-incremental`;
    const runIdOf = async () =>
      ((await (await fetch(uri)).json()) as { customStatus: { runId: string } }).customStatus.runId;
    const previous = await runIdOf();
    app
      .db('cn')
      .prepare(
        "UPDATE promotion SET discount_pct = 42, modified_at = '2026-07-01T00:00:00.000Z' WHERE region_scope = 'global'",
      )
      .run();
    const fired = await fetch(`${app.host.origin}/admin/functions/syncNightly_promotions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"input": null}',
    });
    assert.equal(fired.status, 202);
    const deadline = Date.now() + 30_000;
    while ((await runIdOf()) === previous) {
      assert.ok(
        Date.now() < deadline,
        `the timer started no run:\n${app.host
          .output()
          .split('\n')
          .filter((l) => /syncNightly_promotions|promotions-incremental/.test(l))
          .join('\n')}`,
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    const status = await app.waitForRun(uri);
    assert.equal(status.runtimeStatus, 'Completed');
    for (const spoke of SPOKES)
      assert.ok(
        [...app.rows(spoke, 'promotion').values()].some(
          (r) => r.region_scope === 'global' && r.discount_pct === 42,
        ),
        `${spoke}`,
      );
    assertPromotionsConverged(app);
  });

  it('counts what would cross in a dry run and writes nothing', async () => {
    app
      .db('latam')
      .prepare(
        "UPDATE price_list SET list_price = 7.77, modified_at = '2026-08-01T00:00:00.000Z' WHERE sku = 'LATAM-LOCAL-0001'",
      )
      .run();
    const before = ['cn', 'sea', 'eu'].map((r) => [r, changeSeqs(app, r, 'price_list')] as const);
    const status = await app.run('pricing', { mode: 'incremental', dryRun: true });
    assert.equal(status.runtimeStatus, 'Completed');
    assert.equal(status.instanceId, 'pricing-incremental-dryrun');
    const report = status.output as Report & { links: { rowsStaged: number }[] };
    const latamToCn = report.links.find((l) => l.link.source === 'latam');
    assert.equal((latamToCn as { rowsStaged?: number } | undefined)?.rowsStaged, 1);
    assert.equal(report.totals.rowsWritten, 0);
    for (const [region, seqs] of before)
      assert.deepEqual(changeSeqs(app, region, 'price_list'), seqs, `${region} was written`);
    // The real run then carries it.
    assert.equal((await app.run('pricing', { mode: 'incremental' })).runtimeStatus, 'Completed');
    assert.equal(app.rows('eu', 'price_list').get(key('LATAM-LOCAL-0001', 'USD'))?.list_price, 7.77);
  });

  it('touches only rows inside a backfill window', async () => {
    // Two hub prices lost in sea: one modified inside the window, one outside it.
    const inside = key('SKU-000003', 'BRL'); // hub row 15: modified base + 15 s
    const outside = key('SKU-000007', 'BRL'); // hub row 31: modified base + 31 s
    app
      .db('sea')
      .prepare("DELETE FROM price_list WHERE sku IN ('SKU-000003', 'SKU-000007') AND currency = 'BRL'")
      .run();
    const seaBefore = changeSeqs(app, 'sea', 'price_list');
    const others = ['cn', 'eu', 'latam'].map((r) => [r, changeSeqs(app, r, 'price_list')] as const);

    const status = await app.run('pricing', {
      mode: 'incremental',
      from: '2026-01-01T00:00:10Z',
      to: '2026-01-01T00:00:20Z',
      regions: ['sea'],
    });
    assert.equal(status.runtimeStatus, 'Completed', JSON.stringify(status.output));
    const sea = app.rows('sea', 'price_list');
    assert.equal(sea.get(inside)?.modified_at, '2026-01-01T00:00:15.000Z');
    assert.equal(sea.has(outside), false, 'a row outside the window was written');
    for (const [k, seq] of seaBefore) assert.equal(sea.get(k)?.change_seq, seq, `sea row ${k} was rewritten`);
    for (const [region, before] of others)
      assert.deepEqual(changeSeqs(app, region, 'price_list'), before, `${region} changed`);
    const report = status.output as Report;
    assert.deepEqual(report.links.map((l) => `${l.link.source}>${l.link.target}`).sort(), [
      'cn>sea',
      'sea>cn',
    ]);
    const cnToSea = report.links.find((l) => l.link.source === 'cn');
    assert.equal(cnToSea?.inserted, 1);
    assert.equal(cnToSea?.updated, 0);
  });

  it('answers a second identical POST with the running instance instead of starting another run', async () => {
    // A one-row-page backfill of everything runs long enough to be caught running, and walks
    // many pages, so pairSync continues as new and progress moves while it runs.
    const body = { mode: 'incremental', from: '2000-01-01T00:00:00Z', pageSize: 1, regions: ['eu'] };
    const first = await app.post('pricing', body);
    const second = await app.post('pricing', body);
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.equal(first.headers.get('x-region-sync-run'), 'started');
    assert.equal(second.headers.get('x-region-sync-run'), 'already-running');
    assert.equal(second.json.id, first.json.id);
    assert.equal(second.json.statusQueryGetUri, first.json.statusQueryGetUri);

    const seen = new Set<number>();
    const uri = String(first.json.statusQueryGetUri);
    for (;;) {
      const s = (await (await fetch(uri)).json()) as {
        runtimeStatus: string;
        customStatus: { pages?: number } | null;
      };
      if (s.customStatus?.pages !== undefined) seen.add(s.customStatus.pages);
      if (s.runtimeStatus !== 'Running' && s.runtimeStatus !== 'Pending') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const final = await app.waitForRun(uri);
    assert.equal(final.runtimeStatus, 'Completed');
    assert.ok(seen.size >= 3, `progress moved only through ${[...seen].join(', ')}`);
    const report = final.output as Report;
    assert.ok(
      report.links.every((l) => l.rowsRead > 8),
      'expected many one-row pages per link',
    );
    const runs = app
      .db('eu')
      .prepare("SELECT DISTINCT run_id FROM sync_audit WHERE run_id LIKE ? || '.%'")
      .all(String(first.json.id));
    assert.equal(runs.length, 1, `runs: ${JSON.stringify(runs)}`);
  });

  it('repairs drift in a full compare and returns the reconciliation report stored in blob', async () => {
    const sea = app.db('sea');
    sea.prepare("DELETE FROM price_list WHERE sku = 'SKU-000010' AND currency = 'CNY'").run(); // missing
    sea
      .prepare(
        "INSERT INTO price_list (sku, currency, list_price, min_qty, price_book, valid_from, valid_to, modified_at, origin_region, is_deleted) VALUES ('SKU-GHOST', 'CNY', 1, 1, 'global', '2026-01-01', '2026-12-31', '2026-01-01T00:00:00.000Z', 'cn', 0)",
      )
      .run(); // extra
    // Differing, older than the hub's version: repaired. Differing and newer: the policy keeps it.
    sea
      .prepare(
        "UPDATE price_list SET list_price = 1, modified_at = '2025-01-01T00:00:00.000Z' WHERE sku = 'SKU-000011' AND currency = 'CNY'",
      )
      .run();
    sea
      .prepare(
        "UPDATE price_list SET list_price = 2, modified_at = '2030-01-01T00:00:00.000Z' WHERE sku = 'SKU-000012' AND currency = 'CNY'",
      )
      .run();

    const status = await app.run('pricing', { mode: 'full', regions: ['sea'] });
    assert.equal(status.runtimeStatus, 'Completed', JSON.stringify(status.output));
    const report = status.output as Report;
    const link = report.links.find((l) => l.link.source === 'cn' && l.link.target === 'sea');
    const r = link?.reconcile;
    // Missing: SKU-000010 CNY, and SKU-000007 BRL which the windowed backfill left alone.
    assert.deepEqual(
      {
        missing: r?.missing,
        extra: r?.extra,
        differing: r?.differing,
        repaired: r?.repaired,
        refused: r?.refused,
      },
      { missing: 2, extra: 1, differing: 2, repaired: 4, refused: 1 },
    );
    const sourceRows = (r as { sourceRows?: number } | null | undefined)?.sourceRows ?? 0;
    assert.equal(r?.matched, sourceRows - 4, 'every other row the hub sends to sea matched');
    assert.equal(report.totals.refused, 1);

    const rows = app.rows('sea', 'price_list');
    const hub = app.rows('cn', 'price_list');
    assert.equal(
      rows.get(key('SKU-000010', 'CNY'))?.list_price,
      hub.get(key('SKU-000010', 'CNY'))?.list_price,
    );
    assert.equal(
      rows.get(key('SKU-000011', 'CNY'))?.list_price,
      hub.get(key('SKU-000011', 'CNY'))?.list_price,
    );
    assert.equal(rows.get(key('SKU-000012', 'CNY'))?.list_price, 2);
    assert.equal(rows.get(key('SKU-GHOST', 'CNY'))?.is_deleted, 1);

    assert.ok(report.reportBlob !== null);
    const blob = BlobServiceClient.fromConnectionString(await storageConnection(app.host.origin))
      .getContainerClient('sync-staging')
      .getBlobClient(report.reportBlob);
    const stored = JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as Report;
    assert.equal(stored.runId, report.runId);
    assert.deepEqual(stored.totals, report.totals);

    // A second full compare finds nothing left to repair but the refused row.
    const again = (await app.run('pricing', { mode: 'full', regions: ['sea'] })).output as Report;
    const l2 = again.links.find((l) => l.link.source === 'cn' && l.link.target === 'sea');
    assert.equal(l2?.reconcile?.repaired, 0);
    assert.equal(l2?.reconcile?.refused, 1);
  });
});
