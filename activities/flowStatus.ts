/**
 * What GET /api/sync/{flow}/status shows per link: the checkpoint stored in the target, how far
 * it lags the source (changes not yet read), and the last run's rows and error (from the run's
 * orchestration status, which the trigger passes in).
 */
import { compareChange } from '../sync/cursor.js';
import type { ChangeCursor, LinkId } from '../sync/model.js';
import { sentOrigins } from '../sync/routing.js';
import { linksOf } from '../sync/topology.js';
import type { SyncRuntime } from './runtime.js';
import { flowOf, mappingOf } from './runtime.js';

export interface TableStatus {
  readonly table: string;
  readonly checkpoint: {
    readonly cursor: ChangeCursor;
    readonly runId: string;
    readonly updatedAt: string;
  } | null;
  /**
   * Changes of the source above the checkpoint that will cross this link (0 = caught up). Changes
   * loop prevention keeps home (e.g. rows this source itself received from the target) do not
   * count. Counted among the next {@link LAG_SCAN_LIMIT} changes; `lagCapped` says when more wait
   * (the count is then a lower bound).
   */
  readonly lagChanges: number;
  readonly lagCapped: boolean;
  /**
   * 0 when caught up (nothing pending, none beyond the count either); otherwise seconds since the
   * checkpoint last moved (the link has been behind for at most that long), or null when pending
   * before the first run.
   */
  readonly lagSeconds: number | null;
}

/**
 * Changes looked at per link and table to count its pending ones, whatever their origin, so the
 * status stays cheap on a big backlog while a run polls it. Bounding the matches instead cost a
 * scan of every change a link does not send: with a spoke filling up with 1M rows from the hub,
 * the spoke -> hub count walked them all (~300 ms a status call, devhost's thread busy 119 s of a
 * 132 s bench run). At 5000 the counts of the pricing flow's six links still took ~10 ms of
 * devhost's main thread a status call: polled every 100 ms during a 1M-row run, status cost that
 * thread 11.5-13.8 s of CPU against 6.8 s when polled every second. Beyond a thousand pending
 * changes the exact number tells an operator little that the lag in seconds does not.
 */
export const LAG_SCAN_LIMIT = 1000;

export interface LinkStatus extends LinkId {
  readonly tables: readonly TableStatus[];
}

/** With a zone, the status of the links this zone runs (the ones whose source it is). */
export function createFlowStatus(
  deps: Pick<SyncRuntime, 'topology' | 'store' | 'now'> & Partial<Pick<SyncRuntime, 'zone'>>,
) {
  return async function flowStatus(flowName: string): Promise<LinkStatus[]> {
    const flow = flowOf(deps.topology, flowName);
    const out: LinkStatus[] = [];
    for (const link of linksOf(deps.topology, flow, deps.zone)) {
      const source = await deps.store(link.source);
      const target = await deps.store(link.target);
      const tables: TableStatus[] = [];
      for (const t of flow.tables) {
        const mapping = mappingOf(flow, t.canonical, link.source);
        const hwm = await source.highWaterMark(mapping);
        const cp = await target.getCheckpoint(link, t.canonical);
        const at = cp?.cursor.change ?? '0';
        let lagChanges = 0;
        let lagCapped = false;
        if (compareChange(hwm, at) > 0) {
          const lag = await source.countChanges({
            table: mapping,
            after: cp?.cursor ?? null,
            upTo: hwm,
            origins: sentOrigins(link, flow, deps.topology),
            limit: LAG_SCAN_LIMIT,
          });
          lagChanges = lag.count;
          lagCapped = lag.capped;
        }
        tables.push({
          table: t.canonical,
          checkpoint: cp === null ? null : { cursor: cp.cursor, runId: cp.runId, updatedAt: cp.updatedAt },
          lagChanges,
          lagCapped,
          lagSeconds:
            lagChanges === 0 && !lagCapped
              ? 0
              : cp === null
                ? null
                : Math.max(0, Math.round((deps.now().getTime() - Date.parse(cp.updatedAt)) / 1000)),
        });
      }
      out.push({ ...link, tables });
    }
    return out;
  };
}
