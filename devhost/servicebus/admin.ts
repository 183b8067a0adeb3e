import type { HostHttpRequest, HostHttpResponse, HostRoutes } from '../extension';
import type { EmbeddedBroker } from './embedded/broker';
import { ServiceBusBrokerError } from './errors';
import type { BrokeredMessage, MessageProperties, OutgoingMessage } from './port';
import { parseSourcePath } from './port';
import { duration } from './settings';

/** The admin API's base path. */
export const SERVICEBUS_ADMIN_BASE = '/admin/servicebus';

/**
 * A message as the admin API accepts it: `body` is sent as text (strings as they are, other JSON
 * values serialised), or `bodyBase64` as bytes. Times are ISO strings or ms since the epoch;
 * `timeToLive` is ms or a TimeSpan/ISO 8601 duration.
 */
export interface AdminMessage extends MessageProperties {
  body?: unknown;
  bodyBase64?: string;
  applicationProperties?: Record<string, string | number | boolean | null>;
  scheduledEnqueueTimeUtc?: string | number;
  timeToLive?: string | number;
}

/**
 * Admin HTTP for the embedded broker:
 * - `GET  /admin/servicebus/entities` — every queue and subscription with its depths
 * - `POST /admin/servicebus/entities/{entity}/messages` — body: one message, an array, or `{messages: [...]}`
 * - `GET  /admin/servicebus/messages?source=<queue|topic/Subscriptions/sub>&deadLetter=true&max=100&sessionId=`
 * - `POST /admin/servicebus/deadletters/resubmit` and `/purge` — body `{source, sequenceNumbers?}`
 */
export function registerServiceBusAdminRoutes(
  routes: HostRoutes,
  broker: () => EmbeddedBroker | undefined,
): void {
  const guarded =
    (handler: (b: EmbeddedBroker, request: HostHttpRequest) => HostHttpResponse) =>
    (request: HostHttpRequest): HostHttpResponse => {
      const b = broker();
      if (!b) {
        return {
          status: 404,
          body: {
            error: {
              code: 'NoEmbeddedBroker',
              message: 'No Service Bus binding of this app uses the embedded broker.',
            },
          },
        };
      }
      try {
        return handler(b, request);
      } catch (err) {
        return errorResponse(err);
      }
    };

  routes.add(
    'GET',
    `${SERVICEBUS_ADMIN_BASE}/entities`,
    guarded((b) => ({ status: 200, body: { entities: b.depth() } })),
  );

  routes.add(
    'POST',
    `${SERVICEBUS_ADMIN_BASE}/entities/{entity}/messages`,
    guarded((b, request) => {
      const entity = request.params.entity ?? '';
      const parsed = readJson(request);
      const list: unknown[] = Array.isArray(parsed)
        ? parsed
        : isRecord(parsed) && Array.isArray(parsed.messages)
          ? (parsed.messages as unknown[])
          : [parsed];
      const messages = list.map((item, i) => toOutgoing(item, i));
      const result = b.sendSync(entity, messages);
      return { status: 201, body: { entity, ...result } };
    }),
  );

  routes.add(
    'GET',
    `${SERVICEBUS_ADMIN_BASE}/messages`,
    guarded((b, request) => {
      const q = request.url.searchParams;
      const source = parseSourcePath(requiredParam(q.get('source'), 'source'));
      const deadLetter = ['1', 'true', 'yes'].includes((q.get('deadLetter') ?? '').toLowerCase());
      const max = q.get('max') === null ? 100 : Number(q.get('max'));
      if (!Number.isInteger(max) || max <= 0) throw badRequest('max must be a positive integer.');
      const sessionId = q.get('sessionId') ?? undefined;
      const messages = b.peekSync(source, {
        deadLetter,
        max,
        ...(sessionId === undefined ? {} : { sessionId }),
      });
      return { status: 200, body: { messages: messages.map(toAdminView) } };
    }),
  );

  for (const action of ['resubmit', 'purge'] as const) {
    routes.add(
      'POST',
      `${SERVICEBUS_ADMIN_BASE}/deadletters/${action}`,
      guarded((b, request) => {
        const parsed = readJson(request);
        if (!isRecord(parsed) || typeof parsed.source !== 'string')
          throw badRequest('Body must be {"source": "...", "sequenceNumbers"?: [...]}.');
        const source = parseSourcePath(parsed.source);
        let seqs: number[] | undefined;
        if (parsed.sequenceNumbers !== undefined) {
          if (
            !Array.isArray(parsed.sequenceNumbers) ||
            !parsed.sequenceNumbers.every((n) => Number.isInteger(n))
          )
            throw badRequest('sequenceNumbers must be an array of integers.');
          seqs = parsed.sequenceNumbers as number[];
        }
        const count =
          action === 'resubmit' ? b.resubmitDeadLetters(source, seqs) : b.purgeDeadLetters(source, seqs);
        return {
          status: 200,
          body: { source: parsed.source, [action === 'resubmit' ? 'resubmitted' : 'purged']: count },
        };
      }),
    );
  }
}

