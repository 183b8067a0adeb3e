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
import { ORDER_SYNC_ENTITY, ingestInstanceId, orderOrchestrators } from '../activities/orderContracts.js';
import type { OrderRuntime } from '../activities/orderRuntime.js';
import type { DeadLetteredOrderEvent } from '../sync/orderEvent.js';
import { ORDER_ID_PATTERN, deadLetterId, parseOrderMessage } from '../sync/orderEvent.js';
import type { OrderSyncState } from '../sync/orderSyncState.js';
import { orderEntityKey } from '../sync/orderSyncState.js';

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

/** GET /api/orders/{region}/{orderId}: the order's coordinator state. */
export function createOrderStatus(deps: Pick<OrderRuntime, 'rules'>) {
  return async function orderStatus(
    request: HttpRequest,
    client: df.DurableClient,
  ): Promise<HttpResponseInit> {
    const region = request.params.region ?? '';
    const orderId = request.params.orderId ?? '';
    if (!deps.rules.sourceRegions.includes(region) || !ORDER_ID_PATTERN.test(orderId))
      return json(400, { error: `no order ${region}/${orderId}: unknown region or malformed order id` });
    const entityId = new df.EntityId(ORDER_SYNC_ENTITY, orderEntityKey(region, orderId));
    const read = await client.readEntityState<OrderSyncState>(entityId);
    if (!read.entityExists || read.entityState === undefined)
      return json(404, { error: `order ${region}/${orderId} has no sync state yet` });
    const s = read.entityState;
    return json(200, {
      entity: `${entityId.name}@${entityId.key}`,
      ...s,
      // The waiting events' payloads stay in the entity; the status shows their versions.
      waiting: s.waiting.map((w) => ({ version: w.version, receivedAt: w.receivedAt })),
    });
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
