/**
 * The order saga (orderApply) replayed by the real durable-functions library: the steps in order,
 * a stale version, business rejections and faults at each step with the compensations of the
 * completed steps in reverse, and the failures that need a person. orderApply runs inline in
 * orderIngest; here it is registered on its own so each branch takes a few episodes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OrderApplyInput, OrderApplyOutput } from '../../../activities/orderContracts';
import { orderActivities } from '../../../activities/orderContracts';
import type { OrchestratorContract } from '../../../orchestrators/contracts';
import { orderApply } from '../../../orchestrators/orderApply';
import { TELEMETRY_EVENT } from '../../../sync/telemetry';
import { OrchestrationReplay } from '../../support/orchestrationReplay';
import { EVENT, SAGA_ID } from './orderFixtures';

const saga = { name: 'orderApplyAlone' } as OrchestratorContract<OrderApplyInput, OrderApplyOutput>;
const INPUT: OrderApplyInput = {
  event: { ...EVENT, enqueuedTimeUtc: '2026-12-04T02:59:59.000Z' } as typeof EVENT,
  sagaId: SAGA_ID,
  coalesced: [],
};

const start = () =>
  OrchestrationReplay.start(saga, orderApply, INPUT, { instanceId: 'orderevent-sea-o-1-v3' });
const output = (h: OrchestrationReplay) => (h.status as { output: OrderApplyOutput }).output;
const receiptOf = (h: OrchestrationReplay) => h.only(orderActivities.writeReceipt);

/** Upserts (hub held v2) and registers the after-sales records. */
async function upsertedAndRegistered(h: OrchestrationReplay): Promise<void> {
  await h.complete(h.only(orderActivities.upsertHubOrder), {
    kind: 'applied',
    previousVersion: 2,
    before: 2,
  });
  await h.complete(h.only(orderActivities.registerAfterSales), { kind: 'registered', entitlements: 1 });
}

