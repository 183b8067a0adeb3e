import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { InvocationOutcome, InvocationRequest } from '../worker/invoker';
import { toServiceBusBrokerError } from './errors';
import type { BrokeredMessage, BrokerPort, BrokerReceiver, ReceiveSource } from './port';
import { sourcePath } from './port';
import type { TriggerHostOptions } from './settings';
import { triggerDataFor, triggerMetadataFor } from './triggerData';

/** First wait before receiving again after the host refused an invocation; doubles up to the maximum. */
const REFUSAL_BACKOFF_MS = 250;
const MAX_REFUSAL_BACKOFF_MS = 5_000;

export interface TriggerListenerOptions {
  functionName: string;
  source: ReceiveSource;
  sessions: boolean;
  many: boolean;
  /** The binding's own setting, else host.json's, else true. */
  autoCompleteMessages: boolean;
  binary: boolean;
  host: TriggerHostOptions;
  /** How long one receive (or session accept) call waits before it loops; shorter means a faster stop on Azure. */
  receiveWaitMs: number;
  /** Session idle wait; 0 lets a session go as soon as it has nothing available. */
  sessionIdleMs: number;
}

/**
 * Runs one Service Bus-triggered function the way the Functions Service Bus extension does:
 * peek-lock receive, one invocation per message (or per batch for `cardinality: many`), lock
 * renewal while the handler runs, complete on success and abandon on failure when
 * `autoCompleteMessages` is on (neither when it is off: the lock lapses and the message returns,
 * as on Azure for a Node app that does not settle through SDK bindings). Session-enabled
 * functions hold up to `maxConcurrentSessions` sessions, each processed one message at a time in
 * order; other functions run up to `maxConcurrentCalls` invocations at once.
 *
 * The same code drives both broker adapters; only the port differs.
 */
export class TriggerListener {
  readonly #inflight = new Set<Promise<void>>();
  readonly #receivers = new Set<BrokerReceiver>();
  readonly #loops: Promise<void>[] = [];
  #running = false;
  #stopping = new AbortController();
  #stopped: Promise<void> | undefined;
  #slotFreed: (() => void) | undefined;
  /** Set after the host refused an invocation: receiving waits this long (ms, doubling), reset by a run. */
  #refusalBackoff = 0;

