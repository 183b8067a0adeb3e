import type { QueueClient } from '@azure/storage-queue';
import { FunctionDisabledError, HostShuttingDownError } from '../worker/invoker';
import { describeStorageError } from './errors';

/** host.json `extensions.queues`, with the storage extension's defaults. */
export interface QueuesOptions {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  /** Delay before a failed message becomes visible again (retry delay). */
  visibilityTimeoutMs: number;
  maxDequeueCount: number;
  messageEncoding: 'base64' | 'none';
}

/** Shortest interval between polls of an empty queue, as in the storage extension. */
export const MIN_POLLING_INTERVAL_MS = 100;
/** How long a message the host refused to process stays invisible before it is tried again. */
export const REFUSED_RETRY_SECONDS = 5;
/** How long a message stays invisible while its function runs; renewed at half time. */
export const PROCESSING_VISIBILITY_SECONDS = 600;
/**
 * Azure's default maxPollingInterval is one minute. devhost polls an idle queue at most every two
 * seconds unless host.json says otherwise, so a message sent from a terminal is picked up quickly.
 */
export const DEVHOST_DEFAULT_MAX_POLLING_MS = 2000;

export function queuesOptionsFrom(hostJson: Record<string, unknown>): QueuesOptions {
  const extensions = (hostJson.extensions ?? {}) as Record<string, unknown>;
  const q = findKey(extensions, 'queues') as Record<string, unknown> | undefined;
  const get = (name: string) => (q ? findKey(q, name) : undefined);
  const int = (name: string, fallback: number, min: number, max: number) => {
    const v = get(name);
    if (v === undefined || v === null) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(
        `host.json extensions.queues.${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}.`,
      );
    }
    return n;
  };
  const batchSize = int('batchSize', 16, 1, 32);
  const rawEncoding = get('messageEncoding') ?? 'base64';
  const encoding = (
    typeof rawEncoding === 'string' ? rawEncoding : JSON.stringify(rawEncoding)
  ).toLowerCase();
  if (encoding !== 'base64' && encoding !== 'none') {
    throw new Error(
      `host.json extensions.queues.messageEncoding must be "base64" or "none", got "${encoding}".`,
    );
  }
  const maxPolling = get('maxPollingInterval');
  const visibility = get('visibilityTimeout');
  return {
    batchSize,
    newBatchThreshold: int('newBatchThreshold', Math.floor(batchSize / 2), 0, 1000),
    maxPollingIntervalMs: Math.max(
      MIN_POLLING_INTERVAL_MS,
      maxPolling === undefined
        ? DEVHOST_DEFAULT_MAX_POLLING_MS
        : parseDuration(maxPolling, 'maxPollingInterval'),
    ),
    visibilityTimeoutMs: visibility === undefined ? 0 : parseDuration(visibility, 'visibilityTimeout'),
    maxDequeueCount: int('maxDequeueCount', 5, 1, 1_000_000),
    messageEncoding: encoding,
  };
}

function findKey(record: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : record[key];
}

