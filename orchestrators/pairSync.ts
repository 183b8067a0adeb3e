/**
 * pairSync: walks one link (source -> target) in keyset pages, extractPage then applyPage, table
 * after table, for at most `maxPages` pages per call, and hands the updated progress back to
 * flowSync (which calls again until the link is done, so the run's progress moves as pages
 * complete). Every `pagesPerGeneration` pages it continues as new, so its history stays small.
 *
 * While page n is applied, page n+1 is already extracted (the two run side by side on different
 * threads or instances): extracting only reads the source and stages a blob, and page n+1 starts
 * after page n's cursor whatever the apply does. Applies stay strictly one after another, in
 * order. A prefetched page not yet applied travels in the progress (`position.prefetched`), so a
 * hand-back or continue-as-new never extracts it twice; a page refused or lost drops it.
 *
 * The cursor lives in the orchestration input; the target stores the same cursor in the same
 * transaction as each page, so a crash anywhere resumes from the last completed page and a page
 * applied twice changes nothing.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import type { ApplyPageOutput, ExtractPageOutput } from '../activities/contracts';
import { activities, callActivity, startActivity } from '../activities/contracts';
import type { LinkProgress, PairSyncInput, TablePosition } from './contracts.js';
import { replaySafeLog } from './replaySafeLog.js';
import { TELEMETRY_EVENT, linkLabel } from '../sync/telemetry.js';

export function* pairSync(
  context: OrchestrationContext,
  input: PairSyncInput,
): Generator<Task, LinkProgress, unknown> {
  let progress = input.progress;
  let walked = 0;
  const backfill = input.window !== undefined;
  const log = replaySafeLog(context, {
    flowRunId: input.runId,
    flow: progress.link.flow,
    link: linkLabel(progress.link),
  });
  const extractInput = (table: string, page: number, position: TablePosition) => ({
    link: progress.link,
    table,
    runId: input.runId,
    page,
    after: position.after,
    upTo: position.upTo,
    pageSize: input.pageSize,
    ...(input.window === undefined ? {} : { window: input.window }),
  });

  while (!progress.done && input.pagesThisCall + walked < input.maxPages) {
    if (walked >= input.pagesPerGeneration) {
      context.df.continueAsNew({ ...input, pagesThisCall: input.pagesThisCall + walked, progress });
      return progress;
    }
    const table = input.tables[progress.tableIndex];
    if (table === undefined) {
      progress = { ...progress, done: true };
      break;
    }
    let position = progress.position;
    if (position === null) {
      const begun = yield* callActivity(context, activities.beginLink, {
        link: progress.link,
        table,
        backfill,
        runId: input.runId,
      });
      position = { after: begun.after, upTo: begun.upTo, checkpointTable: begun.checkpointTable };
      progress = { ...progress, position, page: 0 };
    }

    const extracted =
      position.prefetched ??
      (yield* callActivity(context, activities.extractPage, extractInput(table, progress.page, position)));
    const { prefetched: _, ...here } = position;
    position = here;
    walked++;

    // A dry run stages and counts what would cross the link, and writes nothing to the target.
    const apply =
      extracted.nextCursor !== null && extracted.read > 0 && !input.dryRun
        ? startActivity(context, activities.applyPage, {
            link: progress.link,
            table,
            checkpointTable: position.checkpointTable,
            runId: input.runId,
            page: progress.page,
            blob: extracted.blob,
            nextCursor: extracted.nextCursor,
          })
        : null;
    // The next page of the same table, extracted while this one is applied.
    const next =
      apply !== null && extracted.hasMore
        ? startActivity(
            context,
            activities.extractPage,
            extractInput(table, progress.page + 1, { ...position, after: extracted.nextCursor }),
          )
        : null;
    if (apply !== null) yield next === null ? apply.task : context.df.Task.all([apply.task, next.task]);
    const prefetched: ExtractPageOutput | undefined = next?.result();

    const applied: ApplyPageOutput | null = apply?.result() ?? null;
    if (applied?.kind === 'staged-page-missing') {
      // Storage lost the staged page (e.g. a crash before it was persisted): extract it again, and
      // the page after it too (it follows the page's cursor as extracted again).
      progress = { ...progress, position };
      continue;
    }
    if (applied?.kind === 'rejected') {
      // Refused by the residency guard: nothing was written and the cursor cannot move past it.
      log.warn(TELEMETRY_EVENT.pageRejected, {
        table,
        page: progress.page,
        reason: applied.reason,
        detail: applied.detail,
      });
      return {
        ...progress,
        position,
        pages: progress.pages + 1,
        rejectedPages: progress.rejectedPages + 1,
        lastError: `page ${progress.page} of ${table} refused (${applied.reason}): ${applied.detail}`,
      };
    }
    if (applied !== null) {
      progress = {
        ...progress,
        inserted: progress.inserted + applied.inserted,
        updated: progress.updated + applied.updated,
        unchanged: progress.unchanged + applied.unchanged,
        lostConflicts: progress.lostConflicts + applied.lostConflicts,
      };
    }
    progress = {
      ...progress,
      pages: progress.pages + 1,
      rowsRead: progress.rowsRead + extracted.read,
      rowsStaged: progress.rowsStaged + extracted.rows,
      page: progress.page + 1,
      position: {
        ...position,
        after: extracted.nextCursor,
        ...(prefetched === undefined ? {} : { prefetched }),
      },
    };
    if (!extracted.hasMore) {
      const nextTable = progress.tableIndex + 1;
      progress = {
        ...progress,
        tableIndex: nextTable,
        position: null,
        page: 0,
        done: nextTable >= input.tables.length,
      };
    }
  }
  return progress;
}
