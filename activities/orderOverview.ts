/**
 * The order side of the operations dashboard, read from the receipts each source region keeps
 * (`order_sync_receipt`): events per minute, enqueue -> applied latency, failure receipts.
 */
import type { RegionId } from '../sync/model.js';
import type { SyncReceipt } from '../sync/orderSaga.js';
import type { ReceiptFigures } from '../sync/operations.js';
import { receiptFigures } from '../sync/operations.js';
import type { OrderRuntime } from './orderRuntime.js';

/** Receipts read per region for one view: enough for an hour at 50 events/s would be 180,000. */
export const RECEIPTS_PER_REGION = 20_000;

export interface OrderOverview extends ReceiptFigures {
  /** Newest failure receipts (the saga compensated its completed steps, then wrote these). */
  readonly failures: readonly (SyncReceipt & { readonly region: RegionId })[];
  /** Regions whose receipts could not be read, with why. */
  readonly unavailable: readonly { readonly region: RegionId; readonly error: string }[];
  /** True when a region had more receipts in the window than were read. */
  readonly truncated: boolean;
}

export function createOrderOverview(deps: Pick<OrderRuntime, 'rules' | 'sagaStore' | 'now'>) {
  return async function orderOverview(minutes = 60): Promise<OrderOverview> {
    const now = deps.now();
    const since = new Date(now.getTime() - minutes * 60_000).toISOString();
    const receipts: (SyncReceipt & { region: RegionId })[] = [];
    const unavailable: { region: RegionId; error: string }[] = [];
    let truncated = false;
    for (const region of deps.rules.sourceRegions) {
      try {
        const got = await (await deps.sagaStore(region)).recentReceipts(since, RECEIPTS_PER_REGION);
        if (got.length >= RECEIPTS_PER_REGION) truncated = true;
        for (const r of got) receipts.push(r);
      } catch (e) {
        unavailable.push({ region, error: e instanceof Error ? e.message : String(e) });
      }
    }
    const failures = receipts
      .filter((r) => r.status === 'failed')
      .sort((a, b) => b.at.localeCompare(a.at))
      .slice(0, 50);
    return { ...receiptFigures(receipts, now, minutes), failures, unavailable, truncated };
  };
}
