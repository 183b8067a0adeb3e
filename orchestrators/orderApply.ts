/**
 * The order saga (ARCHITECTURE §6.4), one instance per applied version (`order-sea-1234-v7`):
 * snapshot the hub's order and upsert header and lines -> register the after-sales records ->
 * write a sync receipt in the source region. A step that fails for good (a business rejection,
 * or a fault that outlived its retries) runs the compensations of the completed steps in reverse,
 * then writes a failure receipt with the reason; the saga still completes, with kind `failed`,
 * so its caller can tell the entity. Only a compensation or failure receipt that cannot be done
 * fails the orchestration (that needs a person).
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import { callActivity } from '../activities/contracts';
import type { OrderApplyInput, OrderApplyOutput } from '../activities/orderContracts';
import { orderActivities } from '../activities/orderContracts';
import type { ReceiptStatus } from '../sync/orderSaga.js';

interface Compensation {
  readonly name: string;
  run(): Generator<Task, unknown, unknown>;
}

export function* orderApply(context: OrchestrationContext): Generator<Task, OrderApplyOutput, unknown> {
  const { event } = context.df.getInput<OrderApplyInput>();
  const sagaId = context.df.instanceId;
  const at = () => context.df.currentUtcDateTime.toISOString();
  const compensations: Compensation[] = [];

  function* receipt(status: ReceiptStatus, reason: string | null, hubVersion: number | null) {
    const out = yield* callActivity(context, orderActivities.writeReceipt, {
      sourceRegion: event.region,
      receipt: {
        orderId: event.orderId,
        version: event.version,
        status,
        reason,
        hubVersion,
        sagaId,
        at: at(),
      },
    });
    return out.kind === 'written' ? null : `${out.reason}: ${out.detail}`;
  }

  // The hub's version before the saga (the upsert step snapshots the order first and keeps the
  // snapshot in the hub under the saga id, for the compensation).
  let before: number | null = null;
  let failure: string;
  try {
    const upsert = yield* callActivity(context, orderActivities.upsertHubOrder, { sagaId, event });
    before = upsert.before;
    if (upsert.kind === 'stale') {
      const reason = `the hub holds v${upsert.previousVersion}`;
      const problem = yield* receipt('stale', reason, upsert.previousVersion);
      if (problem !== null) throw new Error(`stale receipt refused: ${problem}`);
      return {
        kind: 'stale',
        version: event.version,
        hubVersion: upsert.previousVersion,
        reason,
        compensated: [],
      };
    }
    if (upsert.kind === 'rejected') throw new SagaRejection(`${upsert.reason}: ${upsert.detail}`);
    compensations.unshift({
      name: 'restoreHubOrder',
      run: () =>
        callActivity(context, orderActivities.restoreHubOrder, {
          sagaId,
          sourceRegion: event.region,
        }),
    });

    const afterSales = yield* callActivity(context, orderActivities.registerAfterSales, { sagaId, event });
    if (afterSales.kind === 'rejected') throw new SagaRejection(`${afterSales.reason}: ${afterSales.detail}`);
    compensations.unshift({
      name: 'removeAfterSales',
      run: () =>
        callActivity(context, orderActivities.removeAfterSales, {
          orderId: event.orderId,
          version: event.version,
        }),
    });

    const problem = yield* receipt('applied', null, event.version);
    if (problem !== null) throw new SagaRejection(problem);
    return {
      kind: 'applied',
      version: event.version,
      hubVersion: event.version,
      reason: null,
      compensated: [],
    };
  } catch (e) {
    // A business rejection, or an activity whose retries ran out (durable hands back a plain Error).
    failure = e instanceof SagaRejection ? e.message : `fault: ${(e as Error).message}`;
  }

  const compensated: string[] = [];
  for (const c of compensations) {
    yield* c.run();
    compensated.push(c.name);
  }
  const problem = yield* receipt('failed', failure, before);
  if (problem !== null)
    throw new Error(`saga ${sagaId} failed (${failure}) and its failure receipt too: ${problem}`);
  return { kind: 'failed', version: event.version, hubVersion: before, reason: failure, compensated };
}

/** A step's business rejection, carried to the compensation path (never leaves the orchestrator). */
class SagaRejection extends Error {
  override readonly name = 'SagaRejection';
}
