/**
 * The order saga (ARCHITECTURE §6.4; docs/order-sync.md), one per applied version, identified by
 * its saga id (`order-sea-1234-v7`): snapshot the hub's order and upsert header and lines ->
 * register the after-sales records -> write a sync receipt in the source region. A step that
 * fails for good (a business rejection, or a fault that outlived its retries: about 20 minutes of
 * backoff, see retryProfiles.ts) runs the compensations of the completed steps in reverse, then
 * writes a failure receipt with the reason; the saga still returns, with kind `failed`, so its
 * runner can tell the entity. Only a compensation or failure receipt that cannot be done throws
 * (that needs a person).
 *
 * It runs inline in the orderIngest orchestration that holds the order's turn (`yield*`), not as
 * a sub-orchestration: one instance per event instead of two, fewer episodes per apply, and a
 * runner that is terminated stops its saga with it, so a takeover never races an orphaned saga.
 * Every step is idempotent under the saga id, so a takeover may run the same version again.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import { callActivity } from '../activities/contracts';
import type { DeliveredOrderEvent, OrderApplyInput, OrderApplyOutput } from '../activities/orderContracts';
import { orderActivities } from '../activities/orderContracts';
import type { ReceiptStatus } from '../sync/orderSaga.js';
import { TELEMETRY_EVENT } from '../sync/telemetry.js';
import { replaySafeLog } from './replaySafeLog.js';

interface Compensation {
  readonly name: string;
  run(): Generator<Task, unknown, unknown>;
}

export function* orderApply(
  context: OrchestrationContext,
  input: OrderApplyInput,
): Generator<Task, OrderApplyOutput, unknown> {
  const { event, sagaId } = input;
  const at = () => context.df.currentUtcDateTime.toISOString();
  const compensations: Compensation[] = [];
  const enqueuedTimeUtc = (event as DeliveredOrderEvent).enqueuedTimeUtc;
  const log = replaySafeLog(context, {
    orderId: event.orderId,
    region: event.region,
    version: event.version,
    sagaId,
  });
  log.info(TELEMETRY_EVENT.sagaStarted, {
    op: event.op,
    lines: event.lines.length,
    ...(input.coalesced.length === 0 ? {} : { coalesced: input.coalesced.join(',') }),
  });

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
      ...(status === 'applied' && enqueuedTimeUtc !== undefined ? { enqueuedTimeUtc } : {}),
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
      log.info(TELEMETRY_EVENT.orderStale, { hubVersion: upsert.previousVersion });
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
          orderId: event.orderId,
          version: event.version,
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
          sagaId,
          sourceRegion: event.region,
        }),
    });

    const problem = yield* receipt('applied', null, event.version);
    if (problem !== null) throw new SagaRejection(problem);
    log.info(TELEMETRY_EVENT.orderApplied, { hubVersion: event.version, before });
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
  log.warn(TELEMETRY_EVENT.sagaStepFailed, { reason: failure, compensations: compensations.length });

  const compensated: string[] = [];
  for (const c of compensations) {
    try {
      yield* c.run();
    } catch (e) {
      log.error(TELEMETRY_EVENT.compensationRun, {
        step: c.name,
        outcome: 'failed',
        error: (e as Error).message,
      });
      throw e;
    }
    log.info(TELEMETRY_EVENT.compensationRun, { step: c.name, outcome: 'done' });
    compensated.push(c.name);
  }
  if (compensated.length > 0)
    log.warn(TELEMETRY_EVENT.orderCompensated, { compensated: compensated.join(',') });
  const problem = yield* receipt('failed', failure, before);
  if (problem !== null) {
    log.error(TELEMETRY_EVENT.orderFailed, { reason: failure, receipt: problem });
    throw new Error(`saga ${sagaId} failed (${failure}) and its failure receipt too: ${problem}`);
  }
  log.warn(TELEMETRY_EVENT.orderFailed, { reason: failure, hubVersion: before });
  return { kind: 'failed', version: event.version, hubVersion: before, reason: failure, compensated };
}

/** A step's business rejection, carried to the compensation path (never leaves the orchestrator). */
class SagaRejection extends Error {
  override readonly name = 'SagaRejection';
}
