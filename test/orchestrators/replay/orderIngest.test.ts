/**
 * orderIngest replayed by the real durable-functions library: the offer to the order's entity,
 * the saga run inline on the entity's turn, coalesced turns, a saga that fails for a person, the
 * runner check and takeover, and continue-as-new after many turns.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OrderIngestInput } from '../../../activities/orderContracts';
import { orderActivities, orderOrchestrators, orderSyncOps } from '../../../activities/orderContracts';
import type { OrderIngestOutput } from '../../../orchestrators/orderIngest';
import { orderIngest } from '../../../orchestrators/orderIngest';
import type { OrderSyncDecision } from '../../../sync/orderSyncState';
import { sagaIdOf } from '../../../sync/orderSyncState';
import { TELEMETRY_EVENT } from '../../../sync/telemetry';
import { OrchestrationReplay } from '../../support/orchestrationReplay';
import { EVENT, SAGA_ID, eventAt } from './orderFixtures';

const RUNNER = 'orderevent-sea-o-1-v3';
const ENTITY = '@ordersync@sea:o-1';
const start = (input: OrderIngestInput = { kind: 'offer', event: EVENT }) =>
  OrchestrationReplay.start(orderOrchestrators.orderIngest, orderIngest, input, { instanceId: RUNNER });

const run = (version: number, coalesced: number[] = []): OrderSyncDecision => ({
  kind: 'run',
  version,
  sagaId: sagaIdOf('sea', 'o-1', version),
  event: eventAt(version),
  coalesced,
});
const NOTHING: OrderSyncDecision = { kind: 'idle', reason: 'nothing-waiting' };
/** Another runner has held the turn for long: check whether it still runs. */
const HELD: OrderSyncDecision = {
  kind: 'idle',
  reason: 'running',
  runner: 'orderevent-sea-o-1-v2',
  since: '2026-12-04T02:00:00.000Z',
  check: true,
};

/** The entity call pending now (exactly one), checked against its operation. */
function entityCall(h: OrchestrationReplay, operation: string) {
  const calls = h.pendingEntityCalls();
  assert.equal(calls.length, 1, `pending: ${h.describePending()}`);
  const call = calls[0] as (typeof calls)[number];
  assert.equal(call.name, operation);
  assert.equal(call.instanceId, ENTITY);
  return call;
}

/** Runs the inline saga of the turn to an applied receipt. */
async function applySaga(h: OrchestrationReplay, version: number): Promise<void> {
  const upsert = h.only(orderActivities.upsertHubOrder);
  assert.equal(upsert.input.sagaId, sagaIdOf('sea', 'o-1', version));
  await h.complete(upsert, { kind: 'applied', previousVersion: version - 1, before: version - 1 });
  await h.complete(h.only(orderActivities.registerAfterSales), { kind: 'registered', entitlements: 1 });
  await h.complete(h.only(orderActivities.writeReceipt), { kind: 'written' });
}

const output = (h: OrchestrationReplay) => (h.status as { output: OrderIngestOutput }).output;

