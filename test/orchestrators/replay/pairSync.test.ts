/**
 * pairSync replayed by the real durable-functions library over constructed histories: the page
 * walk, its hand-back and continue-as-new, and every branch of a page (dry run, staged page lost,
 * page refused, activity faults).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExtractPageOutput } from '../../../activities/contracts';
import { activities } from '../../../activities/contracts';
import type { LinkProgress, PairSyncInput } from '../../../orchestrators/contracts';
import { emptyProgress, orchestrators } from '../../../orchestrators/contracts';
import { pairSync } from '../../../orchestrators/pairSync';
import { TELEMETRY_EVENT } from '../../../sync/telemetry';
import { OrchestrationReplay } from '../../support/orchestrationReplay';
import { LINK, applied, begun, page } from './batchFixtures';

function input(over: Partial<PairSyncInput> = {}): PairSyncInput {
  return {
    runId: 'pricing-1.20261204T030000.000Z',
    tables: ['price_list', 'promotion'],
    mode: 'incremental',
    dryRun: false,
    pageSize: 2,
    maxPages: 8,
    pagesPerGeneration: 4,
    pagesThisCall: 0,
    progress: emptyProgress(LINK),
    ...over,
  };
}

const start = (over: Partial<PairSyncInput> = {}) =>
  OrchestrationReplay.start(orchestrators.pairSync, pairSync, input(over), { instanceId: 'run~cn>sea~w1' });

/**
 * Answers beginLink (when asked), the pending extract and then the pending apply. Pages overlap:
 * the extract answered is the page after the one whose apply is answered (except the first).
 */
async function walkPage(h: OrchestrationReplay, extracted: ExtractPageOutput): Promise<void> {
  if (h.pendingOf(activities.beginLink).length > 0) await h.complete(h.only(activities.beginLink), begun());
  await h.complete(h.only(activities.extractPage), extracted);
  if (h.pendingOf(activities.applyPage).length > 0)
    await h.complete(h.only(activities.applyPage), applied(2));
}

