import { pageOrderProblem } from '../sync/cursor.js';
import { SyncError } from '../sync/errors.js';
import { epochMs } from '../sync/digest.js';
import type { ChangeRow } from '../sync/model.js';
import type { ChangePage } from '../sync/ports.js';
import type { Flow } from '../sync/topology.js';
import { prepareOutbound } from '../sync/outbound.js';
import type { ExtractPageInput, ExtractPageOutput, TimeWindow } from './contracts.js';
import type { SyncRuntime } from './runtime.js';
import { flowOf, mappingOf } from './runtime.js';

/** True when the row's modified_at falls in [from, to). */
export function inWindow(row: ChangeRow, window: TimeWindow | undefined): boolean {
  if (window === undefined) return true;
  const t = epochMs(row.modifiedAt);
  if (window.from !== undefined && t < epochMs(window.from)) return false;
  if (window.to !== undefined && t >= epochMs(window.to)) return false;
  return true;
}

/**
 * Reads one keyset page of the source after the cursor (up to the run's high-water mark), applies
 * loop prevention and the link's residency policy, stages what may cross to blob and returns only
 * the blob name, counts and the next cursor: rows never enter durable history. Runs on a page
 * worker when the runtime has them.
 */
export function createExtractPage(
  deps: Pick<SyncRuntime, 'topology' | 'store' | 'staging' | 'pseudonymKey'> &
    Partial<Pick<SyncRuntime, 'pageWorkers'>>,
) {
  const workers = deps.pageWorkers ?? null;
  if (workers !== null) return (input: ExtractPageInput) => workers.run('extractPage', input);
  return async function extractPage(input: ExtractPageInput): Promise<ExtractPageOutput> {
    const flow = flowOf(deps.topology, input.link.flow);
    const source = await deps.store(input.link.source);
    // The page is checked, shaped and handed to staging (which encodes it at once) in a plain
    // function, and only small values wait for the upload: an async function's locals live
    // across its awaits, and a page's rows kept alive through the upload were promoted into
    // the page worker's old generation, which only full collections clear.
    const { staged, result } = await source
      .readChanges({
        table: mappingOf(flow, input.table, input.link.source),
        after: input.after,
        upTo: input.upTo,
        limit: input.pageSize,
      })
      .then((page) => stage(page, flow, input));
    return { blob: staged === null ? null : (await staged).blob, ...result };
  };

  function stage(page: ChangePage, flow: Flow, input: ExtractPageInput) {
    const problem = pageOrderProblem(page.rows, input.after, input.upTo);
    if (problem !== null)
      throw new SyncError('unknown', `source ${input.link.source} returned a bad page: ${problem}`);
    const rows = input.window === undefined ? page.rows : page.rows.filter((r) => inWindow(r, input.window));
    const out = prepareOutbound(rows, deps.topology, flow, input.link, input.table, {
      pseudonymKey: deps.pseudonymKey,
    }).rows;
    const result = {
      rows: out.length,
      read: page.rows.length,
      nextCursor: page.nextCursor,
      hasMore: page.hasMore,
    };
    const ref = { ...input.link, runId: input.runId, table: input.table, page: input.page };
    return { staged: out.length === 0 ? null : deps.staging.writePage(ref, out), result };
  }
}
