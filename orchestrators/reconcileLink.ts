/**
 * reconcileLink: the full compare of one link (ARCHITECTURE §5.5). Per table, compareLink sums
 * both sides per key-hash range (counts + checksums, no rows in history); each differing range is
 * then diffed row by row and repaired through the same guarded upsert as a normal page, a few
 * ranges at a time.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import type { RepairCounts, TypedTask } from '../activities/contracts';
import { activities, callActivity, startActivity } from '../activities/contracts';
import type { ReconcileLinkInput, ReconcileLinkOutput } from './contracts.js';

export function* reconcileLink(
  context: OrchestrationContext,
  input: ReconcileLinkInput,
): Generator<Task, ReconcileLinkOutput, unknown> {
  let out: ReconcileLinkOutput = {
    sourceRows: 0,
    targetRows: 0,
    matched: 0,
    missing: 0,
    extra: 0,
    differing: 0,
    repaired: 0,
    refused: 0,
  };
  for (const table of input.tables) {
    const compared = yield* callActivity(context, activities.compareLink, {
      link: input.link,
      table,
      ranges: input.ranges,
    });
    out = {
      ...out,
      sourceRows: out.sourceRows + compared.sourceRows,
      targetRows: out.targetRows + compared.targetRows,
    };
    // Rows of ranges that compare equal match without being looked at.
    let matchedInDiffering = 0;
    const ranges = [...compared.differing];
    while (ranges.length > 0) {
      const batch = ranges.splice(0, Math.max(1, input.repairConcurrency));
      const tasks: TypedTask<RepairCounts>[] = batch.map((range) =>
        startActivity(context, activities.repairRange, {
          link: input.link,
          table,
          range,
          runId: input.runId,
          dryRun: input.dryRun,
        }),
      );
      yield context.df.Task.all(tasks.map((t) => t.task));
      for (const t of tasks) {
        const r = t.result();
        matchedInDiffering += r.matched;
        out = {
          ...out,
          missing: out.missing + r.missing,
          extra: out.extra + r.extra,
          differing: out.differing + r.differing,
          repaired: out.repaired + r.repaired,
          refused: out.refused + r.refused,
        };
      }
    }
    // Equal ranges: every target row of the link in them matches its source row.
    out = { ...out, matched: out.matched + compared.matchedRows + matchedInDiffering };
  }
  return out;
}