describe('pairSync (replayed)', () => {
  it('begins a table, walks extract then apply with the cursor moving, and moves to the next table', async () => {
    const h = await start();
    const begin = h.only(activities.beginLink);
    assert.deepEqual(begin.input, { link: LINK, table: 'price_list', backfill: false, runId: input().runId });
    assert.equal(begin.retry?.maxNumberOfAttempts, 5, 'beginLink runs with the sqlRead retry profile');

    await h.complete(begin, begun());
    const first = h.only(activities.extractPage);
    assert.deepEqual(first.input, {
      link: LINK,
      table: 'price_list',
      runId: input().runId,
      page: 0,
      after: null,
      upTo: '900',
      pageSize: 2,
    });
    await h.complete(first, page(1, { hasMore: true }));
    const apply = h.only(activities.applyPage);
    assert.deepEqual(apply.input, {
      link: LINK,
      table: 'price_list',
      checkpointTable: 'price_list',
      runId: input().runId,
      page: 0,
      blob: 'staged/price_list/0',
      nextCursor: { change: '1', key: ['SKU-1'] },
    });
    await h.complete(apply, applied(2));
    const second = h.only(activities.extractPage);
    assert.equal(second.input.page, 1);
    assert.deepEqual(
      second.input.after,
      { change: '1', key: ['SKU-1'] },
      'the next page starts after the cursor',
    );

    // Last page of the table: the walk begins the next table from scratch.
    await h.complete(second, page(2, { hasMore: false }));
    await h.complete(h.only(activities.applyPage), applied(1));
    assert.equal(h.only(activities.beginLink).input.table, 'promotion');
    await walkPage(h, page(3, { hasMore: false }));

    assert.equal(h.status.kind, 'completed');
    const out = (h.status as { output: unknown }).output;
    assert.deepEqual(out, {
      ...emptyProgress(LINK),
      tableIndex: 2,
      position: null,
      page: 0,
      pages: 3,
      rowsRead: 6,
      rowsStaged: 6,
      inserted: 5,
      updated: 0,
      unchanged: 0,
      lostConflicts: 0,
      done: true,
    });
  });

  it('extracts the next page while applying one, and applies in order', async () => {
    const h = await start({ tables: ['price_list'] });
    await h.complete(h.only(activities.beginLink), begun());
    await h.complete(h.only(activities.extractPage), page(1));
    // Page 0 is applied while page 1 is extracted from page 0's cursor.
    const apply0 = h.only(activities.applyPage);
    const extract1 = h.only(activities.extractPage);
    assert.equal(apply0.input.page, 0);
    assert.deepEqual([extract1.input.page, extract1.input.after], [1, { change: '1', key: ['SKU-1'] }]);
    // The extract finishing first starts nothing: page 1 waits for page 0's apply.
    await h.complete(extract1, page(2, { hasMore: false }));
    assert.deepEqual(
      h.pending.map((t) => t.name),
      ['applyPage'],
    );
    await h.complete(apply0, applied(2));
    const apply1 = h.only(activities.applyPage);
    assert.deepEqual([apply1.input.page, apply1.input.blob], [1, 'staged/price_list/1']);
    assert.equal(h.pendingOf(activities.extractPage).length, 0, 'the last page prefetches nothing');
    await h.complete(apply1, applied(2));
    const out = (h.status as { output: { pages: number; inserted: number; done: boolean } }).output;
    assert.deepEqual([out.pages, out.inserted, out.done], [2, 4, true]);
  });

  it('continues as new after pagesPerGeneration pages and hands progress back after maxPages, carrying the page extracted ahead', async () => {
    const h = await start();
    for (let i = 1; i <= 4; i++) await walkPage(h, page(i, { hasMore: true }));
    // Page 4 is being extracted ahead; when it is staged the generation ends.
    await h.complete(h.only(activities.extractPage), page(5, { hasMore: true }));
    assert.equal(h.status.kind, 'continuedAsNew');
    const next = (h.status as { input: PairSyncInput }).input;
    assert.equal(next.pagesThisCall, 4);
    assert.equal(next.progress.pages, 4);
    assert.deepEqual(next.progress.position?.after, { change: '4', key: ['SKU-4'] });
    assert.deepEqual(next.progress.position?.prefetched, page(5, { hasMore: true }));

    // The next generation applies the carried page at once (no beginLink, no second extract of
    // page 4) while it extracts page 5.
    await h.continueAsNew();
    assert.equal(h.pendingOf(activities.beginLink).length, 0);
    assert.deepEqual(h.only(activities.applyPage).input.blob, 'staged/price_list/4');
    assert.equal(h.only(activities.extractPage).input.page, 5);
    await h.complete(h.only(activities.applyPage), applied(2));
    for (let i = 6; i <= 8; i++) await walkPage(h, page(i, { hasMore: true }));
    await h.complete(h.only(activities.extractPage), page(9, { hasMore: true }));
    assert.equal(h.status.kind, 'completed', 'maxPages reached: the call hands back');
    const out = (h.status as { output: LinkProgress }).output;
    assert.equal(out.pages, 8);
    assert.equal(out.done, false);
    assert.equal(out.position?.prefetched?.blob, 'staged/price_list/8', 'the next call applies it');
  });

  it('a dry run extracts and counts but never applies', async () => {
    const h = await start({ dryRun: true, tables: ['price_list'] });
    await h.complete(h.only(activities.beginLink), begun());
    await h.complete(h.only(activities.extractPage), page(1, { hasMore: true }));
    assert.equal(h.pendingOf(activities.applyPage).length, 0);
    await h.complete(h.only(activities.extractPage), page(2, { hasMore: false }));
    const out = (h.status as { output: { pages: number; rowsRead: number; inserted: number; done: boolean } })
      .output;
    assert.deepEqual([out.pages, out.rowsRead, out.inserted, out.done], [2, 4, 0, true]);
  });

  it('drops the page extracted ahead when the page before it must be extracted again', async () => {
    const h = await start({ tables: ['price_list'] });
    await h.complete(h.only(activities.beginLink), begun());
    await h.complete(h.only(activities.extractPage), page(1));
    await h.complete(h.only(activities.extractPage), page(2, { hasMore: false }));
    await h.complete(h.only(activities.applyPage), {
      kind: 'staged-page-missing',
      blob: 'staged/price_list/0',
    });
    const again = h.only(activities.extractPage);
    assert.deepEqual([again.input.page, again.input.after], [0, null]);
    assert.equal(h.pendingOf(activities.applyPage).length, 0);
  });

  it('extracts a page again when its staged blob is gone, from the same cursor', async () => {
    const h = await start({ tables: ['price_list'] });
    await h.complete(h.only(activities.beginLink), begun());
    await h.complete(h.only(activities.extractPage), page(1, { hasMore: false }));
    await h.complete(h.only(activities.applyPage), {
      kind: 'staged-page-missing',
      blob: 'staged/price_list/0',
    });
    const again = h.only(activities.extractPage);
    assert.equal(again.input.page, 0);
    assert.equal(again.input.after, null);
    await h.complete(again, page(1, { hasMore: false }));
    await h.complete(h.only(activities.applyPage), applied(2));
    const out = (h.status as { output: { pages: number; inserted: number; done: boolean } }).output;
    assert.deepEqual([out.pages, out.inserted, out.done], [1, 2, true]);
  });

  it('stops the link at a refused page with the reason, and logs the refusal once', async () => {
    const h = await start({ tables: ['price_list'] });
    await h.complete(h.only(activities.beginLink), begun());
    await h.complete(h.only(activities.extractPage), page(1, { hasMore: true }));
    await h.complete(h.only(activities.applyPage), {
      kind: 'rejected',
      reason: 'residency',
      detail: 'column email may not leave eu',
    });
    // The page extracted ahead is staged, then dropped: nothing after a refused page is applied.
    await h.complete(h.only(activities.extractPage), page(2, { hasMore: true }));
    assert.equal(h.status.kind, 'completed');
    const out = (h.status as { output: LinkProgress }).output;
    assert.equal(out.position?.prefetched, undefined);
    assert.equal(out.lastError, 'page 0 of price_list refused (residency): column email may not leave eu');
    assert.equal(out.rejectedPages, 1);
    assert.equal(out.done, false);
    assert.equal(h.logged(TELEMETRY_EVENT.pageRejected).length, 1, 'a replayed log line was written again');
  });

  it('survives a transient activity fault (retried by its profile) and fails when retries run out', async () => {
    const h = await start({ tables: ['price_list'] });
    await h.complete(h.only(activities.beginLink), begun());
    const extract = h.only(activities.extractPage);
    await h.failAttempt(extract, 'database is locked');
    assert.deepEqual(h.pending, [extract], 'the failed attempt is retried');
    await h.complete(extract, page(1, { hasMore: false }));
    const apply = h.only(activities.applyPage);
    assert.equal(apply.retry?.maxNumberOfAttempts, 6, 'applyPage runs with the sqlWrite retry profile');
    await h.fail(apply, 'disk I/O error');
    assert.equal(h.status.kind, 'failed');
    assert.match(
      (h.status as { error: string }).error,
      /Activity function 'applyPage' failed: disk I\/O error/,
    );
    const attempts = h.history.filter((e) => e.EventType === 4 && e.Name === 'applyPage').length;
    assert.equal(attempts, 6, 'every attempt of the profile was made');
  });
});
