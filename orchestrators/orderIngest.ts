/**
 * One delivered order event (`orderevent-sea-1234-v7`): offers it to the order's entity and acts on
 * the entity's decision. In durable-functions for Node an entity can only signal entities, not
 * start orchestrations, so the entity decides and this orchestration runs: when handed the turn it
 * runs the orderApply saga, reports the outcome, and keeps going while the entity hands it more
 * (coalesced newer versions, or the newest one after a gap wait). The entity never hands out two
 * turns at once, so there is never more than one apply of an order.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import type { OrderApplyInput, OrderApplyOutput, OrderIngestInput } from '../activities/orderContracts';
import { ORDER_SYNC_ENTITY, orderOrchestrators, orderSyncOps } from '../activities/orderContracts';
import type { OrderSyncDecision } from '../sync/orderSyncState.js';
import { orderEntityKey } from '../sync/orderSyncState.js';
import { TELEMETRY_EVENT } from '../sync/telemetry.js';
import { replaySafeLog } from './replaySafeLog.js';

/** Turns taken in one generation before continue-as-new keeps the history small. */
const TURNS_PER_GENERATION = 16;

export interface OrderIngestOutput {
  readonly last: OrderSyncDecision;
  readonly applies: readonly OrderApplyOutput[];
}

export function* orderIngest(
  context: OrchestrationContext,
): Generator<Task, OrderIngestOutput | undefined, unknown> {
  const input = context.df.getInput<OrderIngestInput>();
  const runner = context.df.instanceId;
  const now = () => context.df.currentUtcDateTime.toISOString();
  const region = input.kind === 'offer' ? input.event.region : input.region;
  const orderId = input.kind === 'offer' ? input.event.orderId : input.orderId;
  const entity = new df.EntityId(ORDER_SYNC_ENTITY, orderEntityKey(region, orderId));
  const log = replaySafeLog(context, { orderId, region });

  let decision: OrderSyncDecision =
    input.kind === 'offer'
      ? ((yield context.df.callEntity(entity, orderSyncOps.offer, {
          event: input.event,
          runner,
          now: now(),
        })) as OrderSyncDecision)
      : (input.decision as OrderSyncDecision);
  if (input.kind === 'offer')
    log.info(TELEMETRY_EVENT.orderOffered, {
      version: input.event.version,
      decision: decision.kind,
      ...(decision.kind === 'run' ? { sagaId: decision.instanceId, applyVersion: decision.version } : {}),
      ...(decision.kind === 'idle' || decision.kind === 'dropped' ? { reason: decision.reason } : {}),
    });
  const applies: OrderApplyOutput[] = [];

  for (let turn = 0; turn < TURNS_PER_GENERATION; turn++) {
    if (decision.kind === 'run') {
      let result: OrderApplyOutput;
      try {
        const applyInput: OrderApplyInput = { event: decision.event, coalesced: decision.coalesced };
        result = (yield context.df.callSubOrchestrator(
          orderOrchestrators.orderApply.name,
          applyInput,
          decision.instanceId,
        )) as OrderApplyOutput;
      } catch (e) {
        // The saga could not even compensate: the version is settled as failed so the order is not
        // stuck; the failed saga instance keeps the details for a person.
        log.error(TELEMETRY_EVENT.orderFailed, {
          version: decision.version,
          sagaId: decision.instanceId,
          reason: `saga failed: ${(e as Error).message.split('\n', 1)[0] ?? ''}`,
        });
        result = {
          kind: 'failed',
          version: decision.version,
          hubVersion: null,
          reason: `saga failed: ${(e as Error).message}`,
          compensated: [],
        };
      }
      applies.push(result);
      decision = (yield context.df.callEntity(entity, orderSyncOps.completed, {
        version: decision.version,
        outcome: result.kind,
        ...(result.reason === null ? {} : { detail: result.reason }),
        runner,
        now: now(),
      })) as OrderSyncDecision;
    } else if (decision.kind === 'hold') {
      yield context.df.createTimer(new Date(decision.until));
      decision = (yield context.df.callEntity(entity, orderSyncOps.gapExpired, {
        runner,
        now: now(),
      })) as OrderSyncDecision;
    } else {
      return { last: decision, applies };
    }
  }
  const next: OrderIngestInput = { kind: 'resume', region, orderId, decision };
  context.df.continueAsNew(next);
  return undefined;
}
