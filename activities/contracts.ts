/**
 * Typed activity contracts (STYLE §3): the name, input and output of every batch-sync activity,
 * and a helper over callActivityWithRetry so orchestrators hold no string literals and no `any`.
 *
 * Orchestrators import this module and pure sync/ code only. Outputs are small JSON values: pages
 * travel through blob staging, never through durable history.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import type { ChangeCursor, KeyRange, LinkId } from '../sync/model.js';
import type { RunRecord } from '../sync/runHistory.js';
import type { RetryProfileName } from './retryProfiles.js';
import { retryOptions } from './retryProfiles.js';

/** A name bound to its input and output types and its retry profile. */
export interface ActivityContract<I, O> {
  readonly name: string;
  readonly retry: RetryProfileName;
  /** Phantom fields: carry the types only. */
  readonly _in?: I;
  readonly _out?: O;
}

/** The input and output types a contract carries. */
export type InputOf<C> = C extends ActivityContract<infer I, unknown> ? I : never;
export type OutputOf<C> = C extends ActivityContract<unknown, infer O> ? O : never;

function contract<I, O>(name: string, retry: RetryProfileName): ActivityContract<I, O> {
  return Object.freeze({ name, retry });
}

export type SyncMode = 'incremental' | 'full';

/** A modified_at window of a backfill: `from` inclusive, `to` exclusive, ISO-8601 UTC. */
export interface TimeWindow {
  readonly from?: string;
  readonly to?: string;
}

/** What a run was asked to do (HTTP body or timer), validated by the trigger. */
export interface RunRequest {
  readonly flow: string;
  readonly mode: SyncMode;
  readonly window?: TimeWindow;
  /** Only links touching one of these regions (the hub is always one end). */
  readonly regions?: readonly string[];
  readonly dryRun: boolean;
  /** Overrides the flow's page size for this run. */
  readonly pageSize?: number;
  /** Who asked: `http`, `timer`, `cli`. */
  readonly trigger: string;
}

// ---- planFlow ---------------------------------------------------------------------------------

export interface PlanFlowInput {
  readonly flow: string;
  readonly regions?: readonly string[];
}

export type PlanFlowOutput =
  | {
      readonly kind: 'planned';
      /** Links into the hub (spokes -> hub), run first so one run also forwards what they bring. */
      readonly inbound: readonly LinkId[];
      /** Links out of the hub. */
      readonly outbound: readonly LinkId[];
      readonly tables: readonly string[];
      readonly pageSize: number;
      readonly concurrencyPerTarget: number;
    }
  | { readonly kind: 'unknown-flow'; readonly flow: string };

// ---- beginLink ----------------------------------------------------------------------------------

export interface BeginLinkInput {
  readonly link: LinkId;
  readonly table: string;
  /** Backfills start from the beginning and keep their own checkpoint row. */
  readonly backfill: boolean;
  /** The run (telemetry correlation only). */
  readonly runId?: string;
}

export interface BeginLinkOutput {
  /** Where to resume: the link's checkpoint (incremental) or null. */
  readonly after: ChangeCursor | null;
  /** High-water mark of the source taken now: the run stops there. */
  readonly upTo: string;
  /** Name under which applyPage stores the checkpoint. */
  readonly checkpointTable: string;
}

// ---- extractPage ---------------------------------------------------------------------------

export interface ExtractPageInput {
  readonly link: LinkId;
  readonly table: string;
  readonly runId: string;
  readonly page: number;
  readonly after: ChangeCursor | null;
  readonly upTo: string;
  readonly pageSize: number;
  readonly window?: TimeWindow;
}

export interface ExtractPageOutput {
  /** Staged blob, or null when no row of the page crosses the link. */
  readonly blob: string | null;
  /** Rows staged. */
  readonly rows: number;
  /** Rows read from the source (staged or held back). */
  readonly read: number;
  readonly nextCursor: ChangeCursor | null;
  readonly hasMore: boolean;
}

// ---- applyPage ----------------------------------------------------------------------------------

export interface ApplyPageInput {
  readonly link: LinkId;
  readonly table: string;
  readonly checkpointTable: string;
  readonly runId: string;
  readonly page: number;
  readonly blob: string | null;
  readonly nextCursor: ChangeCursor;
}

export type ApplyPageOutput =
  | {
      readonly kind: 'applied';
      readonly inserted: number;
      readonly updated: number;
      readonly unchanged: number;
      readonly lostConflicts: number;
      /** The newest modified_at among the page's rows (absent for a page without rows). */
      readonly newestModifiedAt?: string;
    }
  | { readonly kind: 'rejected'; readonly reason: string; readonly detail: string }
  /** The staged blob is gone (e.g. storage lost it in a crash): extract the page again. */
  | { readonly kind: 'staged-page-missing'; readonly blob: string };

