/**
 * The `order-events` Service Bus trigger and the order HTTP endpoints (issue 7).
 *
 * A valid event is handed to the order's coordinator: an `orderIngest` orchestration offers it to
 * the `orderSync@{region}:{orderId}` entity (version guard, coalescing, one apply at a time).
 *
 * A malformed message is dead-lettered by the app itself: with autoCompleteMessages a v4 Node
 * function cannot settle a message (no dead-letter action without SDK-type bindings, which the
 * host's settlement service provides and devhost does not), and throwing only abandons it, so it
 * would be retried up to maxDeliveryCount and land in the broker's DLQ without its reason. So the
 * trigger writes the message, with the validation reason and issues, to the app's dead-letter
 * container and then completes it: not retried, not lost (the write happens before the message
 * is completed; if the write fails the function throws, the message is redelivered, and after
 * maxDeliveryCount the broker's own DLQ keeps it). List, inspect and replay are app endpoints.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DeliveredOrderEvent, OrderIngestInput } from '../activities/orderContracts.js';
import type { LogSink, Telemetry } from '../adapters/telemetry.js';
import { silentTelemetry } from '../adapters/telemetry.js';
import { METRIC, TELEMETRY_EVENT } from '../sync/telemetry.js';
import {
  ORDER_SYNC_ENTITY,
  ingestInstanceId,
  orderOrchestrators,
  unstickInstanceId,
} from '../activities/orderContracts.js';
import { runnerStatus } from '../activities/orderRunner.js';
import type { OrderRuntime } from '../activities/orderRuntime.js';
import type { DeadLetteredOrderEvent } from '../sync/orderEvent.js';
import { ORDER_ID_PATTERN, deadLetterId, parseOrderMessage } from '../sync/orderEvent.js';
import type { OrderSyncState } from '../sync/orderSyncState.js';
import { orderEntityKey, upgradeOrderSyncState } from '../sync/orderSyncState.js';

type Deps = Pick<OrderRuntime, 'rules' | 'deadLetters' | 'now'>;

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bodyText = (m: unknown): string =>
  typeof m === 'string' ? m : m instanceof Uint8Array ? Buffer.from(m).toString('utf8') : JSON.stringify(m);

/**
 * Starts the event's ingest orchestration. A duplicate delivery while the first is still running
 * finds the instance busy: that is not an error (the entity would drop the duplicate anyway).
 */
export async function startIngest(client: df.DurableClient, event: DeliveredOrderEvent): Promise<string> {
  const instanceId = ingestInstanceId(event.region, event.orderId, event.version);
  const input: OrderIngestInput = { kind: 'offer', event };
  try {
    await client.startNew(orderOrchestrators.orderIngest.name, { instanceId, input });
  } catch (e) {
    const status = await client.getStatus(instanceId).catch(() => undefined);
    const busy =
      status !== undefined &&
      [df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending].includes(
        status.runtimeStatus,
      );
    if (!busy) throw e;
  }
  return instanceId;
}

export function createOrderEventsTrigger(
  deps: Deps,
  telemetry: Telemetry = silentTelemetry,
  queue = 'order-events',
) {
  return async function orderEvents(
    message: unknown,
    client: df.DurableClient,
    context: InvocationContext,
  ): Promise<void> {
    const meta = context.triggerMetadata ?? {};
    const messageId = text(meta.messageId);
    const sessionId = text(meta.sessionId);
    const parsed = parseOrderMessage(
      message,
      { messageId: messageId ?? undefined, sessionId: sessionId ?? undefined },
      deps.rules,
    );
    if (!parsed.ok) {
      const sequenceNumber = num(meta.sequenceNumber);
      const record: DeadLetteredOrderEvent = {
        id: deadLetterId(messageId, sequenceNumber),
        reason: parsed.reason,
        issues: parsed.issues,
        deadLetteredAt: deps.now().toISOString(),
        message: {
          messageId,
          sessionId,
          sequenceNumber,
          enqueuedTimeUtc: text(meta.enqueuedTimeUtc),
          deliveryCount: num(meta.deliveryCount),
          body: bodyText(message),
        },
        replays: [],
      };
      await deps.deadLetters.put(record);
      const t = telemetry.forInvocation(context);
      t.log.warn(TELEMETRY_EVENT.deadLettered, {
        messageId: messageId ?? undefined,
        sessionId: sessionId ?? undefined,
        queue,
        deadLetterId: record.id,
        reason: parsed.reason,
        issues: parsed.issues.slice(0, 5).join('; '),
        enqueuedTimeUtc: record.message.enqueuedTimeUtc,
        deliveryCount: record.message.deliveryCount,
      });
      t.metrics.record(METRIC.deadLetterCount, 1, { queue, source: 'trigger' });
      return;
    }
    const enqueuedTimeUtc = text(meta.enqueuedTimeUtc);
    const event: DeliveredOrderEvent =
      enqueuedTimeUtc === null ? parsed.event : { ...parsed.event, enqueuedTimeUtc };
    const instanceId = await startIngest(client, event);
    telemetry.forInvocation(context).log.info(TELEMETRY_EVENT.orderReceived, {
      messageId: messageId ?? undefined,
      sessionId: sessionId ?? undefined,
      orderId: event.orderId,
      region: event.region,
      version: event.version,
      instanceId,
      enqueuedTimeUtc: enqueuedTimeUtc,
      deliveryCount: num(meta.deliveryCount),
    });
  };
}

