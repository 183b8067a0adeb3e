/**
 * The operations dashboard in a real browser: headless Chromium (Debian's `chromium` package)
 * driven by playwright-core, against the app on devhost. A sync runs and orders flow, then the
 * page's numbers are checked against the regional databases, a run is started from its form, a
 * dead letter is corrected and replayed from its button, and screenshots are saved
 * (dist/screenshots/; the README's come from there). Skips, saying why, where no Chromium exists.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import type { AppConfig } from '../../config/loadConfig';
import { loadConfig } from '../../config/loadConfig';
import { seedDemo } from '../../scripts/demoSeed';
import { orderHistory } from '../../scripts/orderGenerator';
import type { Browser, Page } from '../support/browser';
import { browserSkipReason, launchChromium } from '../support/browser';
import type { Devhost } from '../support/devhost';
import { startDevhost } from '../support/devhost';
import { localAppEnv } from '../support/localApp';
import { APP_DIR, SMALL_SEED } from './support/batchHarness';
import { messageOf, seedHubCatalog } from './support/orderHarness';

export const SCREENSHOTS = path.join(APP_DIR, 'dist', 'screenshots');

const T0 = Date.parse('2026-03-01T08:00:00.000Z');

describe('operations dashboard in headless Chromium', { skip: browserSkipReason() ?? false }, () => {
  let root: string;
  let config: AppConfig;
  let host: Devhost;
  let browser: Browser;
  let page: Page;
  const dbs = new Map<string, BetterSqlite3.Database>();
  const db = (region: string) => {
    let d = dbs.get(region);
    if (d === undefined) {
      const store = config.stores[region];
      if (store?.kind !== 'sqlite') throw new Error(`no sqlite store for ${region}`);
      d = new BetterSqlite3(store.file, { readonly: true });
      dbs.set(region, d);
    }
    return d;
  };
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${host.origin}/api/${route}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    if (res.status >= 500 || (text === '' && res.status !== 202))
      throw new Error(`${method} ${route} answered ${res.status} '${text}'\n${host.output().slice(-3000)}`);
    return { status: res.status, json: (text === '' ? null : JSON.parse(text)) as Record<string, unknown> };
  };
  const until = async <T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 60_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await read();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const text = (selector: string) => page.locator(selector).first().innerText();

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'region-sync-dashboard-'));
    const env = await localAppEnv(root);
    config = loadConfig(env, { cwd: root });
    await seedDemo(config, SMALL_SEED);
    await seedHubCatalog(config);
    host = await startDevhost({ appDir: APP_DIR, dataDir: ':memory:', env, readyTimeoutMs: 60_000 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    for (const d of dbs.values()) d.close();
    await host?.stop();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it('shows each link caught up with the rows its last run moved, as the databases say', async () => {
    const started = await api('POST', 'sync/pricing', { mode: 'incremental' });
    assert.equal(started.status, 202);
    await until(
      'the pricing run',
      () => api('GET', 'sync/pricing/runs'),
      (r) => r.status === 200 && (r.json.runs as { status: string }[])[0]?.status === 'completed',
    );
    await page.goto(`${host.origin}/api/dashboard`);
    const row = page.locator('[data-flow="pricing"] tr[data-link="cn>sea"]');
    await row.waitFor();
    await page
      .locator('[data-flow="pricing"] tr[data-link="cn>sea"] td[data-testid="rows-moved"]', {
        hasText: /\d/,
      })
      .waitFor();
    // Every row of sea that did not originate in sea came over the cn>sea link in this one run.
    const arrived = (
      db('sea').prepare("SELECT count(*) AS n FROM price_list WHERE origin_region <> 'sea'").get() as {
        n: number;
      }
    ).n;
    assert.ok(arrived > 0);
    assert.equal(
      await row.locator('td[data-testid="rows-moved"]').innerText(),
      arrived.toLocaleString('en-US'),
    );
    // Caught up: no change of the hub above the checkpoint stored in sea, and the page says 0.
    const hwm = (db('cn').prepare('SELECT max(change_seq) AS m FROM price_list').get() as { m: number }).m;
    const cp = db('sea')
      .prepare(
        "SELECT cursor_change AS c FROM sync_checkpoint WHERE flow = 'pricing' AND source = 'cn' AND target = 'sea' AND table_name = 'price_list'",
      )
      .get() as { c: string } | undefined;
    assert.equal(cp?.c, String(hwm));
    assert.equal(await row.locator('td[data-testid="lag-changes"]').innerText(), '0');
    assert.equal(await row.locator('td[data-testid="lag-seconds"]').innerText(), '0 s');
  });

  it('starts a run from the form, lists every problem of a bad one, and drills into its history', async () => {
    const form = page.locator('[data-testid="start-form"]');
    await form.locator('select[name="flow"]').selectOption('promotions');
    await form.locator('input[name="from"]').fill('yesterday');
    await form.locator('input[name="to"]').fill('2026-01-01T00:00:00Z');
    await form.locator('input[name="pageSize"]').fill('0');
    await form.locator('button[type="submit"]').click();
    const problems = page.locator('[data-testid="start-problems"] li');
    await problems.first().waitFor();
    const api400 = await api('POST', 'sync/promotions', {
      mode: 'incremental',
      from: 'yesterday',
      to: '2026-01-01T00:00:00Z',
      pageSize: 0,
    });
    assert.equal(api400.status, 400);
    assert.equal(await problems.count(), (api400.json.problems as unknown[]).length);
    assert.ok((await problems.count()) >= 2);

    await form.locator('input[name="from"]').fill('');
    await form.locator('input[name="to"]').fill('');
    await form.locator('input[name="pageSize"]').fill('');
    await form.locator('select[name="mode"]').selectOption('full');
    await form.locator('button[type="submit"]').click();
    await page.locator('[data-testid="start-ok"]').waitFor();
    // The history switches to the flow; the run completes there, recorded as started from the page.
    const first = page.locator('#runs tbody tr', { hasText: 'dashboard' }).first();
    await first.locator('.status.completed').waitFor({ timeout: 60_000 });
    assert.match(await first.innerText(), /dashboard\s+full/);
    const runs = (await api('GET', 'sync/promotions/runs')).json.runs as {
      runId: string;
      trigger: string;
    }[];
    assert.equal(runs[0]?.trigger, 'dashboard');
    assert.equal(await page.locator('#runs tbody tr').count(), runs.length);
    await first.click();
    await page.locator('[data-testid="report"]').waitFor();
    const report = JSON.parse(await text('[data-testid="report"]')) as { totals: { matched: number } };
    const rows = (db('cn').prepare('SELECT count(*) AS n FROM promotion').get() as { n: number }).n;
    assert.ok(
      report.totals.matched >= rows,
      `${report.totals.matched} matched, ${rows} promotions in the hub`,
    );
    // promotions go hub -> spokes: one row per link of the run.
    assert.equal(await page.locator('[data-testid="run-links"] tbody tr').count(), 3);
    await page.locator('#history').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-history.png') });
    await page.locator('#batch').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-batch.png') });
  });

  it('shows orders flowing: applied counts, latency and in-flight figures from the receipts', async () => {
    const events = [1, 2, 3, 4, 5, 6].flatMap((i) =>
      orderHistory(['sea', 'eu', 'latam'][i % 3] as string, `web-${i}`, 2, { seed: i, start: T0 }),
    );
    const res = await fetch(`${host.origin}/admin/servicebus/entities/order-events/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events.map(messageOf)),
    });
    assert.equal(res.status, 201);
    // A region's receipt table exists once its first receipt is written.
    const receipts = (region: string, status: string) => {
      const exists = db(region)
        .prepare("SELECT 1 FROM sqlite_master WHERE name = 'order_sync_receipt'")
        .get();
      if (exists === undefined) return 0;
      const row = db(region)
        .prepare('SELECT count(*) AS n FROM order_sync_receipt WHERE status = ?')
        .get(status);
      return (row as { n: number }).n;
    };
    const applied = () => ['sea', 'eu', 'latam'].reduce((n, r) => n + receipts(r, 'applied'), 0);
    await until(
      'orders applied',
      async () => applied(),
      (n) => n >= 6,
    );
    await until(
      'no event in flight',
      () => api('GET', 'dashboard/data/orders'),
      (r) => (r.json.inFlight as { ingests: number }).ingests === 0,
    );
    // Events may still wait in the queue: compare the page with the databases once both settle.
    await until(
      'the page to show the applied receipts of the databases',
      async () => [String(applied()), await text('[data-testid="tile-applied"] b')],
      ([inDb, shown]) => inDb === shown && Number(inDb) >= 6,
      30_000,
    );
    const p50 = await text('[data-testid="tile-p50"] b');
    assert.match(p50, /^\d+(\.\d)? m?s$/);
    assert.equal((await page.locator('#latency-plot svg circle').count()) > 0, true);
    assert.equal(await text('[data-testid="tile-inflight"] b'), '0');
    await page.locator('#orders').screenshot({ path: path.join(SCREENSHOTS, 'dashboard-orders.png') });
  });

  it('replays a corrected dead letter from its button, and the order reaches the hub', async () => {
    const [v1] = orderHistory('eu', 'dl-9', 1, { seed: 9, start: T0 });
    const broken = { ...v1, version: 'one' };
    const res = await fetch(`${host.origin}/admin/servicebus/entities/order-events/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ body: broken, messageId: 'eu:dl-9:1', sessionId: 'eu:dl-9' }]),
    });
    assert.equal(res.status, 201);
    const row = page.locator('#dead tbody tr', { hasText: 'eu:dl-9:1' });
    await row.waitFor({ timeout: 30_000 });
    assert.match(await row.innerText(), /schema/);
    await row.locator('button', { hasText: 'message' }).click();
    const area = page.locator('[data-testid="dead-body"]');
    await area.waitFor();
    assert.deepEqual(JSON.parse(await area.inputValue()), broken);
    await area.fill(JSON.stringify(v1, null, 2));
    await page
      .locator('#deadletters')
      .screenshot({ path: path.join(SCREENSHOTS, 'dashboard-deadletters.png') });
    await page.locator('[data-testid="replay-edited"]').click();
    await page.locator('[data-testid="replay-result"] .ok').waitFor();
    assert.match(await text('[data-testid="replay-result"]'), /accepted as eu\/dl-9 v1/);
    await until(
      'dl-9 in the hub',
      async () =>
        db('cn')
          .prepare("SELECT version FROM sales_order WHERE order_id = 'dl-9' AND origin_region = 'eu'")
          .get() as { version: number } | undefined,
      (r) => r?.version === 1,
    );
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
  });

  it('devhost: the Durable instance browser lists, filters and pages instances, shows a history as a timeline, and purges', async () => {
    await page.goto(`${host.origin}/runtime/webhooks/durabletask/ui`);
    await page.locator('input[name="status"][value="Completed"]').check();
    await page.locator('#prefix').fill('pricing-');
    await page.locator('#top').fill('1');
    await page.locator('#filters button[type="submit"]').click();
    // The unfiltered first listing may already show the instance: wait for the filtered one.
    await page.locator('#rows[data-query*="instanceIdPrefix=pricing-"][data-query*="top=1"]').waitFor();
    const row = page.locator('#rows tr[data-id="pricing-incremental"]');
    await row.waitFor();
    assert.equal(await page.locator('#rows tr').count(), 1);
    // Paging: the run's pairSync sub-orchestrations share the prefix (their ids start with the run id).
    assert.equal(await page.locator('#next').isDisabled(), false);
    await page.locator('#next').click();
    await page.locator('#page', { hasText: 'page 2' }).waitFor();
    assert.match(
      (await page.locator('#rows tr').first().getAttribute('data-id')) ?? '',
      /^pricing-incremental\..*~/,
    );
    await page.locator('#prev').click();
    await row.click();
    await page.locator('#detail svg rect.bar').first().waitFor();
    const bars = await page.locator('#detail svg rect.bar').count();
    const status = (await (
      await fetch(
        `${host.origin}/runtime/webhooks/durabletask/instances/pricing-incremental?showHistory=true`,
      )
    ).json()) as { historyEvents: unknown[] };
    assert.equal(bars, status.historyEvents.length);
    await page.locator('#detail').screenshot({ path: path.join(SCREENSHOTS, 'devhost-instances.png') });
    await page.locator('button[data-op="purge"]').click();
    await page.locator('#result', { hasText: 'purge: HTTP 200' }).waitFor();
    const gone = await fetch(`${host.origin}/runtime/webhooks/durabletask/instances/pricing-incremental`);
    assert.equal(gone.status, 404);
  });
});