describe('orderIngest (replayed)', () => {
  it('offers the event, runs the saga on the turn it is given, reports the outcome and stops when nothing waits', async () => {
    const h = await start();
    const offer = entityCall(h, orderSyncOps.offer);
    assert.deepEqual(offer.input, { event: EVENT, runner: RUNNER, now: '2026-12-04T03:00:00.000Z' });
    await h.answerEntity(offer, run(3));
    await applySaga(h, 3);
    const completed = entityCall(h, orderSyncOps.completed);
    assert.deepEqual(completed.input, {
      version: 3,
      outcome: 'applied',
      runner: RUNNER,
      now: '2026-12-04T03:00:04.000Z',
    });
    await h.answerEntity(completed, NOTHING);
    assert.deepEqual(output(h), {
      last: NOTHING,
      applies: [{ kind: 'applied', version: 3, hubVersion: 3, reason: null, compensated: [] }],
    });
    assert.equal(h.logged(TELEMETRY_EVENT.orderOffered).length, 1, 'a replayed log line was written again');
  });

  it('keeps taking the turns the entity hands back (newer versions, coalesced) in one orchestration', async () => {
    const h = await start();
    await h.answerEntity(entityCall(h, orderSyncOps.offer), run(3));
    await applySaga(h, 3);
    await h.answerEntity(entityCall(h, orderSyncOps.completed), run(5, [4]));
    await applySaga(h, 5);
    const completed = entityCall(h, orderSyncOps.completed);
    assert.equal((completed.input as { version: number }).version, 5);
    await h.answerEntity(completed, NOTHING);
    assert.deepEqual(
      output(h).applies.map((a) => a.version),
      [3, 5],
    );
  });

  it('does nothing for a dropped or queued event', async () => {
    const h = await start();
    const dropped: OrderSyncDecision = { kind: 'dropped', reason: 'duplicate' };
    await h.answerEntity(entityCall(h, orderSyncOps.offer), dropped);
    assert.deepEqual(output(h), { last: dropped, applies: [] });
    assert.equal(h.scheduled.length, 1);
  });

  it('settles a saga that could not compensate as failed, so the order is not stuck', async () => {
    const h = await start();
    await h.answerEntity(entityCall(h, orderSyncOps.offer), run(3));
    await h.complete(h.only(orderActivities.upsertHubOrder), {
      kind: 'rejected',
      reason: 'r',
      detail: 'd',
      before: 2,
    });
    await h.complete(h.only(orderActivities.writeReceipt), {
      kind: 'rejected',
      reason: 'residency',
      detail: 'x',
    });
    const completed = entityCall(h, orderSyncOps.completed);
    assert.deepEqual(completed.input, {
      version: 3,
      outcome: 'failed',
      detail: `saga failed: saga ${SAGA_ID} failed (r: d) and its failure receipt too: residency: x`,
      runner: RUNNER,
      now: '2026-12-04T03:00:03.000Z',
    });
    await h.answerEntity(completed, NOTHING);
    assert.equal(h.status.kind, 'completed');
    assert.equal(h.logged(TELEMETRY_EVENT.orderFailed).length, 2, 'the saga and the runner each log it once');
  });

  it('leaves a long-held turn to a runner that still runs', async () => {
    const h = await start();
    await h.answerEntity(entityCall(h, orderSyncOps.offer), HELD);
    const check = h.only(orderActivities.runnerStatus);
    assert.deepEqual(check.input, { instanceId: 'orderevent-sea-o-1-v2' });
    await h.complete(check, { alive: true, status: 'Running' });
    assert.deepEqual(output(h), { last: HELD, applies: [] });
  });

  it('takes over the turn of a runner that was terminated, and runs the saga', async () => {
    const h = await start();
    await h.answerEntity(entityCall(h, orderSyncOps.offer), HELD);
    await h.complete(h.only(orderActivities.runnerStatus), { alive: false, status: 'Terminated' });
    const takeOver = entityCall(h, orderSyncOps.takeOver);
    assert.deepEqual(takeOver.input, {
      staleRunner: 'orderevent-sea-o-1-v2',
      reason: 'is Terminated',
      runner: RUNNER,
      now: '2026-12-04T03:00:02.000Z',
    });
    await h.answerEntity(takeOver, run(3));
    await applySaga(h, 3);
    // A second long-held answer in the same orchestration is not checked again.
    await h.answerEntity(entityCall(h, orderSyncOps.completed), HELD);
    assert.equal(h.pendingOf(orderActivities.runnerStatus).length, 0);
    assert.equal(output(h).applies.length, 1);
    assert.equal(h.logged(TELEMETRY_EVENT.orderTakenOver).length, 1);
  });

  it('an unstick request takes the turn first', async () => {
    const h = await start({
      kind: 'takeover',
      region: 'sea',
      orderId: 'o-1',
      staleRunner: 'r-old',
      reason: 'unstick',
    });
    const takeOver = entityCall(h, orderSyncOps.takeOver);
    assert.equal((takeOver.input as { staleRunner: string }).staleRunner, 'r-old');
    await h.answerEntity(takeOver, NOTHING);
    assert.deepEqual(output(h), { last: NOTHING, applies: [] });
  });

  it('continues as new after 16 turns with the decision in hand, and the next generation acts on it', async () => {
    const h = await start();
    await h.answerEntity(entityCall(h, orderSyncOps.offer), run(3));
    for (let v = 3; v < 19; v++) {
      await applySaga(h, v);
      await h.answerEntity(entityCall(h, orderSyncOps.completed), run(v + 1));
    }
    assert.equal(h.status.kind, 'continuedAsNew');
    assert.deepEqual((h.status as { input: unknown }).input, {
      kind: 'resume',
      region: 'sea',
      orderId: 'o-1',
      decision: run(19),
    });
    await h.continueAsNew();
    assert.equal(h.pendingEntityCalls().length, 0, 'the next generation offered again');
    await applySaga(h, 19);
    await h.answerEntity(entityCall(h, orderSyncOps.completed), NOTHING);
    assert.equal(output(h).applies.length, 1);
  });
});
