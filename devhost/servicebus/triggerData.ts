import type { TypedData } from '../worker/coreTypes';
import type { BrokeredMessage } from './port';

/**
 * What the Functions host hands a Node worker for a Service Bus trigger: the body (string, or
 * bytes when the binding says `dataType: 'binary'`) and the Service Bus extension's binding data
 * (`ServiceBusTriggerBindingStrategy` in Microsoft.Azure.WebJobs.Extensions.ServiceBus), with
 * the RPC typing the host uses — strings as `{string}`, numbers, dates and dictionaries as
 * `{json}`. The library camel-cases the keys (protocol A.5), so the app reads
 * `context.triggerMetadata.messageId`, `.deliveryCount`, `.applicationProperties`, ...
 * For `cardinality: many` the body is a collection and every key is an `...Array`.
 */
export function triggerDataFor(messages: BrokeredMessage[], many: boolean, binary: boolean): TypedData {
  if (!many) {
    const m = messages[0];
    if (!m) return {};
    return binary ? { bytes: m.body } : { string: m.body.toString('utf8') };
  }
  return binary
    ? { collectionBytes: { bytes: messages.map((m) => m.body) } }
    : { collectionString: { string: messages.map((m) => m.body.toString('utf8')) } };
}

/** One message's binding data, PascalCase keys, plain values (undefined when the message has none). */
function bindingValues(m: BrokeredMessage): Record<string, unknown> {
  const expiresAt = m.expiresAtUtc ?? MAX_DATE;
  return {
    DeliveryCount: m.deliveryCount,
    DeadLetterSource: m.deadLetterSource,
    LockToken: m.lockToken,
    ExpiresAtUtc: isoUtc(expiresAt),
    ExpiresAt: isoOffset(expiresAt),
    EnqueuedTimeUtc: isoUtc(m.enqueuedTimeUtc),
    EnqueuedTime: isoOffset(m.enqueuedTimeUtc),
    MessageId: m.messageId,
    ContentType: m.contentType,
    ReplyTo: m.replyTo,
    SequenceNumber: m.sequenceNumber,
    To: m.to,
    Subject: m.subject,
    Label: m.subject,
    CorrelationId: m.correlationId,
    ApplicationProperties: m.applicationProperties,
    UserProperties: m.applicationProperties,
    SessionId: m.sessionId,
    ReplyToSessionId: m.replyToSessionId,
    PartitionKey: m.partitionKey,
    TransactionPartitionKey: undefined,
  };
}

/** Keys the host sends as `{string}` (strings); the rest go as `{json}`. */
const STRING_KEYS = new Set([
  'DeadLetterSource',
  'LockToken',
  'MessageId',
  'ContentType',
  'ReplyTo',
  'To',
  'Subject',
  'Label',
  'CorrelationId',
  'SessionId',
  'ReplyToSessionId',
  'PartitionKey',
  'TransactionPartitionKey',
]);

export function triggerMetadataFor(messages: BrokeredMessage[], many: boolean): Record<string, TypedData> {
  const out: Record<string, TypedData> = {};
  if (!many) {
    const m = messages[0];
    if (!m) return out;
    for (const [key, value] of Object.entries(bindingValues(m))) {
      if (value === undefined) continue;
      out[key] =
        STRING_KEYS.has(key) && typeof value === 'string'
          ? { string: value }
          : { json: JSON.stringify(value) };
    }
    return out;
  }
  const rows = messages.map(bindingValues);
  for (const key of Object.keys(rows[0] ?? {})) {
    out[`${key}Array`] = { json: JSON.stringify(rows.map((r) => r[key] ?? null)) };
  }
  return out;
}

/** .NET's DateTimeOffset.MaxValue: what a message that never expires reports. */
const MAX_DATE = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}

function isoOffset(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}
