import { DefaultAzureCredential } from '@azure/identity';
import type {
  ServiceBusMessage,
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
  ServiceBusSender,
  ServiceBusSessionReceiver,
} from '@azure/service-bus';
import { ServiceBusClient } from '@azure/service-bus';
import { ServiceBusBrokerError, toServiceBusBrokerError } from '../errors';
import type {
  BrokeredMessage,
  BrokerPort,
  BrokerReceiver,
  DeadLetterOptions,
  OutgoingMessage,
  PeekOptions,
  ReceiveSource,
} from '../port';

export type AzureBrokerOptions = { connectionString: string } | { fullyQualifiedNamespace: string };

/**
 * Azure Service Bus through `@azure/service-bus`, shaped as the broker port. Receivers run in
 * peek-lock mode with the SDK's automatic lock renewal off: the trigger listener renews locks
 * itself, the same way for both adapters. Bodies are sent as AMQP data sections (bytes), which
 * is what the Functions host reads as the message body whatever the language.
 */
export class AzureServiceBusBroker implements BrokerPort {
  readonly kind = 'azure' as const;
  readonly client: ServiceBusClient;
  readonly #senders = new Map<string, ServiceBusSender>();
  readonly #receivers = new Set<AzureReceiver>();

  constructor(options: AzureBrokerOptions) {
    this.client =
      'connectionString' in options
        ? new ServiceBusClient(options.connectionString)
        : new ServiceBusClient(options.fullyQualifiedNamespace, new DefaultAzureCredential());
  }