  constructor(
    private readonly port: BrokerPort,
    private readonly options: TriggerListenerOptions,
    private readonly invoke: (request: InvocationRequest) => Promise<InvocationOutcome>,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  get category(): string {
    return `Host.ServiceBus.${this.options.functionName}`;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopped = undefined;
    this.#stopping = new AbortController();
    if (this.options.sessions) {
      for (let i = 0; i < this.options.host.maxConcurrentSessions; i++) this.#loops.push(this.#sessionLoop());
    } else {
      this.#loops.push(this.#pump());
    }
  }

  /** Stops receiving, lets running invocations finish and settle, then closes the receivers. */
  stop(): Promise<void> {
    if (!this.#running) return this.#stopped ?? Promise.resolve();
    this.#stopped = this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#running = false;
    this.#stopping.abort();
    this.#slotFreed?.();
    // Settle what is running through the receivers that locked it, then close them (which also
    // ends receives still waiting).
    await Promise.allSettled([...this.#inflight]);
    for (const receiver of [...this.#receivers]) await receiver.close();
    await Promise.allSettled(this.#loops);
  }

  async #pump(): Promise<void> {
    const { host, many } = this.options;
    let receiver: BrokerReceiver | undefined;
    while (this.#running) {
      try {
        await this.#waitOutRefusal();
        if (!this.#running) break;
        receiver ??= this.#track(this.port.createReceiver(this.options.source));
        const free = host.maxConcurrentCalls - this.#inflight.size;
        if (free <= 0) {
          await new Promise<void>((resolve) => (this.#slotFreed = resolve));
          continue;
        }
        const messages = await receiver.receive(
          many ? host.maxMessageBatchSize : free,
          this.options.receiveWaitMs,
        );
        if (!this.#running) {
          // Received while stopping: give them straight back, uncounted, rather than leave them locked.
          for (const message of messages) await receiver.release(message).catch(() => undefined);
          break;
        }
        const batches = many ? (messages.length > 0 ? [messages] : []) : messages.map((m) => [m]);
        for (const batch of batches) {
          const work = this.#process(receiver, batch).finally(() => {
            this.#inflight.delete(work);
            const wake = this.#slotFreed;
            this.#slotFreed = undefined;
            wake?.();
          });
          this.#inflight.add(work);
          // With cardinality many, one batch at a time per function, as the extension does.
          if (many) await work;
        }
      } catch (err) {
        await this.#backoff(err, 'receive');
        if (receiver) {
          await receiver.close();
          this.#receivers.delete(receiver);
          receiver = undefined;
        }
      }
    }
  }

  async #sessionLoop(): Promise<void> {
    const { host, many } = this.options;
    while (this.#running) {
      let session: BrokerReceiver | undefined;
      try {
        await this.#waitOutRefusal();
        if (!this.#running) break;
        session = await this.port.acceptNextSession(
          this.options.source,
          this.options.receiveWaitMs,
          this.#stopping.signal,
        );
        if (!session) continue;
        this.#track(session);
        while (this.#running) {
          const messages = await session.receive(
            many ? host.maxMessageBatchSize : 1,
            this.options.sessionIdleMs,
          );
          if (messages.length === 0 || !this.#running || this.#refusalBackoff > 0) break;
          const work = this.#process(session, messages);
          this.#inflight.add(work);
          try {
            await work;
          } finally {
            this.#inflight.delete(work);
          }
        }
      } catch (err) {
        await this.#backoff(err, 'session receive');
      } finally {
        if (session) {
          this.#receivers.delete(session);
          await session.close();
        }
      }
    }
  }

  async #process(receiver: BrokerReceiver, messages: BrokeredMessage[]): Promise<void> {
    const { functionName, many, binary, autoCompleteMessages } = this.options;
    const stopRenewal = this.#renewLocks(receiver, messages);
    let outcome: InvocationOutcome | undefined;
    try {
      outcome = await this.invoke({
        functionName,
        triggerData: triggerDataFor(messages, many, binary),
        triggerMetadata: triggerMetadataFor(messages, many),
      });
    } catch (err) {
      // The host refused (stopping, function disabled): no function saw the messages, so they go
      // back without counting as a delivery, and receiving backs off instead of spinning on them.
      this.#refusalBackoff = Math.min(
        Math.max(this.#refusalBackoff * 2, REFUSAL_BACKOFF_MS),
        MAX_REFUSAL_BACKOFF_MS,
      );
      this.logger.warn(
        this.category,
        `Not invoked, given back for later (receiving again in ${this.#refusalBackoff} ms): ${(err as Error).message}`,
      );
      for (const message of messages) {
        await receiver.release(message).catch((e: unknown) => {
          const error = toServiceBusBrokerError(e);
          this.logger.warn(
            this.category,
            `Could not give back message ${message.messageId} (${error.code}).`,
          );
        });
      }
      return;
    } finally {
      stopRenewal();
    }
    this.#refusalBackoff = 0;
    if (!autoCompleteMessages) return;
    const succeeded = outcome !== undefined && outcome.error === undefined;
    for (const message of messages) {
      try {
        if (succeeded) await receiver.complete(message);
        else await receiver.abandon(message);
      } catch (err) {
        const error = toServiceBusBrokerError(err);
        this.logger.warn(
          this.category,
          `Could not ${succeeded ? 'complete' : 'abandon'} message ${message.messageId} (${error.code}): ${error.message}`,
        );
      }
    }
  }

  /** Renews the locks at half their remaining time, up to maxAutoLockRenewalDuration. */
  #renewLocks(receiver: BrokerReceiver, messages: BrokeredMessage[]): () => void {
    const until = this.clock.now() + this.options.host.maxAutoLockRenewalDurationMs;
    const cancels = new Map<BrokeredMessage, () => void>();
    let stopped = false;
    // A session receiver's lock covers all its messages: renew through the first one only.
    const targets = receiver.sessionId !== undefined ? messages.slice(0, 1) : messages;
    const arm = (message: BrokeredMessage, lockedUntil: number | undefined) => {
      if (stopped || lockedUntil === undefined) return;
      const now = this.clock.now();
      const at = now + Math.max(10, Math.floor((lockedUntil - now) / 2));
      if (at >= until) return;
      cancels.set(
        message,
        this.clock.schedule(at, () => {
          if (stopped) return;
          receiver.renewLock(message).then(
            (next) => arm(message, next),
            (err: unknown) => {
              if (!stopped) {
                const error = toServiceBusBrokerError(err);
                this.logger.warn(
                  this.category,
                  `Lock renewal for ${message.messageId} failed (${error.code}).`,
                );
              }
            },
          );
        }),
      );
    };
    for (const message of targets) arm(message, message.lockedUntilUtc);
    return () => {
      stopped = true;
      for (const cancel of cancels.values()) cancel();
    };
  }

  /** After a refusal, waits out the back-off (or until stopped) before receiving again. */
  async #waitOutRefusal(): Promise<void> {
    if (this.#refusalBackoff === 0 || !this.#running) return;
    const signal = this.#stopping.signal;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#refusalBackoff);
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }

  #track(receiver: BrokerReceiver): BrokerReceiver {
    this.#receivers.add(receiver);
    return receiver;
  }

  async #backoff(err: unknown, what: string): Promise<void> {
    if (!this.#running) return;
    const error = toServiceBusBrokerError(err);
    this.logger.error(
      this.category,
      `Service Bus ${what} on ${sourcePath(this.options.source)} failed (${error.code}${error.retryable ? ', retrying' : ''}): ${error.message}`,
    );
    await new Promise((resolve) => setTimeout(resolve, error.retryable ? 250 : 2000).unref());
  }
}
