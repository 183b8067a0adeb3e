import { conflictPolicyFor, residencyFor } from '../sync/topology.js';
import { policyLabel } from '../sync/conflict.js';
import { SyncError } from '../sync/errors.js';
import type { SyncRow } from '../sync/model.js';
import { guardFor, residencyLabel } from '../sync/residency.js';
import type { ApplyPageInput, ApplyPageOutput } from './contracts.js';
import type { SyncRuntime } from './runtime.js';
import { flowOf, mappingOf } from './runtime.js';

/**
 * Reads a staged page and upserts it into the target under the flow's conflict policy, re-checked
 * by the link's residency guard, storing the checkpoint and the audit record in the same
 * transaction. A page without rows (all held back) still moves the checkpoint. Runs on a page
 * worker when the runtime has them.
 */
export function createApplyPage(
  deps: Pick<SyncRuntime, 'topology' | 'store' | 'staging' | 'now'> &
    Partial<Pick<SyncRuntime, 'pageWorkers'>>,
) {
  const workers = deps.pageWorkers ?? null;
  if (workers !== null) return (input: ApplyPageInput) => workers.run('applyPage', input);
  return async function applyPage(input: ApplyPageInput): Promise<ApplyPageOutput> {
    const flow = flowOf(deps.topology, input.link.flow);
    let rows: SyncRow[] = [];
    if (input.blob !== null) {
      try {
        rows = await deps.staging.readPage(input.blob);
      } catch (e) {
        if (e instanceof SyncError && e.code === 'not-found')
          return { kind: 'staged-page-missing', blob: input.blob };
        throw e;
      }
    }
    const residency = residencyFor(flow, input.link, input.table);
    const policy = conflictPolicyFor(deps.topology, flow);
    const target = await deps.store(input.link.target);
    const at = deps.now().toISOString();
    const result = await target.applyPage({
      table: mappingOf(flow, input.table, input.link.target),
      rows,
      policy,
      guard: guardFor(residency),
      checkpoint: {
        ...input.link,
        table: input.checkpointTable,
        cursor: input.nextCursor,
        runId: input.runId,
        updatedAt: at,
      },
      audit: {
        ...input.link,
        runId: input.runId,
        table: input.table,
        policy: `${policyLabel(policy)}; ${residencyLabel(residency)}`,
        at,
      },
    });
    // The newest change applied, for the sync lag metric (activities/activityTelemetry.ts).
    if (result.kind !== 'applied' || rows.length === 0) return result;
    return { ...result, newestModifiedAt: rows.reduce((m, r) => (r.modifiedAt > m ? r.modifiedAt : m), '') };
  };
}