  async send(entity: string, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      let sender = this.#senders.get(entity.toLowerCase());
      if (!sender) {
        sender = this.client.createSender(entity);
        this.#senders.set(entity.toLowerCase(), sender);
      }
      await sender.sendMessages(messages.map(toSdkMessage));
    } catch (err) {
      throw toServiceBusBrokerError(err);
    }
  }

  createReceiver(source: ReceiveSource): BrokerReceiver {
    const options = { receiveMode: 'peekLock' as const, maxAutoLockRenewalDurationInMs: 0 };
    const receiver =
      'queue' in source
        ? this.client.createReceiver(source.queue, options)
        : this.client.createReceiver(source.topic, source.subscription, options);
    return this.#track(new AzureReceiver(receiver, undefined, this.#receivers));
  }

  async acceptNextSession(
    source: ReceiveSource,
    maxWaitMs: number,
    signal?: AbortSignal,
  ): Promise<BrokerReceiver | undefined> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), maxWaitMs);
    const forward = () => abort.abort();
    signal?.addEventListener('abort', forward, { once: true });
    try {
      const options = { maxAutoLockRenewalDurationInMs: 0, abortSignal: abort.signal };
      const receiver =
        'queue' in source
          ? await this.client.acceptNextSession(source.queue, options)
          : await this.client.acceptNextSession(source.topic, source.subscription, options);
      return this.#track(new AzureReceiver(receiver, receiver, this.#receivers));
    } catch (err) {
      if (abort.signal.aborted) return undefined;
      const error = toServiceBusBrokerError(err);
      // No session became available within the service's own wait: the same as "none yet".
      if (error.code === 'ServiceTimeout' || error.code === 'SessionCannotBeLocked') return undefined;
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
    }
  }

  async peek(source: ReceiveSource, options: PeekOptions = {}): Promise<BrokeredMessage[]> {
    const max = options.max ?? 100;
    let receiver: ServiceBusReceiver | undefined;
    try {
      const receiverOptions = options.deadLetter ? { subQueueType: 'deadLetter' as const } : {};
      if (options.sessionId !== undefined && !options.deadLetter) {
        receiver =
          'queue' in source
            ? await this.client.acceptSession(source.queue, options.sessionId)
            : await this.client.acceptSession(source.topic, source.subscription, options.sessionId);
      } else {
        receiver =
          'queue' in source
            ? this.client.createReceiver(source.queue, receiverOptions)
            : this.client.createReceiver(source.topic, source.subscription, receiverOptions);
      }
      const peeked = await receiver.peekMessages(max);
      return peeked.map((m) => fromSdkMessage(m, options.deadLetter ? 'deadLettered' : 'active', false));
    } catch (err) {
      throw toServiceBusBrokerError(err);
    } finally {
      await receiver?.close();
    }
  }

  #track(receiver: AzureReceiver): AzureReceiver {
    this.#receivers.add(receiver);
    return receiver;
  }

  async close(): Promise<void> {
    for (const receiver of [...this.#receivers]) await receiver.close();
    for (const sender of this.#senders.values()) await sender.close();
    this.#senders.clear();
    await this.client.close();
  }
}

class AzureReceiver implements BrokerReceiver {
  readonly #originals = new WeakMap<BrokeredMessage, ServiceBusReceivedMessage>();
  #closed = false;

  constructor(
    private readonly receiver: ServiceBusReceiver,
    private readonly session: ServiceBusSessionReceiver | undefined,
    private readonly registry: Set<AzureReceiver>,
  ) {}

  get sessionId(): string | undefined {
    return this.session?.sessionId;
  }

  async receive(max: number, maxWaitMs: number): Promise<BrokeredMessage[]> {
    if (this.#closed) return [];
    try {
      const received = await this.receiver.receiveMessages(max, { maxWaitTimeInMs: maxWaitMs });
      return received.map((original) => {
        const message = fromSdkMessage(original, 'active', true);
        this.#originals.set(message, original);
        return message;
      });
    } catch (err) {
      if (this.#closed) return [];
      throw toServiceBusBrokerError(err);
    }
  }

  async complete(message: BrokeredMessage): Promise<void> {
    await this.#settle(message, (m) => this.receiver.completeMessage(m));
  }

  async abandon(message: BrokeredMessage): Promise<void> {
    await this.#settle(message, (m) => this.receiver.abandonMessage(m));
  }

  /** Azure counts every lock: the nearest it offers is an abandon. */
  async release(message: BrokeredMessage): Promise<void> {
    await this.abandon(message);
  }

  async deadLetter(message: BrokeredMessage, options: DeadLetterOptions): Promise<void> {
    await this.#settle(message, (m) =>
      this.receiver.deadLetterMessage(m, {
        deadLetterReason: options.reason,
        deadLetterErrorDescription: options.description ?? '',
      }),
    );
  }

  async renewLock(message: BrokeredMessage): Promise<number> {
    try {
      if (this.session) return (await this.session.renewSessionLock()).getTime();
      return (await this.receiver.renewMessageLock(this.#original(message))).getTime();
    } catch (err) {
      throw toServiceBusBrokerError(err);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.registry.delete(this);
    try {
      await this.receiver.close();
    } catch {
      // Closing a receiver whose link already died is not an error worth reporting.
    }
  }

  async #settle(
    message: BrokeredMessage,
    action: (m: ServiceBusReceivedMessage) => Promise<void>,
  ): Promise<void> {
    try {
      await action(this.#original(message));
    } catch (err) {
      throw toServiceBusBrokerError(err);
    }
  }

  #original(message: BrokeredMessage): ServiceBusReceivedMessage {
    const original = this.#originals.get(message);
    if (!original) {
      throw new ServiceBusBrokerError('MessageNotFound', 'This message was not received by this receiver.', {
        retryable: false,
      });
    }
    return original;
  }
}

function toSdkMessage(message: OutgoingMessage): ServiceBusMessage {
  const out: ServiceBusMessage = {
    body: typeof message.body === 'string' ? Buffer.from(message.body, 'utf8') : message.body,
  };
  if (message.messageId !== undefined) out.messageId = message.messageId;
  if (message.sessionId !== undefined) out.sessionId = message.sessionId;
  if (message.contentType !== undefined) out.contentType = message.contentType;
  if (message.correlationId !== undefined) out.correlationId = message.correlationId;
  if (message.subject !== undefined) out.subject = message.subject;
  if (message.to !== undefined) out.to = message.to;
  if (message.replyTo !== undefined) out.replyTo = message.replyTo;
  if (message.replyToSessionId !== undefined) out.replyToSessionId = message.replyToSessionId;
  if (message.partitionKey !== undefined) out.partitionKey = message.partitionKey;
  if (message.applicationProperties !== undefined) out.applicationProperties = message.applicationProperties;
  if (message.scheduledEnqueueTimeUtc !== undefined)
    out.scheduledEnqueueTimeUtc = new Date(message.scheduledEnqueueTimeUtc);
  if (message.timeToLiveMs !== undefined) out.timeToLive = message.timeToLiveMs;
  return out;
}

/**
 * The SDK's received message in the port's shape. The JS SDK reports the AMQP delivery count
 * (0 on the first delivery); the Functions host (.NET SDK) reports it plus one, so we add one.
 */
function fromSdkMessage(
  m: ServiceBusReceivedMessage,
  state: 'active' | 'deadLettered',
  locked: boolean,
): BrokeredMessage {
  const body = m.body as unknown;
  const out: BrokeredMessage = {
    body: Buffer.isBuffer(body)
      ? body
      : body instanceof Uint8Array
        ? Buffer.from(body)
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body ?? null), 'utf8'),
    messageId: m.messageId === undefined ? '' : String(m.messageId),
    applicationProperties: { ...m.applicationProperties },
    deliveryCount: (m.deliveryCount ?? 0) + (locked ? 1 : 0),
    sequenceNumber: m.sequenceNumber === undefined ? 0 : m.sequenceNumber.toNumber(),
    enqueuedTimeUtc: m.enqueuedTimeUtc?.getTime() ?? 0,
    state,
  };
  if (m.sessionId !== undefined) out.sessionId = m.sessionId;
  if (m.contentType !== undefined) out.contentType = m.contentType;
  if (m.correlationId !== undefined) out.correlationId = String(m.correlationId);
  if (m.subject !== undefined) out.subject = m.subject;
  if (m.to !== undefined) out.to = m.to;
  if (m.replyTo !== undefined) out.replyTo = m.replyTo;
  if (m.replyToSessionId !== undefined) out.replyToSessionId = m.replyToSessionId;
  if (m.partitionKey !== undefined) out.partitionKey = m.partitionKey;
  if (m.expiresAtUtc !== undefined && m.expiresAtUtc.getTime() < 253402300799000)
    out.expiresAtUtc = m.expiresAtUtc.getTime();
  if (locked && m.lockToken !== undefined) out.lockToken = m.lockToken;
  if (locked && m.lockedUntilUtc !== undefined) out.lockedUntilUtc = m.lockedUntilUtc.getTime();
  if (m.deadLetterReason !== undefined) out.deadLetterReason = m.deadLetterReason;
  if (m.deadLetterErrorDescription !== undefined)
    out.deadLetterErrorDescription = m.deadLetterErrorDescription;
  if (m.deadLetterSource !== undefined) out.deadLetterSource = m.deadLetterSource;
  return out;
}
