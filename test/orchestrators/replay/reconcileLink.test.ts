/**
 * reconcileLink replayed by the real durable-functions library: compare per table, repair the
 * differing ranges a few at a time, sum what was matched and repaired, fail on a repair fault.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompareLinkOutput, RepairCounts } from '../../../activities/contracts';
import { activities } from '../../../activities/contracts';
import type { ReconcileLinkInput } from '../../../orchestrators/contracts';
import { orchestrators } from '../../../orchestrators/contracts';
import { reconcileLink } from '../../../orchestrators/reconcileLink';
import { OrchestrationReplay } from '../../support/orchestrationReplay';
import { LINK } from './batchFixtures';

const INPUT: ReconcileLinkInput = {
  runId: 'pricing-1.20261204T030000.000Z',
  link: LINK,
  tables: ['price_list', 'promotion'],
  dryRun: false,
  ranges: 64,
  repairConcurrency: 2,
};

const range = (i: number) => ({ lo: i * 100, hi: i * 100 + 99 });

function compared(differing: number, over: Partial<CompareLinkOutput> = {}): CompareLinkOutput {
  return {
    sourceRows: 100,
    targetRows: 98,
    matchedRanges: 64 - differing,
    matchedRows: 90,
    differing: Array.from({ length: differing }, (_, i) => range(i)),
    ...over,
  };
}

const repaired = (over: Partial<RepairCounts> = {}): RepairCounts => ({
  matched: 1,
  missing: 1,
  extra: 0,
  differing: 0,
  repaired: 1,
  refused: 0,
  ...over,
});

describe('reconcileLink (replayed)', () => {
  it('repairs the differing ranges of each table a few at a time and sums the counts', async () => {
    const h = await OrchestrationReplay.start(orchestrators.reconcileLink, reconcileLink, INPUT);
    const compare = h.only(activities.compareLink);
    assert.deepEqual(compare.input, { link: LINK, table: 'price_list', ranges: 64 });

    // Five differing ranges, two at a time: 2 + 2 + 1, each batch after the previous one.
    await h.complete(compare, compared(5));
    const batches: number[][] = [];
    while (h.pendingOf(activities.repairRange).length > 0) {
      const batch = h.pendingOf(activities.repairRange);
      batches.push(batch.map((t) => t.input.range.lo));
      for (const t of batch) {
        assert.equal(t.input.dryRun, false);
        assert.equal(t.input.table, 'price_list');
        await h.complete(t, repaired());
      }
    }
    assert.deepEqual(batches, [[0, 100], [200, 300], [400]]);

    // The second table compares equal: nothing to repair.
    const second = h.only(activities.compareLink);
    assert.equal(second.input.table, 'promotion');
    await h.complete(second, compared(0, { sourceRows: 10, targetRows: 10, matchedRows: 10 }));

    assert.deepEqual(h.status, {
      kind: 'completed',
      output: {
        sourceRows: 110,
        targetRows: 108,
        // 90 rows in equal ranges of the first table, 5 matched inside its differing ones, 10.
        matched: 105,
        missing: 5,
        extra: 0,
        differing: 0,
        repaired: 5,
        refused: 0,
      },
    });
  });

  it('passes a dry run to every repair', async () => {
    const h = await OrchestrationReplay.start(orchestrators.reconcileLink, reconcileLink, {
      ...INPUT,
      tables: ['price_list'],
      dryRun: true,
    });
    await h.complete(h.only(activities.compareLink), compared(1));
    const repair = h.only(activities.repairRange);
    assert.equal(repair.input.dryRun, true);
    await h.complete(repair, repaired({ repaired: 0, refused: 0 }));
    assert.equal(h.status.kind, 'completed');
  });

  it('fails when a repair still fails after its retries', async () => {
    const h = await OrchestrationReplay.start(orchestrators.reconcileLink, reconcileLink, INPUT);
    await h.complete(h.only(activities.compareLink), compared(2));
    const [a, b] = h.pendingOf(activities.repairRange);
    assert.ok(a !== undefined && b !== undefined);
    await h.complete(a, repaired());
    await h.fail(b, 'target unreachable');
    assert.equal(h.status.kind, 'failed');
    assert.match((h.status as { error: string }).error, /repairRange' failed: target unreachable/);
  });
});
