import * as df from 'durable-functions';
import { ORDER_SYNC_ENTITY } from '../activities/orderContracts.js';
import type { OrderSyncOptions } from '../sync/orderSyncState.js';
import { createOrderSyncEntity } from './orderSync.js';

/** Registers the per-order coordinator entity. */
export function registerEntities(options: OrderSyncOptions): void {
  df.app.entity(ORDER_SYNC_ENTITY, createOrderSyncEntity(options));
}