const json = (status: number, body: unknown): HttpResponseInit => ({ status, jsonBody: body });

/** Reads an order's coordinator state, or the HTTP answer explaining why there is none. */
async function readOrder(
  deps: Pick<OrderRuntime, 'rules'>,
  request: HttpRequest,
  client: df.DurableClient,
): Promise<
  | {
      readonly ok: true;
      readonly region: string;
      readonly orderId: string;
      readonly entity: string;
      readonly state: OrderSyncState;
    }
  | { readonly ok: false; readonly answer: HttpResponseInit }
> {
  const region = request.params.region ?? '';
  const orderId = request.params.orderId ?? '';
  if (!deps.rules.sourceRegions.includes(region) || !ORDER_ID_PATTERN.test(orderId))
    return {
      ok: false,
      answer: json(400, { error: `no order ${region}/${orderId}: unknown region or malformed order id` }),
    };
  const entityId = new df.EntityId(ORDER_SYNC_ENTITY, orderEntityKey(region, orderId));
  const read = await client.readEntityState<OrderSyncState>(entityId);
  if (!read.entityExists || read.entityState === undefined)
    return { ok: false, answer: json(404, { error: `order ${region}/${orderId} has no sync state yet` }) };
  return {
    ok: true,
    region,
    orderId,
    entity: `${entityId.name}@${entityId.key}`,
    state: upgradeOrderSyncState(read.entityState),
  };
}

/**
 * Whether an order is stuck: its turn is held by an orchestration that no longer runs
 * (terminated, purged, failed outside its saga), or versions wait with no turn held.
 */
async function stuckOf(
  client: df.DurableClient,
  s: OrderSyncState,
): Promise<{
  readonly runner: string | null;
  readonly runnerStatus: string;
  readonly reason: string;
} | null> {
  if (s.running !== null) {
    const status = await runnerStatus(client, { instanceId: s.running.runner });
    if (status.alive) return null;
    return {
      runner: s.running.runner,
      runnerStatus: status.status,
      reason: `v${s.running.version} is held by ${s.running.runner}, which is ${status.status}`,
    };
  }
  if (s.waiting.length > 0)
    return {
      runner: null,
      runnerStatus: 'none',
      reason: `${s.waiting.length} version(s) wait and no turn is held`,
    };
  return null;
}

/** GET /api/orders/{region}/{orderId}: the order's coordinator state, and whether it is stuck. */
export function createOrderStatus(deps: Pick<OrderRuntime, 'rules'>) {
  return async function orderStatus(
    request: HttpRequest,
    client: df.DurableClient,
  ): Promise<HttpResponseInit> {
    const read = await readOrder(deps, request, client);
    if (!read.ok) return read.answer;
    const s = read.state;
    return json(200, {
      entity: read.entity,
      ...s,
      // The events' payloads stay in the entity; the status shows their versions.
      waiting: s.waiting.map((w) => ({ version: w.version, receivedAt: w.receivedAt })),
      running: s.running === null ? null : { ...s.running, event: undefined },
      stuck: await stuckOf(client, s),
    });
  };
}

/**
 * POST /api/orders/{region}/{orderId}/unstick: when the order is stuck (see stuckOf), starts an
 * orderIngest that takes the turn over from the runner that stopped and applies the newest
 * waiting version (202 with its instance id). A live runner keeps its turn (409): an order in an
 * outage backoff is delayed, not stuck. Nothing held or waiting: 200, nothing done.
 */
