/**
 * The broker port: what the Service Bus trigger, the output binding and the admin surface need
 * from a broker. Two adapters implement it — the embedded SQLite broker and Azure Service Bus
 * through `@azure/service-bus` — and one conformance suite checks both, so an app sees the same
 * semantics locally and in the cloud.
 */

/** A queue, or a subscription of a topic. Messages are received from a source. */
export type ReceiveSource = { queue: string } | { topic: string; subscription: string };

/** The optional system properties every form of a message carries (sent, stored, received, admin). */
export interface MessageProperties {
  messageId?: string;
  sessionId?: string;
  contentType?: string;
  correlationId?: string;
  subject?: string;
  to?: string;
  replyTo?: string;
  replyToSessionId?: string;
  partitionKey?: string;
}

/** A message as a sender hands it over. Times are ms since the epoch, durations ms. */
export interface OutgoingMessage extends MessageProperties {
  body: Buffer | string;
  applicationProperties?: Record<string, string | number | boolean | null>;
  /** The message becomes visible to receivers at this time, not before. */
  scheduledEnqueueTimeUtc?: number;
  /** Time to live; the entity's default (unbounded here) when absent. */
  timeToLiveMs?: number;
}

/**
 * A received (locked) or peeked message. Property names follow the Functions Service Bus
 * extension's binding data, camel-cased (what `context.triggerMetadata` shows a Node app).
 */
export interface BrokeredMessage extends MessageProperties {
  body: Buffer;
  messageId: string;
  applicationProperties: Record<string, unknown>;
  /** Counts this delivery: 1 on the first one, as the Functions host reports it. */
  deliveryCount: number;
  sequenceNumber: number;
  enqueuedTimeUtc: number;
  /** Absent when the message never expires. */
  expiresAtUtc?: number;
  /** Set for received messages; absent for peeked ones. */
  lockToken?: string;
  lockedUntilUtc?: number;
  /** 'active' | 'scheduled' | 'deadLettered' — where the message sits (peek only). */
  state?: 'active' | 'scheduled' | 'deadLettered';
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
  deadLetterSource?: string;
}

export interface DeadLetterOptions {
  /** Short machine-readable reason (e.g. `MalformedOrderEvent`). */
  reason: string;
  description?: string;
}

/**
 * A peek-lock receiver bound to one source, or to one session of it. Settling a message whose
 * lock was lost fails with code `MessageLockLost` (or `SessionLockLost`).
 */
export interface BrokerReceiver {
  /** Set when this receiver holds a session lock. */
  readonly sessionId?: string;
  /**
   * Locks and returns up to `max` messages, waiting up to `maxWaitMs` for the first one. Returns
   * an empty array when nothing came in time (or when the receiver was closed meanwhile).
   */
  receive(max: number, maxWaitMs: number): Promise<BrokeredMessage[]>;
  complete(message: BrokeredMessage): Promise<void>;
  /** Gives the lock back; the delivery count stays incremented, and past the maximum the message is dead-lettered. */
  abandon(message: BrokeredMessage): Promise<void>;
  /**
   * Gives the lock back for a message no function saw (the host refused it: stopping, not ready),
   * so it does not count as a delivery. The embedded broker takes the count back; Azure Service Bus
   * cannot (every lock counts there), so its adapter abandons.
   */
  release(message: BrokeredMessage): Promise<void>;
  deadLetter(message: BrokeredMessage, options: DeadLetterOptions): Promise<void>;
  /** Extends the message's lock (or, for a session receiver, the session lock). Returns the new locked-until time. */
  renewLock(message: BrokeredMessage): Promise<number>;
  /** Releases the receiver (and its session lock). Unsettled messages come back once their lock expires. */
  close(): Promise<void>;
}

export interface PeekOptions {
  deadLetter?: boolean;
  max?: number;
  /** Only messages of this session. */
  sessionId?: string;
}

export interface BrokerPort {
  readonly kind: 'embedded' | 'azure';
  /** Sends to a queue or a topic. Duplicates (by messageId, inside the entity's window) are dropped silently, as Azure does. */
  send(entity: string, messages: OutgoingMessage[]): Promise<void>;
  /** A receiver for a source without sessions. */
  createReceiver(source: ReceiveSource): BrokerReceiver;
  /**
   * Locks the next session that has messages available and returns a receiver bound to it, or
   * undefined when none became available within `maxWaitMs` (or `signal` aborted the wait).
   */
  acceptNextSession(
    source: ReceiveSource,
    maxWaitMs: number,
    signal?: AbortSignal,
  ): Promise<BrokerReceiver | undefined>;
  /** Looks at messages without locking them, in sequence order. */
  peek(source: ReceiveSource, options?: PeekOptions): Promise<BrokeredMessage[]>;
  close(): Promise<void>;
}

export function sourcePath(source: ReceiveSource): string {
  return 'queue' in source ? source.queue : `${source.topic}/Subscriptions/${source.subscription}`;
}

/** Parses `queue` or `topic/Subscriptions/sub` (also `topic/sub`) back into a source. */
export function parseSourcePath(path: string): ReceiveSource {
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length === 1 && parts[0]) return { queue: parts[0] };
  if (parts.length === 3 && parts[0] && parts[2] && parts[1]?.toLowerCase() === 'subscriptions')
    return { topic: parts[0], subscription: parts[2] };
  if (parts.length === 2 && parts[0] && parts[1]) return { topic: parts[0], subscription: parts[1] };
  throw new Error(`"${path}" is neither a queue name nor "topic/Subscriptions/subscription".`);
}