describe('orderApply saga (replayed)', () => {
  it('upserts the hub, registers after-sales, writes the applied receipt with the enqueued time', async () => {
    const h = await start();
    const upsert = h.only(orderActivities.upsertHubOrder);
    assert.deepEqual(upsert.input, { sagaId: SAGA_ID, event: INPUT.event });
    assert.equal(upsert.retry?.maxNumberOfAttempts, 17, 'saga steps run with the orderStep profile');
    await upsertedAndRegistered(h);
    const receipt = receiptOf(h);
    assert.deepEqual(receipt.input, {
      sourceRegion: 'sea',
      receipt: {
        orderId: 'o-1',
        version: 3,
        status: 'applied',
        reason: null,
        hubVersion: 3,
        sagaId: SAGA_ID,
        at: '2026-12-04T03:00:02.000Z',
      },
      enqueuedTimeUtc: '2026-12-04T02:59:59.000Z',
    });
    await h.complete(receipt, { kind: 'written' });
    assert.deepEqual(output(h), {
      kind: 'applied',
      version: 3,
      hubVersion: 3,
      reason: null,
      compensated: [],
    });
    assert.equal(h.logged(TELEMETRY_EVENT.orderApplied).length, 1, 'a replayed log line was written again');
  });

  it('a stale version writes a stale receipt and changes nothing else', async () => {
    const h = await start();
    await h.complete(h.only(orderActivities.upsertHubOrder), {
      kind: 'stale',
      previousVersion: 5,
      before: 5,
    });
    const receipt = receiptOf(h);
    assert.deepEqual(
      {
        status: receipt.input.receipt.status,
        reason: receipt.input.receipt.reason,
        hub: receipt.input.receipt.hubVersion,
      },
      { status: 'stale', reason: 'the hub holds v5', hub: 5 },
    );
    assert.equal(receipt.input.enqueuedTimeUtc, undefined, 'only an applied receipt records the latency');
    await h.complete(receipt, { kind: 'written' });
    assert.deepEqual(output(h), {
      kind: 'stale',
      version: 3,
      hubVersion: 5,
      reason: 'the hub holds v5',
      compensated: [],
    });
    assert.equal(h.pendingOf(orderActivities.restoreHubOrder).length, 0);
  });

  it('a rejected upsert compensates nothing and writes a failure receipt with the reason', async () => {
    const h = await start();
    await h.complete(h.only(orderActivities.upsertHubOrder), {
      kind: 'rejected',
      reason: 'residency',
      detail: 'email may not leave eu',
      before: 2,
    });
    const receipt = receiptOf(h);
    assert.equal(receipt.input.receipt.status, 'failed');
    assert.equal(receipt.input.receipt.reason, 'residency: email may not leave eu');
    assert.equal(receipt.input.receipt.hubVersion, 2);
    await h.complete(receipt, { kind: 'written' });
    assert.deepEqual(output(h), {
      kind: 'failed',
      version: 3,
      hubVersion: 2,
      reason: 'residency: email may not leave eu',
      compensated: [],
    });
  });

  it('a rejected after-sales registration restores the hub order the saga wrote', async () => {
    const h = await start();
    await h.complete(h.only(orderActivities.upsertHubOrder), {
      kind: 'applied',
      previousVersion: 2,
      before: 2,
    });
    await h.complete(h.only(orderActivities.registerAfterSales), {
      kind: 'rejected',
      reason: 'unknown-sku',
      detail: 'SKU-9',
    });
    const restore = h.only(orderActivities.restoreHubOrder);
    assert.deepEqual(restore.input, { sagaId: SAGA_ID, sourceRegion: 'sea', orderId: 'o-1', version: 3 });
    assert.equal(restore.retry?.maxNumberOfAttempts, 21, 'compensations run with the compensation profile');
    await h.complete(restore, { kind: 'restored' });
    await h.complete(receiptOf(h), { kind: 'written' });
    assert.deepEqual(output(h).compensated, ['restoreHubOrder']);
    assert.equal(output(h).reason, 'unknown-sku: SKU-9');
  });

  it('a refused applied receipt undoes both steps in reverse order', async () => {
    const h = await start();
    await upsertedAndRegistered(h);
    await h.complete(receiptOf(h), { kind: 'rejected', reason: 'residency', detail: 'no receipts to eu' });
    const remove = h.only(orderActivities.removeAfterSales);
    assert.equal(h.pendingOf(orderActivities.restoreHubOrder).length, 0, 'both compensations at once');
    assert.deepEqual(remove.input, { orderId: 'o-1', version: 3, sagaId: SAGA_ID, sourceRegion: 'sea' });
    await h.complete(remove, { kind: 'removed', count: 1 });
    await h.complete(h.only(orderActivities.restoreHubOrder), { kind: 'restored' });
    const failure = receiptOf(h);
    assert.equal(failure.input.receipt.status, 'failed');
    await h.complete(failure, { kind: 'written' });
    assert.deepEqual(output(h).compensated, ['removeAfterSales', 'restoreHubOrder']);
    assert.equal(h.logged(TELEMETRY_EVENT.compensationRun).length, 2);
  });

  it('a step whose retries run out is a fault: compensated, then a failure receipt', async () => {
    const h = await start();
    await h.complete(h.only(orderActivities.upsertHubOrder), {
      kind: 'applied',
      previousVersion: 2,
      before: 2,
    });
    await h.fail(h.only(orderActivities.registerAfterSales), 'hub unreachable');
    await h.complete(h.only(orderActivities.restoreHubOrder), { kind: 'restored' });
    const failure = receiptOf(h);
    assert.match(
      String(failure.input.receipt.reason),
      /^fault: Activity function 'orderRegisterAfterSales' failed: hub unreachable/,
    );
    await h.complete(failure, { kind: 'written' });
    assert.equal(output(h).kind, 'failed');
  });

  it('fails the saga (for a person) when a compensation cannot be done, after all its retries', async () => {
    const h = await start();
    await upsertedAndRegistered(h);
    await h.complete(receiptOf(h), { kind: 'rejected', reason: 'residency', detail: 'no' });
    await h.fail(h.only(orderActivities.removeAfterSales), 'hub down');
    assert.equal(h.status.kind, 'failed');
    assert.match((h.status as { error: string }).error, /orderRemoveAfterSales' failed: hub down/);
    assert.equal(
      h.pendingOf(orderActivities.restoreHubOrder).length,
      0,
      'a later compensation ran after a failed one',
    );
  });

  it('fails the saga when its failure receipt is refused too', async () => {
    const h = await start();
    await h.complete(h.only(orderActivities.upsertHubOrder), {
      kind: 'rejected',
      reason: 'r',
      detail: 'd',
      before: null,
    });
    await h.complete(receiptOf(h), { kind: 'rejected', reason: 'residency', detail: 'x' });
    assert.deepEqual(h.status, {
      kind: 'failed',
      error: `saga ${SAGA_ID} failed (r: d) and its failure receipt too: residency: x`,
    });
  });
});
