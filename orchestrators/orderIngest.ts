/**
 * One delivered order event (`orderevent-sea-1234-v7`), or an unstick request: offers the event
 * to the order's entity and acts on the entity's decision (docs/order-sync.md). In
 * durable-functions for Node an entity can only signal entities, not start orchestrations, so the
 * entity decides and this orchestration runs: handed the order's turn, it runs the orderApply saga
 * inline, reports the outcome, and keeps going while the entity hands it more (newer versions that
 * arrived meanwhile, coalesced into the newest). The entity never hands out two turns at once.
 *
 * A turn must not outlive its runner: when the entity answers that another orchestration has held
 * the turn for long (`check`), this one asks the durable client whether that runner still runs and,
 * if it was terminated, purged or failed, takes the turn over. A live runner (e.g. one backing off
 * through a hub outage) keeps it: the order is delayed, not stopped, and never applied twice at
 * once.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { callActivity } from '../activities/contracts';
import type { OrderApplyOutput, OrderIngestInput } from '../activities/orderContracts';
import { ORDER_SYNC_ENTITY, orderActivities, orderSyncOps } from '../activities/orderContracts';
import type { OrderSyncDecision } from '../sync/orderSyncState.js';
import { orderEntityKey } from '../sync/orderSyncState.js';
import { TELEMETRY_EVENT } from '../sync/telemetry.js';
import { orderApply } from './orderApply.js';
import { replaySafeLog } from './replaySafeLog.js';

/** Turns taken in one generation before continue-as-new keeps the history small. */
const TURNS_PER_GENERATION = 16;

export interface OrderIngestOutput {
  readonly last: OrderSyncDecision;
  readonly applies: readonly OrderApplyOutput[];
}

export function* orderIngest(
  context: OrchestrationContext,
  input: OrderIngestInput,
): Generator<Task, OrderIngestOutput | undefined, unknown> {
  const runner = context.df.instanceId;
  const now = () => context.df.currentUtcDateTime.toISOString();
  const region = input.kind === 'offer' ? input.event.region : input.region;
  const orderId = input.kind === 'offer' ? input.event.orderId : input.orderId;
  const entity = new df.EntityId(ORDER_SYNC_ENTITY, orderEntityKey(region, orderId));
  const log = replaySafeLog(context, { orderId, region });

  const takeTurn = function* (
    staleRunner: string,
    reason: string,
  ): Generator<Task, OrderSyncDecision, unknown> {
    const taken = (yield context.df.callEntity(entity, orderSyncOps.takeOver, {
      staleRunner,
      reason,
      runner,
      now: now(),
    })) as OrderSyncDecision;
    log.warn(TELEMETRY_EVENT.orderTakenOver, { staleRunner, reason, decision: taken.kind });
    return taken;
  };

  let decision: OrderSyncDecision;
  if (input.kind === 'offer') {
    decision = (yield context.df.callEntity(entity, orderSyncOps.offer, {
      event: input.event,
      runner,
      now: now(),
    })) as OrderSyncDecision;
    log.info(TELEMETRY_EVENT.orderOffered, {
      version: input.event.version,
      decision: decision.kind,
      ...(decision.kind === 'run' ? { sagaId: decision.sagaId, applyVersion: decision.version } : {}),
      ...(decision.kind === 'idle' || decision.kind === 'dropped' ? { reason: decision.reason } : {}),
    });
  } else if (input.kind === 'takeover') {
    decision = yield* takeTurn(input.staleRunner, input.reason);
  } else {
    decision = input.decision as OrderSyncDecision;
  }

  const applies: OrderApplyOutput[] = [];
  let checked = false;
  for (let turn = 0; turn < TURNS_PER_GENERATION; turn++) {
    if (decision.kind === 'run') {
      let result: OrderApplyOutput;
      try {
        result = yield* orderApply(context, {
          event: decision.event,
          sagaId: decision.sagaId,
          coalesced: decision.coalesced,
        });
      } catch (e) {
        // The saga could not even compensate: the version is settled as failed so the order is not
        // stuck; the log keeps the details for a person.
        const reason = `saga failed: ${(e as Error).message.split('\n', 1)[0] ?? ''}`;
        log.error(TELEMETRY_EVENT.orderFailed, {
          version: decision.version,
          sagaId: decision.sagaId,
          reason,
        });
        result = { kind: 'failed', version: decision.version, hubVersion: null, reason, compensated: [] };
      }
      applies.push(result);
      decision = (yield context.df.callEntity(entity, orderSyncOps.completed, {
        version: decision.version,
        outcome: result.kind,
        ...(result.reason === null ? {} : { detail: result.reason }),
        runner,
        now: now(),
      })) as OrderSyncDecision;
    } else if (decision.kind === 'idle' && decision.reason === 'running' && decision.check && !checked) {
      checked = true;
      const holder = decision.runner;
      const status = yield* callActivity(context, orderActivities.runnerStatus, { instanceId: holder });
      if (status.alive) return { last: decision, applies };
      decision = yield* takeTurn(holder, `is ${status.status}`);
    } else {
      return { last: decision, applies };
    }
  }
  const next: OrderIngestInput = { kind: 'resume', region, orderId, decision };
  context.df.continueAsNew(next);
  return undefined;
}
