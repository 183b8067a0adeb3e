/** An order event and its saga id, for the order replay tests. */
import type { OrderEvent } from '../../../sync/orderEvent';
import { sagaIdOf } from '../../../sync/orderSyncState';

export const EVENT: OrderEvent = {
  region: 'sea',
  orderId: 'o-1',
  version: 3,
  changedAt: '2026-12-04T02:59:00.000Z',
  op: 'upsert',
  order: { order_id: 'o-1', home_region: 'sea', total_amount: 20, status: 'open' },
  lines: [{ line_no: 1, sku: 'SKU-1', quantity: 2 }],
};

export const SAGA_ID = sagaIdOf('sea', 'o-1', 3);

/** The same order at another version. */
export function eventAt(version: number): OrderEvent {
  return { ...EVENT, version };
}