/** A peeked message for people and scripts: text body, ISO times. */
export function toAdminView(m: BrokeredMessage): Record<string, unknown> {
  const text = m.body.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(m.body);
  return {
    sequenceNumber: m.sequenceNumber,
    messageId: m.messageId,
    sessionId: m.sessionId,
    state: m.state,
    deliveryCount: m.deliveryCount,
    enqueuedTimeUtc: new Date(m.enqueuedTimeUtc).toISOString(),
    expiresAtUtc: m.expiresAtUtc === undefined ? undefined : new Date(m.expiresAtUtc).toISOString(),
    contentType: m.contentType,
    correlationId: m.correlationId,
    subject: m.subject,
    to: m.to,
    replyTo: m.replyTo,
    applicationProperties: m.applicationProperties,
    deadLetterReason: m.deadLetterReason,
    deadLetterErrorDescription: m.deadLetterErrorDescription,
    ...(printable ? { body: text } : { bodyBase64: m.body.toString('base64') }),
  };
}

function toOutgoing(item: unknown, index: number): OutgoingMessage {
  if (!isRecord(item)) throw badRequest(`Message ${index} must be a JSON object with a "body".`);
  const m = item as AdminMessage;
  if (m.body === undefined && m.bodyBase64 === undefined)
    throw badRequest(`Message ${index} has no "body" or "bodyBase64".`);
  const out: OutgoingMessage = {
    body:
      m.bodyBase64 !== undefined
        ? Buffer.from(m.bodyBase64, 'base64')
        : typeof m.body === 'string'
          ? m.body
          : JSON.stringify(m.body),
  };
  for (const key of [
    'messageId',
    'sessionId',
    'contentType',
    'correlationId',
    'subject',
    'to',
    'replyTo',
    'replyToSessionId',
    'partitionKey',
  ] as const) {
    const value = m[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw badRequest(`Message ${index}: ${key} must be a string.`);
    out[key] = value;
  }
  if (m.applicationProperties !== undefined) {
    if (!isRecord(m.applicationProperties))
      throw badRequest(`Message ${index}: applicationProperties must be an object.`);
    out.applicationProperties = m.applicationProperties;
  }
  if (m.scheduledEnqueueTimeUtc !== undefined) {
    const at =
      typeof m.scheduledEnqueueTimeUtc === 'number'
        ? m.scheduledEnqueueTimeUtc
        : Date.parse(m.scheduledEnqueueTimeUtc);
    if (!Number.isFinite(at)) throw badRequest(`Message ${index}: scheduledEnqueueTimeUtc is not a time.`);
    out.scheduledEnqueueTimeUtc = at;
  }
  if (m.timeToLive !== undefined) {
    let ttl: number | undefined;
    try {
      ttl = duration(m.timeToLive);
    } catch (err) {
      throw badRequest(`Message ${index}: ${(err as Error).message}`);
    }
    if (ttl === undefined || ttl <= 0) throw badRequest(`Message ${index}: timeToLive must be positive.`);
    out.timeToLiveMs = ttl;
  }
  return out;
}

function readJson(request: HostHttpRequest): unknown {
  const text = request.body.toString('utf8');
  if (text.trim() === '') throw badRequest('The request needs a JSON body.');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('The body is not valid JSON.');
  }
}

function requiredParam(value: string | null, name: string): string {
  if (value === null || value === '') throw badRequest(`Query parameter "${name}" is required.`);
  return value;
}

class BadRequest extends Error {}

function badRequest(message: string): BadRequest {
  return new BadRequest(message);
}

function errorResponse(err: unknown): HostHttpResponse {
  if (err instanceof BadRequest)
    return { status: 400, body: { error: { code: 'BadRequest', message: err.message } } };
  if (err instanceof ServiceBusBrokerError) {
    const status = err.code === 'MessagingEntityNotFound' ? 404 : err.code === 'InvalidOperation' ? 400 : 500;
    return { status, body: { error: { code: err.code, message: err.message, retryable: err.retryable } } };
  }
  // parseSourcePath and friends throw plain errors for malformed input.
  return { status: 400, body: { error: { code: 'BadRequest', message: (err as Error).message } } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