export function createOrderUnstick(deps: Pick<OrderRuntime, 'rules' | 'now'>) {
  return async function orderUnstick(
    request: HttpRequest,
    client: df.DurableClient,
  ): Promise<HttpResponseInit> {
    const read = await readOrder(deps, request, client);
    if (!read.ok) return read.answer;
    const s = read.state;
    const stuck = await stuckOf(client, s);
    if (stuck === null)
      return s.running === null
        ? json(200, {
            order: `${read.region}/${read.orderId}`,
            unstuck: false,
            reason: 'nothing held or waiting',
          })
        : json(409, {
            error: `order ${read.region}/${read.orderId} is not stuck: ${s.running.runner} still runs v${s.running.version}`,
          });
    const instanceId = unstickInstanceId(read.region, read.orderId, deps.now());
    const input: OrderIngestInput = {
      kind: 'takeover',
      region: read.region,
      orderId: read.orderId,
      staleRunner: stuck.runner ?? '',
      reason: `is ${stuck.runnerStatus} (unstick request)`,
    };
    await client.startNew(orderOrchestrators.orderIngest.name, { instanceId, input });
    return json(202, { order: `${read.region}/${read.orderId}`, unstuck: true, instanceId, stuck });
  };
}

/** GET /api/order-deadletters?max=100 */
export function createListDeadLetters(
  deps: Pick<OrderRuntime, 'deadLetters'>,
  telemetry: Telemetry = silentTelemetry,
  queue = 'order-events',
) {
  return async function listDeadLetters(
    request: HttpRequest,
    context?: InvocationContext,
  ): Promise<HttpResponseInit> {
    const max = Math.min(1000, Math.max(1, Number(request.query.get('max') ?? '100') || 100));
    const records = await deps.deadLetters.list(max);
    // A gauge of the app's dead letters, when the listing holds them all (it is capped at max).
    if (context !== undefined && records.length < max)
      telemetry
        .forInvocation(context as LogSink)
        .metrics.record(METRIC.deadLetterCount, records.length, { queue, source: 'list' });
    return json(200, {
      deadLetters: records.map((r) => ({
        id: r.id,
        reason: r.reason,
        issues: r.issues,
        deadLetteredAt: r.deadLetteredAt,
        messageId: r.message.messageId,
        replays: r.replays.length,
        replayed: r.replays.some((x) => x.outcome === 'accepted'),
      })),
    });
  };
}

/** GET /api/order-deadletters/{id} */
export function createGetDeadLetter(deps: Pick<OrderRuntime, 'deadLetters'>) {
  return async function getDeadLetter(request: HttpRequest): Promise<HttpResponseInit> {
    const id = request.params.id ?? '';
    const record = /^[A-Za-z0-9._-]{1,200}$/.test(id) ? await deps.deadLetters.get(id) : null;
    return record === null ? json(404, { error: `no dead letter '${id}'` }) : json(200, record);
  };
}

/**
 * POST /api/order-deadletters/{id}/replay, body: nothing (replay as received, after a fix of the
 * app or its config) or the corrected event. The event is validated as the trigger does and goes
 * through the same entity version guard; the attempt is recorded on the dead letter.
 */
export function createReplayDeadLetter(
  deps: Pick<OrderRuntime, 'rules' | 'deadLetters' | 'now'>,
  telemetry: Telemetry = silentTelemetry,
) {
  return async function replayDeadLetter(
    request: HttpRequest,
    client: df.DurableClient,
    context?: InvocationContext,
  ): Promise<HttpResponseInit> {
    const id = request.params.id ?? '';
    const record = /^[A-Za-z0-9._-]{1,200}$/.test(id) ? await deps.deadLetters.get(id) : null;
    if (record === null) return json(404, { error: `no dead letter '${id}'` });
    const supplied = (await request.text()).trim();
    const parsed = parseOrderMessage(supplied === '' ? record.message.body : supplied, {}, deps.rules);
    const at = deps.now().toISOString();
    if (!parsed.ok) {
      await deps.deadLetters.put({
        ...record,
        replays: [
          ...record.replays,
          { at, outcome: 'invalid', reason: parsed.reason, issues: parsed.issues },
        ],
      });
      return json(422, { id, reason: parsed.reason, issues: parsed.issues });
    }
    const instanceId = await startIngest(client, parsed.event);
    if (context !== undefined)
      telemetry.forInvocation(context).log.info(TELEMETRY_EVENT.deadLetterReplayed, {
        deadLetterId: id,
        orderId: parsed.event.orderId,
        region: parsed.event.region,
        version: parsed.event.version,
        instanceId,
      });
    await deps.deadLetters.put({
      ...record,
      replays: [...record.replays, { at, outcome: 'accepted', instanceId }],
    });
    return json(202, {
      id,
      instanceId,
      order: `${parsed.event.region}/${parsed.event.orderId}`,
      version: parsed.event.version,
    });
  };
}
