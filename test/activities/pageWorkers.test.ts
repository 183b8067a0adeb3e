/**
 * Page work on worker threads: the batch activities that read, encode, decode and write whole
 * pages run on the runtime's page workers, so the thread that serves HTTP and Service Bus (and,
 * on devhost, the Durable backend) stays free while large pages move; and a page applied on a
 * worker decides and writes exactly what the calling thread would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { createApplyPage } from '../../activities/applyPage';
import { createBeginLink } from '../../activities/beginLink';
import type { ApplyPageOutput } from '../../activities/contracts';
import { createExtractPage } from '../../activities/extractPage';
import { createPlanFlow } from '../../activities/planFlow';
import type { SyncRuntime } from '../../activities/runtime';
import { createRuntime } from '../../activities/runtime';
import type { LinkId } from '../../sync/model';
import type { SeededRuntime } from '../support/localApp';
import { startSeededRuntime } from '../support/localApp';

const HUB_PRICES = 40_000;
const PAGE = 20_000;

/** Walks one link's price_list in pages through the runtime's extractPage and applyPage. */
async function syncLink(runtime: SyncRuntime, link: LinkId, runId: string): Promise<ApplyPageOutput[]> {
  const extract = createExtractPage(runtime);
  const apply = createApplyPage(runtime);
  const begun = await createBeginLink(runtime)({ link, table: 'price_list', backfill: false });
  let after = begun.after;
  const results: ApplyPageOutput[] = [];
  for (let page = 0; ; page++) {
    const out = await extract({
      link,
      table: 'price_list',
      runId,
      page,
      after,
      upTo: begun.upTo,
      pageSize: PAGE,
    });
    if (out.nextCursor === null || out.read === 0) break;
    results.push(
      await apply({
        link,
        table: 'price_list',
        checkpointTable: begun.checkpointTable,
        runId,
        page,
        blob: out.blob,
        nextCursor: out.nextCursor,
      }),
    );
    after = out.nextCursor;
    if (!out.hasMore) break;
  }
  return results;
}

/** The longest the event loop went without running a timer while `work` ran, and how long it ran. */
async function loopStall<T>(
  work: () => Promise<T>,
): Promise<{ result: T; maxGapMs: number; elapsedMs: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 2);
  const t0 = performance.now();
  try {
    const result = await work();
    return {
      result,
      maxGapMs: Math.max(maxGapMs, performance.now() - last),
      elapsedMs: performance.now() - t0,
    };
  } finally {
    clearInterval(ticker);
  }
}

