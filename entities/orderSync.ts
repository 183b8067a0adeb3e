/**
 * The `orderSync` entity, one per order (`orderSync@sea:1234`): stores the coordinator state of
 * sync/orderSyncState.ts and answers each operation with the state machine's decision. Every
 * operation carries `now` from its caller (an orchestration's replay-safe clock).
 */
import type * as df from 'durable-functions';
import type { OrderEvent } from '../sync/orderEvent.js';
import type { OrderSyncOptions, OrderSyncState, Step } from '../sync/orderSyncState.js';
import {
  completed,
  initialOrderSyncState,
  offer,
  takeOver,
  upgradeOrderSyncState,
} from '../sync/orderSyncState.js';
import { orderSyncOps } from '../activities/orderContracts.js';

export function createOrderSyncEntity(options: OrderSyncOptions): df.EntityHandler<OrderSyncState> {
  return function orderSync(context): void {
    const key = context.df.entityKey;
    const colon = key.indexOf(':');
    const stored = context.df.getState(() =>
      initialOrderSyncState(key.slice(0, colon), key.slice(colon + 1)),
    );
    const state =
      stored === undefined
        ? initialOrderSyncState(key.slice(0, colon), key.slice(colon + 1))
        : upgradeOrderSyncState(stored);
    let step: Step;
    switch (context.df.operationName) {
      case orderSyncOps.offer:
        step = offer(
          state,
          context.df.getInput<{ event: OrderEvent; runner: string; now: string }>()!,
          options,
        );
        break;
      case orderSyncOps.completed:
        step = completed(
          state,
          context.df.getInput<{
            version: number;
            outcome: 'applied' | 'failed' | 'stale';
            detail?: string;
            runner: string;
            now: string;
          }>()!,
          options,
        );
        break;
      case orderSyncOps.takeOver:
        step = takeOver(
          state,
          context.df.getInput<{ staleRunner: string; reason: string; runner: string; now: string }>()!,
          options,
        );
        break;
      default:
        // `get` and anything unknown: answer the state, change nothing.
        context.df.return(state);
        return;
    }
    context.df.setState(step.state);
    context.df.return(step.decision);
  };
}
