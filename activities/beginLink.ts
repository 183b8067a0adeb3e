import type { BeginLinkInput, BeginLinkOutput } from './contracts.js';
import type { SyncRuntime } from './runtime.js';
import { flowOf, mappingOf } from './runtime.js';

/** Suffix of the checkpoint row a backfill keeps, so it never moves the link's own checkpoint. */
export const BACKFILL_CHECKPOINT_SUFFIX = ':backfill';

/**
 * Starts walking one table of a link: takes the source's high-water mark now (the run ends there
 * even while the source keeps changing) and reads where the last run stopped.
 */
export function createBeginLink(deps: Pick<SyncRuntime, 'topology' | 'store'>) {
  return async function beginLink(input: BeginLinkInput): Promise<BeginLinkOutput> {
    const flow = flowOf(deps.topology, input.link.flow);
    const source = await deps.store(input.link.source);
    const upTo = await source.highWaterMark(mappingOf(flow, input.table, input.link.source));
    if (input.backfill) {
      return { after: null, upTo, checkpointTable: input.table + BACKFILL_CHECKPOINT_SUFFIX };
    }
    const target = await deps.store(input.link.target);
    const checkpoint = await target.getCheckpoint(input.link, input.table);
    return { after: checkpoint?.cursor ?? null, upTo, checkpointTable: input.table };
  };
}