describe('page work on worker threads', () => {
  let seeded: SeededRuntime;
  before(async () => {
    seeded = await startSeededRuntime('page-workers-', {
      hubPrices: HUB_PRICES,
      spokePrices: 0,
      promotions: 0,
      ordersPerSpoke: 0,
      base: '2026-01-01T00:00:00.000Z',
    });
  });
  after(async () => {
    await seeded?.close();
  });

  const dump = (region: string) => {
    const db = new BetterSqlite3((seeded.config.stores[region] as { file: string }).file, { readonly: true });
    try {
      return {
        rows: db
          .prepare(
            'SELECT sku, currency, list_price, min_qty, price_book, valid_from, valid_to, modified_at, origin_region, is_deleted, change_seq FROM price_list ORDER BY sku, currency',
          )
          .raw()
          .all(),
        checkpoint: db.prepare('SELECT cursor_change, cursor_key, run_id FROM sync_checkpoint').raw().all(),
        audit: db.prepare('SELECT run_id, table_name, rows, written FROM sync_audit ORDER BY id').raw().all(),
      };
    } finally {
      db.close();
    }
  };

  it('large pages are extracted and applied off the calling thread: its event loop keeps running', async () => {
    const runtime = seeded.runtime;
    assert.ok(runtime.pageWorkers !== null, 'a runtime over database files has page workers');
    const jobsBefore = runtime.pageWorkers.jobsRun;
    const { result, maxGapMs, elapsedMs } = await loopStall(() =>
      syncLink(runtime, { flow: 'pricing', source: 'cn', target: 'sea' }, 'stall-1'),
    );
    assert.equal(result.length, HUB_PRICES / PAGE);
    assert.equal(
      runtime.pageWorkers.jobsRun - jobsBefore,
      2 * result.length + 1, // every extract (one more: the empty page after the last) and apply
      'every page activity ran on a page worker',
    );
    // On the calling thread each page of 20,000 rows blocks the loop for most of its extract or
    // apply (measured: the longest stall was 28% of the walk); on a worker the loop only waits for
    // small messages and blob I/O (measured: 1%). A generous bound between the two, not a timing.
    assert.ok(
      maxGapMs < elapsedMs / 10,
      `event loop stalled ${maxGapMs.toFixed(0)} ms in ${elapsedMs.toFixed(0)} ms of page work`,
    );
  });

  it('planning a run starts the page workers before its first page, and they serve its jobs', async () => {
    const runtime = createRuntime(seeded.config, { pageWorkers: 2 });
    try {
      const workers = runtime.pageWorkers;
      assert.ok(workers !== null);
      assert.equal(workers.threads, 0, 'an idle app starts no threads');
      const plan = await createPlanFlow(runtime)({ flow: 'pricing' });
      assert.equal(plan.kind, 'planned');
      assert.equal(workers.threads, 2, 'both workers start while the run fans out');
      // The link of the first test (caught up by now, unless this test runs alone): the other
      // spokes stay fresh for the tests after this one.
      const pages = await syncLink(runtime, { flow: 'pricing', source: 'cn', target: 'sea' }, 'warm-1');
      assert.equal(workers.threads, 2, 'the warmed workers took the jobs: none replaced, none added');
      assert.equal(workers.jobsRun, 2 * pages.length + 1);
    } finally {
      await runtime.close();
    }
    assert.equal(runtime.pageWorkers?.threads, 0, 'closed with the runtime');
  });

  it('a page applied on a worker decides and writes what the calling thread writes', async () => {
    const inline = createRuntime(seeded.config, { pageWorkers: 0 });
    try {
      assert.equal(inline.pageWorkers, null);
      const onWorker = await syncLink(
        seeded.runtime,
        { flow: 'pricing', source: 'cn', target: 'eu' },
        'same-1',
      );
      const onCaller = await syncLink(inline, { flow: 'pricing', source: 'cn', target: 'latam' }, 'same-1');
      assert.deepEqual(onWorker, onCaller);
      assert.deepEqual(dump('eu'), dump('latam'));
      // A retried page (same run, same page) changes nothing on the worker either.
      const again = await syncLink(seeded.runtime, { flow: 'pricing', source: 'cn', target: 'eu' }, 'same-2');
      assert.ok(
        again.every((r) => r.kind === 'applied' && r.inserted + r.updated === 0),
        JSON.stringify(again),
      );
    } finally {
      await inline.close();
    }
  });

  it('a page that fails on a worker writes nothing, not even its checkpoint, and its error keeps its kind', async () => {
    const file = (seeded.config.stores.sea as { file: string }).file;
    const db = new BetterSqlite3(file);
    const link = { flow: 'pricing', source: 'cn', target: 'sea' };
    try {
      const before = dump('sea');
      db.exec(
        "CREATE TRIGGER no_bad BEFORE UPDATE ON price_list WHEN NEW.sku = 'SKU-000300' BEGIN SELECT RAISE(ABORT, 'constraint failed'); END",
      );
      // Newer hub versions of every price, so the target updates (and reaches the refused row).
      new BetterSqlite3((seeded.config.stores.cn as { file: string }).file)
        .exec("UPDATE price_list SET list_price = list_price + 1, modified_at = '2027-01-01T00:00:00.000Z'")
        .close();
      await assert.rejects(syncLink(seeded.runtime, link, 'fail-1'), (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.equal(e.name, 'SyncError');
        assert.equal((e as { code?: string }).code, 'constraint');
        assert.match(e.message, /applyPage/);
        return true;
      });
      assert.deepEqual(dump('sea'), before, 'nothing of the refused page, not even its checkpoint');
    } finally {
      db.exec('DROP TRIGGER IF EXISTS no_bad');
      db.close();
    }
  });
});