/** A .NET TimeSpan (`[d.]hh:mm:ss[.fff]`) or a number of milliseconds, as host.json accepts. */
export function parseDuration(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const m = /^\s*(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?\s*$/.exec(value);
    if (m) {
      const [, d, h, min, s, frac] = m;
      return (
        ((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(min)) * 60_000 +
        Number(s) * 1000 +
        (frac ? Math.round(Number(`0.${frac}`) * 1000) : 0)
      );
    }
  }
  throw new Error(
    `host.json extensions.queues.${name} must be a TimeSpan such as "00:00:02", got ${JSON.stringify(value)}.`,
  );
}

/** The poison queue of a queue, or undefined when the name cannot take the suffix (as in Azure). */
export function poisonQueueName(queueName: string): string | undefined {
  if (queueName.endsWith('-poison')) return undefined;
  const name = `${queueName}-poison`;
  return name.length > 63 ? undefined : name;
}

export interface ReceivedQueueMessage {
  messageId: string;
  popReceipt: string;
  dequeueCount: number;
  insertedOn: Date;
  expiresOn: Date;
  nextVisibleOn: Date;
  /** The message text as stored (still base64 when the app uses that encoding). */
  messageText: string;
}

/** Returns true when the message was processed and may be deleted. */
export type QueueMessageHandler = (message: ReceivedQueueMessage) => Promise<boolean>;

export interface QueueListenerLog {
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/**
 * Polls one queue as the storage extension's QueueListener does: batches of `batchSize`, a new
 * batch once no more than `newBatchThreshold` are in flight, exponential back-off from 100 ms to
 * maxPollingInterval while the queue is empty (reset by notify() when devhost itself writes to
 * it), messages invisible while their function runs, deleted on success, made visible again
 * after `visibilityTimeout` on failure, and moved to the poison queue once they failed
 * maxDequeueCount times (or arrive with a higher dequeue count).
 */
export class QueueListener {
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #delay = MIN_POLLING_INTERVAL_MS;
  readonly #inflight = new Set<Promise<void>>();
  #lastError = '';

  constructor(
    readonly queue: QueueClient,
    private readonly poisonQueue: QueueClient | undefined,
    private readonly options: QueuesOptions,
    private readonly handle: QueueMessageHandler,
    private readonly log: QueueListenerLog,
  ) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Something was just added to the queue: poll now instead of waiting out the back-off. */
  notify(): void {
    this.#delay = MIN_POLLING_INTERVAL_MS;
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    await Promise.allSettled([...this.#inflight]);
  }

  async #run(): Promise<void> {
    while (this.#running) {
      if (this.#inflight.size > this.options.newBatchThreshold) {
        await this.#sleep(this.options.maxPollingIntervalMs);
        continue;
      }
      let received = 0;
      try {
        const response = await this.queue.receiveMessages({
          numberOfMessages: this.options.batchSize,
          visibilityTimeout: PROCESSING_VISIBILITY_SECONDS,
        });
        this.#lastError = '';
        for (const item of response.receivedMessageItems) {
          received++;
          const message: ReceivedQueueMessage = {
            messageId: item.messageId,
            popReceipt: item.popReceipt,
            dequeueCount: item.dequeueCount,
            insertedOn: item.insertedOn,
            expiresOn: item.expiresOn,
            nextVisibleOn: item.nextVisibleOn,
            messageText: item.messageText,
          };
          const work = this.#process(message).finally(() => {
            this.#inflight.delete(work);
            this.#wake?.();
          });
          this.#inflight.add(work);
        }
      } catch (err) {
        // A queue nobody created yet is simply empty; anything else is logged once per distinct error.
        if (statusOf(err) !== 404) {
          const text = describeStorageError(err);
          if (text !== this.#lastError) this.log.warn(`Polling queue '${this.queue.name}' failed: ${text}`);
          this.#lastError = text;
        }
      }
      if (!this.#running) break;
      if (received > 0) {
        this.#delay = MIN_POLLING_INTERVAL_MS;
        continue;
      }
      await this.#sleep(this.#delay);
      this.#delay = Math.min(this.#delay * 2, this.options.maxPollingIntervalMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #process(message: ReceivedQueueMessage): Promise<void> {
    if (this.poisonQueue && message.dequeueCount > this.options.maxDequeueCount) {
      await this.#toPoison(message);
      return;
    }
    const renew = setInterval(
      () => {
        this.queue
          .updateMessage(message.messageId, message.popReceipt, undefined, PROCESSING_VISIBILITY_SECONDS)
          .then((r) => {
            if (r.popReceipt) message.popReceipt = r.popReceipt;
          })
          .catch((err: Error) =>
            this.log.warn(`Renewing message ${message.messageId} failed: ${err.message}`),
          );
      },
      (PROCESSING_VISIBILITY_SECONDS * 1000) / 2,
    );
    renew.unref();
    let succeeded = false;
    let refused = false;
    try {
      succeeded = await this.handle(message);
    } catch (err) {
      // The host refused to invoke (stopping, function disabled): not the function's failure.
      refused = err instanceof HostShuttingDownError || err instanceof FunctionDisabledError;
      if (refused) {
        this.log.warn(
          `Message ${message.messageId} was not processed (visible again in ${REFUSED_RETRY_SECONDS} s): ${(err as Error).message}`,
        );
      } else {
        this.log.error(`Processing message ${message.messageId} failed: ${describeStorageError(err)}`);
      }
    } finally {
      clearInterval(renew);
    }
    try {
      if (succeeded) {
        await this.#delete(message);
      } else if (refused) {
        // Not the function's failure: no poison queue, and a pause instead of an immediate retry.
        await this.queue.updateMessage(
          message.messageId,
          message.popReceipt,
          undefined,
          REFUSED_RETRY_SECONDS,
        );
      } else if (this.poisonQueue) {
        if (message.dequeueCount >= this.options.maxDequeueCount) {
          await this.#toPoison(message);
        } else {
          await this.queue.updateMessage(
            message.messageId,
            message.popReceipt,
            undefined,
            Math.round(this.options.visibilityTimeoutMs / 1000),
          );
        }
      }
      // Without a poison queue a failed message stays invisible, so it cannot loop fast (as in Azure).
    } catch (err) {
      const status = statusOf(err);
      if (status !== 404 && status !== 400) {
        this.log.warn(`Completing message ${message.messageId} failed: ${describeStorageError(err)}`);
      }
    }
  }

  async #toPoison(message: ReceivedQueueMessage): Promise<void> {
    const poison = this.poisonQueue!;
    this.log.warn(
      `Message has reached MaxDequeueCount of ${this.options.maxDequeueCount}. Moving message to queue '${poison.name}'.`,
    );
    await poison.createIfNotExists();
    await poison.sendMessage(message.messageText);
    await this.#delete(message);
  }

  async #delete(message: ReceivedQueueMessage): Promise<void> {
    try {
      await this.queue.deleteMessage(message.messageId, message.popReceipt);
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 || status === 400) {
        this.log.debug(`Message ${message.messageId} was already gone or taken over (${status}).`);
        return;
      }
      throw err;
    }
  }
}

export function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
