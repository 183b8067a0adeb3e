/**
 * Sub-orchestration contracts and the progress records the batch-sync orchestrators pass around.
 * Pure data and a typed helper over callSubOrchestrator, like activities/contracts.ts.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import type {
  ExtractPageOutput,
  LinkResult,
  RepairCounts,
  SyncMode,
  SyncReport,
  TimeWindow,
} from '../activities/contracts';
import type { ChangeCursor, LinkId } from '../sync/model.js';
import type { FlowSyncInput } from './flowSync.js';

export interface OrchestratorContract<I, O> {
  readonly name: string;
  readonly _in?: I;
  readonly _out?: O;
}

/** Where a link's walk stands inside one table. */
export interface TablePosition {
  readonly after: ChangeCursor | null;
  readonly upTo: string;
  readonly checkpointTable: string;
  /**
   * The page after `after`, already extracted and staged while the previous page was applied
   * (pairSync overlaps the two); the next call applies it instead of extracting it again.
   */
  readonly prefetched?: ExtractPageOutput;
}

/** A link's progress in one run; pairSync returns it updated, flowSync keeps it. */
export interface LinkProgress extends Omit<LinkResult, 'reconcile'> {
  /** Index into the flow's tables of the table being walked. */
  readonly tableIndex: number;
  /** Null before the table's beginLink. */
  readonly position: TablePosition | null;
  /** Page number within the current table (staging names). */
  readonly page: number;
}

export interface PairSyncInput {
  readonly runId: string;
  readonly tables: readonly string[];
  readonly mode: SyncMode;
  readonly window?: TimeWindow;
  readonly dryRun: boolean;
  readonly pageSize: number;
  /** Pages this call walks at most before handing back to flowSync (progress granularity). */
  readonly maxPages: number;
  /** continue-as-new after this many pages in one generation (history stays small). */
  readonly pagesPerGeneration: number;
  /** Pages walked by earlier generations of this call. */
  readonly pagesThisCall: number;
  readonly progress: LinkProgress;
}

export interface ReconcileLinkInput {
  readonly runId: string;
  readonly link: LinkId;
  readonly tables: readonly string[];
  readonly dryRun: boolean;
  /** Key-hash ranges compared per table. */
  readonly ranges: number;
  /** Differing ranges repaired at once. */
  readonly repairConcurrency: number;
}

export type ReconcileLinkOutput = RepairCounts & { readonly sourceRows: number; readonly targetRows: number };

export const orchestrators = {
  /** Undefined when it continued as new. */
  flowSync: { name: 'flowSync' } as OrchestratorContract<FlowSyncInput, SyncReport | undefined>,
  pairSync: { name: 'pairSync' } as OrchestratorContract<PairSyncInput, LinkProgress>,
  reconcileLink: { name: 'reconcileLink' } as OrchestratorContract<ReconcileLinkInput, ReconcileLinkOutput>,
} as const;

export interface TypedSubTask<O> {
  readonly task: Task;
  result(): O;
}

export function startSubOrchestration<I, O>(
  context: OrchestrationContext,
  orchestrator: OrchestratorContract<I, O>,
  input: I,
  instanceId: string,
): TypedSubTask<O> {
  const task = context.df.callSubOrchestrator(orchestrator.name, input, instanceId);
  return { task, result: () => task.result as O };
}

/** A link as `cn>sea`, used in instance ids, status and reports. */
export function linkKey(link: LinkId): string {
  return `${link.source}>${link.target}`;
}

export function emptyProgress(link: LinkId): LinkProgress {
  return {
    link,
    tableIndex: 0,
    position: null,
    page: 0,
    pages: 0,
    rowsRead: 0,
    rowsStaged: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    lostConflicts: 0,
    rejectedPages: 0,
    done: false,
    lastError: null,
  };
}