// ---- reconciliation -----------------------------------------------------------------------------

export interface CompareLinkInput {
  readonly link: LinkId;
  readonly table: string;
  /** Number of key-hash ranges to summarise. */
  readonly ranges: number;
}

export interface CompareLinkOutput {
  /** Rows the source sends over the link (after loop prevention and residency). */
  readonly sourceRows: number;
  /** Rows of the target that belong to the link. */
  readonly targetRows: number;
  readonly matchedRanges: number;
  /** Rows in the ranges that compare equal (they match without a row-level look). */
  readonly matchedRows: number;
  readonly differing: readonly KeyRange[];
}

export interface RepairRangeInput {
  readonly link: LinkId;
  readonly table: string;
  readonly range: KeyRange;
  readonly runId: string;
  readonly dryRun: boolean;
}

export interface RepairCounts {
  /** Rows equal on both sides. */
  readonly matched: number;
  readonly missing: number;
  readonly extra: number;
  readonly differing: number;
  /** Rows written by the guarded upsert. */
  readonly repaired: number;
  /** Repairs the conflict or residency policy refused. */
  readonly refused: number;
}

export interface WriteReportInput {
  readonly flow: string;
  readonly runId: string;
  readonly report: SyncReport;
}

export interface WriteReportOutput {
  readonly blob: string;
}

// ---- recordRun ---------------------------------------------------------------------------------

/** A run's record, written when it starts and again when it ends (sync/runHistory.ts). */
export interface RecordRunInput {
  readonly record: RunRecord;
}

export interface RecordRunOutput {
  /** Records older than the retention deleted on the way (at a run's start only). */
  readonly pruned: number;
}

// ---- run results (the orchestration output) -----------------------------------------------------

export interface LinkResult {
  readonly link: LinkId;
  readonly pages: number;
  readonly rowsRead: number;
  readonly rowsStaged: number;
  readonly inserted: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly lostConflicts: number;
  readonly rejectedPages: number;
  readonly done: boolean;
  readonly lastError: string | null;
  /** Full compare only. */
  readonly reconcile: (RepairCounts & { readonly sourceRows: number; readonly targetRows: number }) | null;
}

export interface SyncReport {
  readonly runId: string;
  readonly instanceId: string;
  readonly request: RunRequest;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly links: readonly LinkResult[];
  readonly totals: {
    readonly pages: number;
    readonly rowsRead: number;
    readonly rowsWritten: number;
    readonly matched: number;
    readonly repaired: number;
    readonly refused: number;
  };
  /** Blob holding this report (full compare), or null. */
  readonly reportBlob: string | null;
}

// ---- the contracts -----------------------------------------------------------------------------

export const activities = {
  planFlow: contract<PlanFlowInput, PlanFlowOutput>('planFlow', 'planning'),
  beginLink: contract<BeginLinkInput, BeginLinkOutput>('beginLink', 'sqlRead'),
  extractPage: contract<ExtractPageInput, ExtractPageOutput>('extractPage', 'sqlRead'),
  applyPage: contract<ApplyPageInput, ApplyPageOutput>('applyPage', 'sqlWrite'),
  compareLink: contract<CompareLinkInput, CompareLinkOutput>('compareLink', 'sqlRead'),
  repairRange: contract<RepairRangeInput, RepairCounts>('repairRange', 'sqlWrite'),
  writeReport: contract<WriteReportInput, WriteReportOutput>('writeReport', 'blobIo'),
  recordRun: contract<RecordRunInput, RecordRunOutput>('recordRun', 'blobIo'),
} as const;

/** A scheduled activity whose result is read back typed once it completes. */
export interface TypedTask<O> {
  readonly task: Task;
  result(): O;
}

/** Schedules an activity with its contract's retry profile (for fan-out with Task.any/all). */
export function startActivity<I, O>(
  context: OrchestrationContext,
  activity: ActivityContract<I, O>,
  input: I,
): TypedTask<O> {
  const task = context.df.callActivityWithRetry(activity.name, retryOptions(activity.retry), input);
  return { task, result: () => task.result as O };
}

/** Calls one activity and returns its typed output: `const out = yield* callActivity(ctx, a, in)`. */
export function* callActivity<I, O>(
  context: OrchestrationContext,
  activity: ActivityContract<I, O>,
  input: I,
): Generator<Task, O, unknown> {
  return (yield startActivity(context, activity, input).task) as O;
}
